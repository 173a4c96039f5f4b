"""Reference solution of exercise 07 (kept out of the student's workspace)."""

from socket import *

PATH = '/run/socklab/timestamp.sock'    # the socket file of the lab's unix-server
BUFSIZ = 1024
STAMP = len('[Thu Sep  1 15:35:45 2016] ')

sock = socket(AF_UNIX, SOCK_STREAM)
try:
    sock.connect(PATH)
except OSError as exc:
    raise SystemExit('cannot connect to %s: %s' % (PATH, exc))

with sock:
    while True:
        try:
            data = input('> ')
        except EOFError:
            break
        if not data:
            break
        data = data.encode()
        sock.sendall(data)
        reply = b''
        while len(reply) < STAMP + len(data):
            chunk = sock.recv(BUFSIZ)
            if not chunk:
                break
            reply += chunk
        if not reply:
            print('the server closed the connection')
            break
        print(reply.decode())
