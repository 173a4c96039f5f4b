# fails: missing_socket_file
# passes: replies_printed, end_of_input, reply_in_pieces
# connect() not guarded: a missing socket file ends in a FileNotFoundError traceback.
from socket import *

sock = socket(AF_UNIX, SOCK_STREAM)
sock.connect('/run/socklab/timestamp.sock')
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
    while len(reply) < 27 + len(data):
        chunk = sock.recv(1024)
        if not chunk:
            break
        reply += chunk
    print(reply.decode())
sock.close()
