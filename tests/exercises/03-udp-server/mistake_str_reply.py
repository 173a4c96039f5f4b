# fails: each_sender_answered, utf8_message
# The chapter's '%s %s' % (ctime(), data) on bytes, then encode(): the reply holds b'...'.
from socket import *
from time import ctime

udpSerSock = socket(AF_INET, SOCK_DGRAM)
udpSerSock.bind(('', 8888))

while True:
    data, addr = udpSerSock.recvfrom(1024)
    udpSerSock.sendto(('[%s] %s' % (ctime(), data)).encode(), addr)
