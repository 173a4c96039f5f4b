# fails: one_line_per_connection, many_connections
# The chapter's Python 2 line: wfile.write() gets a str, not bytes (TypeError in every handler).
from socketserver import TCPServer as TCP, StreamRequestHandler as SRH
from time import ctime


class MyRequestHandler(SRH):
    def handle(self):
        print('...connected from:', self.client_address)
        self.wfile.write('[%s] %s' % (ctime(), self.rfile.readline()))


TCP.allow_reuse_address = True
TCP(('', 8888), MyRequestHandler).serve_forever()
