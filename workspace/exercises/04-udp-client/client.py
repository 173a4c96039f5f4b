#!/usr/bin/env python3
"""练习 04 / Exercise 04: 带超时的 UDP 时间戳客户端 / the UDP timestamp client with a timeout (1.3.6).

把输入的每一行作为一个数据报发给 udp-server, 打印回复; 回复丢失时说明一下并继续; 空行结束。
Send every line typed as a datagram to udp-server and print the reply; say so when a reply is
lost and go on; a blank line ends.   Check it: lab-check 04
"""

from socket import *

HOST = 'udp-server'     # 实验环境的 UDP 时间戳服务器 / the lab's UDP timestamp server
PORT = 8888
BUFSIZ = 1024
ADDR = (HOST, PORT)
TIMEOUT = 2             # 等待回复的秒数 / seconds to wait for a reply

udpCliSock = socket(AF_INET, SOCK_DGRAM)
# TODO 1: 设置超时 (settimeout), 否则丢失的回复会让 recvfrom() 永远等下去
#         set a timeout (settimeout), or a lost reply makes recvfrom() wait for ever

while True:
    # TODO 2: 输入结束时 input() 抛出 EOFError: 像空行一样结束
    #         at the end of the input, input() raises EOFError: end as for a blank line
    data = input('> ')
    if not data:
        break
    # TODO 3: sendto() 发送这一行 (bytes), recvfrom() 接收回复并打印 (decode());
    #         超时 (socket.timeout) 时打印一行 "回复丢失", 然后继续下一行
    #         sendto() the line (bytes), recvfrom() the reply and print it (decode());
    #         on a timeout (socket.timeout) print one line saying the reply was lost, and go on
udpCliSock.close()
