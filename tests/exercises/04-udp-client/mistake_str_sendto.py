# fails: replies_printed, end_of_input
# The chapter's Python 2 line: sendto() gets a str, not bytes (TypeError).
from socket import *

ADDR = ('udp-server', 8888)
udpCliSock = socket(AF_INET, SOCK_DGRAM)
udpCliSock.settimeout(2)

while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    udpCliSock.sendto(data, ADDR)
    data, ADDR = udpCliSock.recvfrom(1024)
    print(data.decode())
udpCliSock.close()
