"""Reference solution of exercise 01 (kept out of the student's workspace)."""

from socket import *
from time import ctime

HOST = ''
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)

tcpSerSock = socket(AF_INET, SOCK_STREAM)
tcpSerSock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
tcpSerSock.bind(ADDR)
tcpSerSock.listen(5)

while True:
    print('waiting for connection...')
    tcpCliSock, addr = tcpSerSock.accept()
    print('...connected from:', addr)
    with tcpCliSock:
        try:
            while True:
                data = tcpCliSock.recv(BUFSIZ)
                if not data:
                    break
                tcpCliSock.sendall(b'[%s] %s' % (ctime().encode(), data))
        except OSError as exc:
            print('client went away:', exc)
