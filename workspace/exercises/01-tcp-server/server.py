#!/usr/bin/env python3
"""练习 01 / Exercise 01: TCP 时间戳服务器 / the TCP timestamp server (1.3.3).

把每条消息原样加上时间戳发回: [ctime] data
Answer every message with [ctime] data.   Check it: lab-check 01
"""

from socket import *
from time import ctime

HOST = ''           # 所有接口 / all interfaces
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)

tcpSerSock = socket(AF_INET, SOCK_STREAM)
tcpSerSock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
tcpSerSock.bind(ADDR)
tcpSerSock.listen(5)

while True:
    print('waiting for connection...')
    tcpCliSock, addr = tcpSerSock.accept()
    print('...connected from:', addr)
    # TODO 1: 循环接收 (recv) 客户端的数据, 直到客户端关闭连接 (recv 返回 b'')
    #         keep receiving until the client closes the connection (recv returns b'')
    # TODO 2: 发回 [ctime] data —— 注意 send() 需要 bytes, 不是 str
    #         send back [ctime] data -- send() takes bytes, not str
    # TODO 3: 客户端突然断开 (ConnectionResetError) 时不要让服务器崩溃
    #         a client that vanishes (ConnectionResetError) must not stop the server
    tcpCliSock.close()
