"""Reference solution of exercise 06 (kept out of the student's workspace)."""

from socket import *

HOST = 'ss-server'
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)

while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    tcpCliSock = socket(AF_INET, SOCK_STREAM)       # a new connection for every line
    try:
        tcpCliSock.connect(ADDR)
    except OSError as exc:
        print('cannot connect to %s:%d: %s' % (HOST, PORT, exc))
        break
    with tcpCliSock:
        tcpCliSock.sendall(b'%s\r\n' % data.encode())
        reply = tcpCliSock.makefile('rb').readline()    # the whole reply line
    print(reply.decode().strip())
