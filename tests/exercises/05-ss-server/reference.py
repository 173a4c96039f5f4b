"""Reference solution of exercise 05 (kept out of the student's workspace)."""

from socketserver import TCPServer as TCP, StreamRequestHandler as SRH
from time import ctime

HOST = ''
PORT = 8888
ADDR = (HOST, PORT)


class MyRequestHandler(SRH):
    timeout = 10            # a client that says nothing is dropped after 10 s

    def handle(self):
        print('...connected from:', self.client_address)
        line = self.rfile.readline()
        self.wfile.write(b'[%s] %s' % (ctime().encode(), line))


TCP.allow_reuse_address = True
tcpServ = TCP(ADDR, MyRequestHandler)
print('waiting for connection...')
tcpServ.serve_forever()
