#!/usr/bin/env python3
"""练习 07 / Exercise 07: AF_UNIX 时间戳客户端 / the timestamp client over an AF_UNIX socket file (1.2).

通过套接字文件 /run/socklab/timestamp.sock 连接 unix-server, 把输入的每一行发给它, 打印回复
[ctime] data; 空行结束。
Connect to unix-server through the socket file /run/socklab/timestamp.sock, send it every
line typed and print its reply [ctime] data; a blank line ends.   Check it: lab-check 07
"""

from socket import *

PATH = '/run/socklab/timestamp.sock'    # 套接字文件, 不是 (主机, 端口) / a socket file, not (host, port)
BUFSIZ = 1024

# TODO 1: 创建基于文件的套接字 (AF_UNIX, SOCK_STREAM) 并 connect(PATH);
#         套接字文件不存在 (FileNotFoundError 等 OSError) 时只打印一行说明, 然后退出, 不要 traceback
#         create a file-based socket (AF_UNIX, SOCK_STREAM) and connect(PATH); if the socket file
#         is missing (FileNotFoundError, an OSError) print one line saying so and end, no traceback

while True:
    # TODO 2: 输入结束时 input() 抛出 EOFError: 像空行一样结束
    #         at the end of the input, input() raises EOFError: end as for a blank line
    data = input('> ')
    if not data:
        break
    # TODO 3: 发送这一行 (bytes), 接收回复并打印 (decode())。回复可能分几块到达:
    #         一直 recv(), 直到收全 27 + len(data) 个字节
    #         send the line (bytes), receive the reply and print it (decode()). The reply may come
    #         in pieces: recv() until you have all 27 + len(data) bytes of it
