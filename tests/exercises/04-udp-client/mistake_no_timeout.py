# fails: lost_datagrams
# passes: replies_printed, end_of_input
# No timeout: recvfrom() waits for ever for a reply that was lost.
from socket import *

ADDR = ('udp-server', 8888)
udpCliSock = socket(AF_INET, SOCK_DGRAM)

while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    udpCliSock.sendto(data.encode(), ADDR)
    data, addr = udpCliSock.recvfrom(1024)
    print(data.decode())
udpCliSock.close()
