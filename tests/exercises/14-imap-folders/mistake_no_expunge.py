# fails: moves_messages
# passes: creates_folder, prints_count
# Copies and flags the messages \Deleted but never calls expunge(): they stay in INBOX.
import base64
import imaplib
import ssl

HOST = 'mail'
PORT = 143
USER = 'alice'
PASSWORD = 'password'


def utf7(name):
    """IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    out, run = '', ''
    for ch in name + '\0':
        if ' ' <= ch <= '~' or ch == '\0':
            if run:
                b64 = base64.b64encode(run.encode('utf-16-be')).decode()
                out += '&' + b64.rstrip('=').replace('/', ',') + '-'
                run = ''
            if ch != '\0':
                out += '&-' if ch == '&' else ch
        else:
            run += ch
    return out


folder = input('Folder: ')
word = input('Word in the subject: ')
box = '"%s"' % utf7(folder)

m = imaplib.IMAP4(HOST, PORT, timeout=10)
m.starttls(ssl_context=ssl.create_default_context())
m.login(USER, PASSWORD)
typ, data = m.create(box)
print('CREATE', typ, data[0].decode())
m.select('INBOX')
typ, data = m.search(None, 'SUBJECT', '"%s"' % word)
numbers = data[0].split()
for n in numbers:
    m.copy(n, box)
    m.store(n, '+FLAGS', '\\Deleted')
m.logout()
print('moved', len(numbers))
