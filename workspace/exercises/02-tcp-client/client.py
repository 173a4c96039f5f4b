#!/usr/bin/env python3
"""练习 02 / Exercise 02: TCP 时间戳客户端 / the TCP timestamp client (1.3.4).

把输入的每一行发给 tcp-server, 打印它的回复 [ctime] data; 空行结束。
Send every line typed to tcp-server and print its reply [ctime] data; a blank line ends.
Check it: lab-check 02
"""

from socket import *

HOST = 'tcp-server'     # 实验环境的 TCP 时间戳服务器 / the lab's TCP timestamp server
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)

tcpCliSock = socket(AF_INET, SOCK_STREAM)
# TODO 1: 连接 (connect) 服务器; 连接失败 (ConnectionRefusedError 等 OSError) 时只打印一行说明,
#         然后退出, 不要出现 traceback
#         connect() to the server; if that fails (ConnectionRefusedError, an OSError) print one
#         line saying so and end, without a traceback

while True:
    # TODO 2: 输入结束时 input() 抛出 EOFError: 像空行一样结束
    #         at the end of the input, input() raises EOFError: end as for a blank line
    data = input('> ')
    if not data:
        break
    # TODO 3: 发送这一行 (send() 需要 bytes: data.encode()), 接收回复 [ctime] data 并打印 (decode())。
    #         回复可能分几块到达: 一直 recv(), 直到收全 27 + len(data) 个字节
    #         send the line (send() takes bytes: data.encode()), receive the reply [ctime] data and
    #         print it (decode()). The reply may come in pieces: recv() until you have all
    #         27 + len(data) bytes of it
tcpCliSock.close()
