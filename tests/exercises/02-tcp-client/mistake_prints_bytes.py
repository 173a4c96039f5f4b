# fails: replies_printed, end_of_input
# print(data) of the reply as it came: b'[...] hello' instead of the text.
from socket import *

tcpCliSock = socket(AF_INET, SOCK_STREAM)
try:
    tcpCliSock.connect(('tcp-server', 8888))
except OSError as exc:
    raise SystemExit('cannot connect: %s' % exc)

while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    tcpCliSock.send(data.encode())
    data = tcpCliSock.recv(1024)
    if not data:
        break
    print(data)
tcpCliSock.close()
