# fails: one_connection_per_line
# One connection for all lines, like the TCP client: the server answers one line, then closes.
from socket import *

tcpCliSock = socket(AF_INET, SOCK_STREAM)
tcpCliSock.connect(('ss-server', 8888))
while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    tcpCliSock.sendall(b'%s\r\n' % data.encode())
    data = tcpCliSock.makefile('rb').readline()
    if not data:
        break
    print(data.decode().strip())
tcpCliSock.close()
