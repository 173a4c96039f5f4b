# fails: reply_in_pieces
# passes: replies_printed, end_of_input, missing_socket_file
# One recv() taken for the whole reply: a reply in two pieces is printed cut.
from socket import *

sock = socket(AF_UNIX, SOCK_STREAM)
try:
    sock.connect('/run/socklab/timestamp.sock')
except OSError as exc:
    raise SystemExit('cannot connect: %s' % exc)
while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    sock.send(data.encode())
    data = sock.recv(1024)
    if not data:
        break
    print(data.decode())
sock.close()
