#!/usr/bin/env python3
"""练习 03 / Exercise 03: UDP 时间戳服务器 / the UDP timestamp server (1.3.5).

把每个数据报加上时间戳发回给发送它的客户端: [ctime] data
Answer every datagram with [ctime] data, sent back to the client that sent it.
Check it: lab-check 03
"""

from socket import *
from time import ctime

HOST = ''           # 所有接口 / all interfaces
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)

udpSerSock = socket(AF_INET, SOCK_DGRAM)
udpSerSock.bind(ADDR)

while True:
    print('waiting for message...')
    data, addr = udpSerSock.recvfrom(BUFSIZ)
    # TODO 1: 用 sendto() 把 [ctime] data 发回给 addr (这个数据报的发送者) —— 注意要发 bytes
    #         send [ctime] data back with sendto() to addr (who sent this datagram) -- as bytes
    # TODO 2: 空数据报也是数据报: 不要因为它结束服务器
    #         an empty datagram is a datagram too: it must not end the server
    print('...received from:', addr)
