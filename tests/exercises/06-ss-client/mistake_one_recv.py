# fails: reply_in_pieces
# passes: replies_printed, end_of_input, one_connection_per_line
# One recv() taken for the whole reply: a reply in two pieces is printed cut.
from socket import *

while True:
    try:
        data = input('> ')
    except EOFError:
        break
    if not data:
        break
    tcpCliSock = socket(AF_INET, SOCK_STREAM)
    tcpCliSock.connect(('ss-server', 8888))
    tcpCliSock.send(b'%s\r\n' % data.encode())
    data = tcpCliSock.recv(1024)
    tcpCliSock.close()
    if not data:
        break
    print(data.decode().strip())
