"""Reference solution of exercise 04 (kept out of the student's workspace)."""

from socket import *

HOST = 'udp-server'
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)
TIMEOUT = 2         # seconds to wait for a reply

udpCliSock = socket(AF_INET, SOCK_DGRAM)
udpCliSock.settimeout(TIMEOUT)

while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    try:
        udpCliSock.sendto(data.encode(), ADDR)
        reply, addr = udpCliSock.recvfrom(BUFSIZ)
    except timeout:
        print('no reply within %d s: the datagram or its reply was lost' % TIMEOUT)
        continue
    except OSError as exc:
        print('cannot reach %s:%d: %s' % (HOST, PORT, exc))
        break
    print(reply.decode())
udpCliSock.close()
