# fails: second_client
# passes: several_messages, utf8_message
# Serves one client, then exits: accept() is not in a loop.
from socket import *
from time import ctime

tcpSerSock = socket(AF_INET, SOCK_STREAM)
tcpSerSock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
tcpSerSock.bind(('', 8888))
tcpSerSock.listen(5)

tcpCliSock, addr = tcpSerSock.accept()
while True:
    data = tcpCliSock.recv(1024)
    if not data:
        break
    tcpCliSock.sendall(b'[%s] %s' % (ctime().encode(), data))
tcpCliSock.close()
tcpSerSock.close()
