#!/usr/bin/env python3
"""练习 05 / Exercise 05: socketserver 时间戳服务器 / the socketserver timestamp server (1.4).

每个连接读一行, 回复 [ctime] line, 然后结束这个连接。
Read one line per connection, answer [ctime] line, and end that connection.
Check it: lab-check 05
"""

from socketserver import TCPServer as TCP, StreamRequestHandler as SRH
from time import ctime

HOST = ''           # 所有接口 / all interfaces
PORT = 8888
ADDR = (HOST, PORT)


class MyRequestHandler(SRH):
    def handle(self):
        print('...connected from:', self.client_address)
        # TODO: 用 self.rfile.readline() 读一整行 (一次 recv() 可能只收到半行),
        #       用 self.wfile.write() 写回 [ctime] line —— 注意 write() 需要 bytes
        #       read a whole line with self.rfile.readline() (one recv() may get half a line),
        #       write back [ctime] line with self.wfile.write() -- write() takes bytes


TCP.allow_reuse_address = True      # 重启后可以立即再绑定 8888 / rebind 8888 at once after a restart
tcpServ = TCP(ADDR, MyRequestHandler)
print('waiting for connection...')
tcpServ.serve_forever()
