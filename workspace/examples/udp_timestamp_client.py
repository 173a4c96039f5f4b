"""Send each argument to udp-server as one datagram; wait two seconds for each reply."""

import socket
import sys

ADDR, BUFSIZ = ("udp-server", 8888), 1024

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:    # no connection: just datagrams
    s.settimeout(2)                                             # UDP may lose a reply: never wait forever
    for message in sys.argv[1:] or ["hello"]:
        s.sendto(message.encode(), ADDR)
        try:
            data, server = s.recvfrom(BUFSIZ)
            print(data.decode())
        except socket.timeout:
            print("no reply: lost on the way?")
