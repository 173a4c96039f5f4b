# fails: refused
# passes: replies_printed, end_of_input, reply_in_pieces
# connect() not guarded: a refused connection ends in a ConnectionRefusedError traceback.
from socket import *

tcpCliSock = socket(AF_INET, SOCK_STREAM)
tcpCliSock.connect(('tcp-server', 8888))

while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    data = data.encode()
    tcpCliSock.sendall(data)
    reply = b''
    while len(reply) < 27 + len(data):
        chunk = tcpCliSock.recv(1024)
        if not chunk:
            break
        reply += chunk
    print(reply.decode())
tcpCliSock.close()
