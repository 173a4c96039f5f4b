# fails: each_sender_answered, utf8_message
# Thinks in TCP connections: takes the address from the first datagram only, answers everyone there.
from socket import *
from time import ctime

udpSerSock = socket(AF_INET, SOCK_DGRAM)
udpSerSock.bind(('', 8888))

data, addr = udpSerSock.recvfrom(1024)      # "the client"
while True:
    udpSerSock.sendto(b'[%s] %s' % (ctime().encode(), data), addr)
    data = udpSerSock.recv(1024)
