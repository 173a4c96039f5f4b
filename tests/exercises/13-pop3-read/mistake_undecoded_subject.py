# fails: prints_subject, deletes_that_message
# passes: prints_count
# Looks for the word in the Subject header as it travels (=?utf-8?b?...?=): never found, never decoded.
import email
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
    msg = email.message_from_bytes(b'\r\n'.join(lines))
    subject = msg['Subject'] or ''
    if word in subject:
        print('Subject:', subject)
        p.dele(n)
        print('deleted message', n)
        break
else:
    print('no message with', word)
p.quit()
