# fails: empty_datagram
# passes: each_sender_answered, utf8_message
# The chapter's 'if not data: break' kept: one empty datagram ends the server for everyone.
from socket import *
from time import ctime

udpSerSock = socket(AF_INET, SOCK_DGRAM)
udpSerSock.bind(('', 8888))

while True:
    print('waiting for message...')
    data, addr = udpSerSock.recvfrom(1024)
    if not data:
        break
    udpSerSock.sendto(b'[%s] %s' % (ctime().encode(), data), addr)
    print('...received from and returned to:', addr)
udpSerSock.close()
