#!/usr/bin/env python3
"""练习 14 / Exercise 14: 用 imaplib 建中文文件夹、移动邮件 / folders and moving mail with imaplib (3).

以 alice 的身份登录 IMAP, 新建文件夹 (名字是标准输入的第一行, 中文), 把 INBOX 里主题含有
第二行那个词的邮件全部移到这个文件夹, 最后一行打印移动了几封。
Log in to IMAP as alice, create a folder (named by stdin's first line, in Chinese), move
every message of INBOX whose subject contains the word on the second line into it, and
print on the last line how many were moved.   Check it: lab-check 14
"""

import base64
import imaplib
import ssl

HOST = 'mail'
PORT = 143                  # 先 starttls() 再登录 / starttls() before logging in (993: IMAP4_SSL)
USER = 'alice'
PASSWORD = 'password'


def utf7(name):
    """文件夹名 → IMAP 的 modified UTF-7 (RFC 3501 5.1.3) / a folder name in IMAP's modified UTF-7."""
    # TODO 1: ASCII 字符照写 ('&' 写成 '&-'); 连续的非 ASCII 字符写成
    #         '&' + base64(这些字符.encode('utf-16-be')) 去掉 '=', '/' 换成 ',' + '-'
    #         例: '作业-x' -> '&T1xOGg--x'  (Python 的 'utf-7' 编码不是这个!)
    #         ASCII stays ('&' becomes '&-'); each run of non-ASCII characters becomes
    #         '&' + base64(run.encode('utf-16-be')) without '=', with ',' for '/', + '-'
    #         e.g. '作业-x' -> '&T1xOGg--x'  (Python's 'utf-7' codec is not this!)
    return name


folder = input('Folder: ')
word = input('Word in the subject: ')

m = imaplib.IMAP4(HOST, PORT, timeout=10)
# TODO 2: m.starttls(ssl_context=ssl.create_default_context()), 然后 m.login(USER, PASSWORD)
#         m.starttls(ssl_context=ssl.create_default_context()), then m.login(USER, PASSWORD)
# TODO 3: m.create('"%s"' % utf7(folder)); m.select('INBOX'); m.search(None, 'SUBJECT', ...)
# TODO 4: 每封: copy() 到新文件夹, store(n, '+FLAGS', '\\Deleted'); 最后 expunge()
#         each one: copy() into the folder, store(n, '+FLAGS', '\\Deleted'); expunge() at the end
# TODO 5: 最后一行打印移动的封数, 例如 print('moved', count)
#         print how many were moved on the last line, e.g. print('moved', count)
m.logout()
