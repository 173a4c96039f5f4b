# fails: replies_printed, one_connection_per_line
# The message sent without '\r\n': the server's readline() waits for the rest of the line.
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
    tcpCliSock.send(data.encode())
    data = tcpCliSock.recv(1024)
    tcpCliSock.close()
    if not data:
        break
    print(data.decode().strip())
