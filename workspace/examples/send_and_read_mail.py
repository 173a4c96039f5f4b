"""MUA -> MTA -> MDA and back: alice sends bob a message; bob reads it with POP3 and IMAP."""

import imaplib
import poplib
import smtplib
import ssl
import sys
from email.message import EmailMessage

tls = ssl.create_default_context()            # the lab CA is trusted: certificates are verified

msg = EmailMessage()
msg["From"], msg["To"] = "alice@lab.test", "bob@lab.test"
msg["Subject"] = sys.argv[1] if len(sys.argv) > 1 else "hello from the lab"
msg.set_content("Sent with smtplib, stored by Dovecot, read with poplib and imaplib.\n")

with smtplib.SMTP("mail", 587) as smtp:       # the submission port
    smtp.ehlo()
    smtp.starttls(context=tls)                # encrypt before the password goes over the wire
    smtp.login("alice", "password")
    smtp.send_message(msg)
print("sent:", msg["Subject"])

pop = poplib.POP3("mail", 110)
pop.stls(context=tls)
pop.user("bob")
pop.pass_("password")
count, size = pop.stat()
print(f"POP3: bob has {count} messages ({size} bytes)")
pop.quit()

with imaplib.IMAP4("mail", 143) as imap:
    imap.starttls(ssl_context=tls)
    imap.login("bob", "password")
    imap.select("INBOX", readonly=True)
    typ, data = imap.search(None, "SUBJECT", f'"{msg["Subject"]}"')
    print("IMAP: found message numbers", data[0].decode())
