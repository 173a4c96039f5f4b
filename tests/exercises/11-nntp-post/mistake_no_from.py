# fails: posted_article, chinese_subject, reads_back
# Leaves out the From header: the server refuses the article (441).
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
    msg = EmailMessage()
    msg['Newsgroups'] = GROUP
    msg['Subject'] = subject                    # encoded words for the Chinese text
    msg['Message-ID'] = make_msgid(domain='lab.test')
    msg.set_content('\n'.join(body) + '\n', cte='8bit')
    s = NNTP(HOST, timeout=10)
    try:
        resp = s.post(msg.as_bytes())
        print(resp)
        print('Message-ID:', msg['Message-ID'])
        resp, info = s.article(msg['Message-ID'])
        print('*** article %s as the server has it:' % info.message_id)
        for line in info.lines:
            print(line.decode('utf-8', 'replace'))
    except NNTPError as e:
        print('ERROR:', e)
    finally:
        s.quit()


if __name__ == '__main__':
    main()
