# fails: replies_printed, end_of_input
# The chapter's Python 2 line, unchanged: send() gets a str, not bytes (TypeError).
from socket import *

tcpCliSock = socket(AF_INET, SOCK_STREAM)
tcpCliSock.connect(('tcp-server', 8888))

while True:
    data = input('> ')
    if not data:
        break
    tcpCliSock.send(data)
    data = tcpCliSock.recv(1024)
    if not data:
        break
    print(data)
tcpCliSock.close()
