#!/usr/bin/env python3
"""练习 13 / Exercise 13: 用 poplib 读信、删信 / read and delete mail with poplib (3).

以 bob 的身份登录 POP3, 打印邮件数 (stat) 和列表 (list), 找到主题含有标准输入第一行那个词的
邮件, 打印它的主题 (解码后的中文), 删除它 (dele), 最后 quit()。
Log in to POP3 as bob, print the count (stat) and the list (list), find the message whose
subject contains the word on stdin's first line, print its subject (decoded), delete it
(dele), and end with quit().   Check it: lab-check 13
"""

import email
import email.policy
import poplib
import ssl

HOST = 'mail'
PORT = 110                  # 先 stls() 再登录 / stls() before logging in (995: POP3_SSL)
USER = 'bob'
PASSWORD = 'password'

word = input('Word in the subject: ')

p = poplib.POP3(HOST, PORT, timeout=10)
print(p.getwelcome().decode())
# TODO 1: p.stls(ssl.create_default_context()), 然后 user() 和 pass_() 登录
#         p.stls(ssl.create_default_context()), then log in with user() and pass_()
# TODO 2: 第一行打印 stat() 的邮件数和字节数, 再逐行打印 list() 的每一项 ("编号 大小")
#         print stat()'s count and size as the first line, then each entry of list() ("number size")
# TODO 3: 对 1..count 的每个编号用 top(n, 0) 取邮件头, 解析并解码主题, 找到含有 word 的那封:
#         打印主题, dele(n)
#         for each number 1..count fetch the headers with top(n, 0), parse and decode the subject,
#         find the one containing word: print its subject, dele(n)
# TODO 4: quit() —— 只有 QUIT 之后服务器才真正删除邮件 / deletions happen only at QUIT
p.close()
