#!/usr/bin/env python3
"""练习 06 / Exercise 06: socketserver 时间戳客户端 / the socketserver timestamp client (1.4).

每输入一行: 新建一个到 ss-server 的连接, 发送这一行 (以 \\r\\n 结尾), 打印回复; 空行结束。
For every line typed: a new connection to ss-server, send the line (ending with \\r\\n), print
the reply; a blank line ends.   Check it: lab-check 06
"""

from socket import *

HOST = 'ss-server'      # 实验环境的 socketserver 时间戳服务器 / the lab's socketserver timestamp server
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)

while True:
    # TODO 1: 输入结束时 input() 抛出 EOFError: 像空行一样结束
    #         at the end of the input, input() raises EOFError: end as for a blank line
    data = input('> ')
    if not data:
        break
    # TODO 2: 服务器每个连接只读一行: 每一行都新建套接字并 connect(), 发送 b'%s\r\n' % data.encode()
    #         the server reads one line per connection: a new socket and connect() for every
    #         line, then send b'%s\r\n' % data.encode()
    # TODO 3: 读取整行回复 (tcpCliSock.makefile('rb').readline()), 打印 (decode().strip()), 关闭套接字
    #         read the whole reply line (tcpCliSock.makefile('rb').readline()), print it
    #         (decode().strip()), close the socket
