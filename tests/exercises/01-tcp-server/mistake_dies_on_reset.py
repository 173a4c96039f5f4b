# fails: client_vanishes
# passes: several_messages, utf8_message, second_client
# The chapter's loop with no care for a client that vanishes: ConnectionResetError ends it.
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
        tcpCliSock.sendall(b'[%s] %s' % (ctime().encode(), data))
    tcpCliSock.close()
