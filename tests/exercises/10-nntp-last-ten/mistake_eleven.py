# fails: last_ten
# passes: reads_body
# Off by one: asks for last-10 to last, which is eleven articles.
from nntplib import NNTP, NNTPError

HOST = 'news'


def main():
    group = input('Which group? ').strip()
    s = NNTP(HOST, timeout=10)
    try:
        resp, count, first, last, name = s.group(group)
        print('*** %s: %d articles, %d-%d' % (name, count, first, last))
        resp, subs = s.xhdr('subject', '%d-%d' % (last - 10, last))
        for number, subject in subs:
            print(number, subject)
        number = input('Which article do you want to read? ').strip()
        resp, info = s.body(number)
        print()
        for line in info.lines:
            print(line.decode('utf-8', 'replace'))
    except NNTPError as e:
        print('ERROR:', e)
    finally:
        s.quit()


if __name__ == '__main__':
    main()
