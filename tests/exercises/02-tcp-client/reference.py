"""Reference solution of exercise 02 (kept out of the student's workspace)."""

from socket import *

HOST = 'tcp-server'
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)
STAMP = len('[Thu Sep  1 15:35:45 2016] ')     # 27 bytes before the message in every reply

tcpCliSock = socket(AF_INET, SOCK_STREAM)
try:
    tcpCliSock.connect(ADDR)
except OSError as exc:
    raise SystemExit('cannot connect to %s:%d: %s' % (HOST, PORT, exc))

with tcpCliSock:
    while True:
        try:
            data = input('> ')
        except EOFError:
            break
        if not data:
            break
        data = data.encode()
        tcpCliSock.sendall(data)
        reply = b''
        while len(reply) < STAMP + len(data):
            chunk = tcpCliSock.recv(BUFSIZ)
            if not chunk:
                break
            reply += chunk
        if not reply:
            print('the server closed the connection')
            break
        print(reply.decode())
