#!/usr/bin/env python3
"""练习 11 / Exercise 11: 发表一篇文章 / post an article to a newsgroup (2.2.4).

从标准输入读标题 (第一行) 和正文 (到空行为止), 发表到 lab.test, 打印 message-id,
再按 message-id 把文章从服务器读回来并打印。
Read a subject (first line) and a body (up to a blank line), post it to lab.test, print the
message-id, then read the article back from the server by its message-id and print it.
Check it: lab-check 11
"""

import sys
from email.message import EmailMessage
from email.utils import make_msgid
from nntplib import NNTP, NNTPError

HOST = 'news'
GROUP = 'lab.test'
FROM = 'Student <student@lab.test>'


def read_input():
    """第一行是标题, 之后各行是正文, 空行结束 / the subject, then body lines up to a blank line."""
    subject = input().strip()
    body = []
    for line in sys.stdin:
        line = line.rstrip('\n')
        if not line:
            break
        body.append(line)
    return subject, body


def main():
    subject, body = read_input()
    print('*** subject:', subject)
    s = NNTP(HOST, timeout=10)
    try:
        # TODO 1: 构造文章: From, Newsgroups, Subject (中文要用 MIME encoded-word), Message-ID, 正文
        #         (提示: email.message.EmailMessage 会替你编码; 用 msg.as_bytes() 得到要发表的字节)
        #         build the article: From, Newsgroups, Subject (Chinese as MIME encoded words),
        #         Message-ID, body (hint: email.message.EmailMessage encodes for you; msg.as_bytes())
        # TODO 2: 用 post() 发表, 打印 message-id
        #         post() it and print the message-id
        # TODO 3: 用 article(message_id) 读回文章, 逐行 decode 后打印
        #         read it back with article(message_id) and print its lines, decoded
        pass
    except NNTPError as e:
        print('ERROR:', e)
    finally:
        s.quit()


if __name__ == '__main__':
    main()
