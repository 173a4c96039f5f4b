# fails: one_line_per_connection, many_connections, line_in_pieces
# rfile.read() instead of readline(): waits for the end of the connection, not of the line.
from socketserver import TCPServer as TCP, StreamRequestHandler as SRH
from time import ctime


class MyRequestHandler(SRH):
    timeout = 10

    def handle(self):
        data = self.rfile.read()
        self.wfile.write(b'[%s] %s' % (ctime().encode(), data))


TCP.allow_reuse_address = True
TCP(('', 8888), MyRequestHandler).serve_forever()
