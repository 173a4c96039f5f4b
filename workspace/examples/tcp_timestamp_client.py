"""Send each argument to tcp-server and print what comes back: [ctime] message."""

import socket
import sys

HOST, PORT, BUFSIZ = "tcp-server", 8888, 1024

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:   # a TCP socket
    s.connect((HOST, PORT))                                      # ask the server for a connection
    for message in sys.argv[1:] or ["hello"]:
        s.sendall(message.encode())                              # str -> bytes on the way out
        print(s.recv(BUFSIZ).decode())                           # bytes -> str on the way in
