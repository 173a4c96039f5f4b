"""Reference solution of exercise 10 (kept out of the student's workspace)."""

from nntplib import NNTP, NNTPError

HOST = 'news'


def main():
    group = input('Which group? ').strip()
    s = NNTP(HOST, timeout=10)
    try:
        resp, count, first, last, name = s.group(group)
        print('*** %s: %d articles, %d-%d' % (name, count, first, last))
        resp, subs = s.xhdr('subject', '%d-%d' % (first, last))
        for number, subject in subs[-10:]:
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
