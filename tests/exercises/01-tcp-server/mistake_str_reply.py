# fails: several_messages, utf8_message
# The chapter's Python 2 line, unchanged: a str where send() needs bytes (TypeError).
from socket import *
from time import ctime

tcpSerSock = socket(AF_INET, SOCK_STREAM)
tcpSerSock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
tcpSerSock.bind(('', 8888))
tcpSerSock.listen(5)

while True:
    tcpCliSock, addr = tcpSerSock.accept()
    while True:
        data = tcpCliSock.recv(1024)
        if not data:
            break
        tcpCliSock.send('[%s] %s' % (ctime(), data))
    tcpCliSock.close()
