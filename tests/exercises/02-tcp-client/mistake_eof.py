# fails: end_of_input
# passes: replies_printed
# input() at the end of the input raises EOFError, not caught: a traceback instead of an end.
from socket import *

tcpCliSock = socket(AF_INET, SOCK_STREAM)
try:
    tcpCliSock.connect(('tcp-server', 8888))
except OSError as exc:
    raise SystemExit('cannot connect: %s' % exc)

while True:
    data = input('> ')
    if not data:
        break
    data = data.encode()
    tcpCliSock.sendall(data)
    reply = b''
    while len(reply) < 27 + len(data):
        chunk = tcpCliSock.recv(1024)
        if not chunk:
            break
        reply += chunk
    print(reply.decode())
tcpCliSock.close()
