# fails: line_in_pieces
# passes: one_line_per_connection, many_connections
# BaseRequestHandler with one recv(): half a line is taken for the whole message.
from socketserver import TCPServer, BaseRequestHandler
from time import ctime


class MyRequestHandler(BaseRequestHandler):
    def handle(self):
        data = self.request.recv(1024)
        self.request.sendall(b'[%s] %s' % (ctime().encode(), data))


TCPServer.allow_reuse_address = True
TCPServer(('', 8888), MyRequestHandler).serve_forever()
