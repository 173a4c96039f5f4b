#!/usr/bin/env python3
"""练习 10 / Exercise 10: 最后十篇文章 / the last ten articles of a newsgroup (2.2.3).

读入新闻组名, 列出最后十篇文章的编号和标题, 再读入一个编号, 打印那篇文章的正文。
Read a group's name, list the last ten articles (number and subject), then read an
article number and print that article's body.   Check it: lab-check 10
"""

from nntplib import NNTP, NNTPError

HOST = 'news'               # 实验环境的新闻服务器, 端口 119 / the lab's news server, port 119


def main():
    group = input('Which group? ').strip()
    s = NNTP(HOST, timeout=10)
    try:
        resp, count, first, last, name = s.group(group)
        print('*** %s: %d articles, %d-%d' % (name, count, first, last))
        # TODO 1: 用 xhdr('subject', ...) 取得标题, 打印最后十篇: 每行 "编号 标题"
        #         get the subjects with xhdr('subject', ...) and print the last ten, one per line: "number subject"
        # TODO 2: 用 input() 读入文章编号, 用 body() 取得正文并打印 (正文的每一行是 bytes, 要先 decode)
        #         read an article number with input(), get its body with body() and print it
        #         (each line of the body is bytes: decode it first)
    except NNTPError as e:
        print('ERROR:', e)
    finally:
        s.quit()


if __name__ == '__main__':
    main()
