# fails: lost_datagrams
# passes: replies_printed, end_of_input
# settimeout() set, but the timeout is not caught: the first lost reply ends in a traceback.
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
    udpCliSock.sendto(data.encode(), ADDR)
    data, addr = udpCliSock.recvfrom(1024)
    print(data.decode())
udpCliSock.close()
