# fails: chinese_subject
# passes: posted_article, reads_back
# Builds the article as a string and encodes it whole: the Chinese subject goes out as raw UTF-8.
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from nntplib import NNTP, NNTPError

HOST = 'news'
GROUP = 'lab.test'
FROM = 'Student <student@lab.test>'


def read_input():
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
    msgid = make_msgid(domain='lab.test')
    text = ('From: %s\nNewsgroups: %s\nSubject: %s\nMessage-ID: %s\n\n%s\n'
            % (FROM, GROUP, subject, msgid, '\n'.join(body)))
    s = NNTP(HOST, timeout=10)
    try:
        resp = s.post(text.encode('utf-8'))
        print(resp)
        print('Message-ID:', msgid)
        resp, info = s.article(msgid)
        print('*** article %s as the server has it:' % info.message_id)
        for line in info.lines:
            print(line.decode('utf-8', 'replace'))
    except NNTPError as e:
        print('ERROR:', e)
    finally:
        s.quit()


if __name__ == '__main__':
    main()
