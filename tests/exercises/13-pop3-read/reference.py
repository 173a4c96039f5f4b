"""Reference solution of exercise 13 (kept out of the student's workspace)."""

import email
import email.policy
import poplib
import ssl

HOST = 'mail'
PORT = 110
USER = 'bob'
PASSWORD = 'password'

word = input('Word in the subject: ')

p = poplib.POP3(HOST, PORT, timeout=10)
p.stls(ssl.create_default_context())
p.user(USER)
p.pass_(PASSWORD)

count, size = p.stat()
print('%d messages, %d bytes' % (count, size))
resp, listing, octets = p.list()
for line in listing:
    print(line.decode())

for n in range(1, count + 1):
    resp, lines, octets = p.top(n, 0)
    msg = email.message_from_bytes(b'\r\n'.join(lines), policy=email.policy.default)
    subject = str(msg['Subject'] or '')   # decoded: =?utf-8?b?...?= becomes 中文
    if word in subject:
        print('Subject:', subject)
        p.dele(n)
        print('deleted message', n)
        break
else:
    print('no message with', word)
p.quit()
