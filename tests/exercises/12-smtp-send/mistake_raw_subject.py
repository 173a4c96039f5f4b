# fails: chinese_subject
# passes: delivered, attachment
# Header lines typed by hand (textbook style) before the MIME body, sent as UTF-8 bytes: a raw 8-bit subject.
import email.policy
import smtplib
import ssl
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

HOST = 'mail'
PORT = 587
USER = 'alice'
PASSWORD = 'password'
FROM = 'alice@lab.test'
TO = 'bob@lab.test'
ATTACHMENT = 'attachment.bin'

subject = input('Subject: ')
text = input('Text: ')

msg = MIMEMultipart()
msg.attach(MIMEText(text, 'plain', 'utf-8'))
with open(ATTACHMENT, 'rb') as f:
    part = MIMEApplication(f.read(), Name=ATTACHMENT)
part['Content-Disposition'] = 'attachment; filename="%s"' % ATTACHMENT
msg.attach(part)

try:
    s = smtplib.SMTP(HOST, PORT, timeout=10)
    s.ehlo()
    s.starttls(context=ssl.create_default_context())
    s.ehlo()
    s.login(USER, PASSWORD)
    head = 'From: %s\r\nTo: %s\r\nSubject: %s\r\n' % (FROM, TO, subject)
    s.sendmail(FROM, [TO], (head + msg.as_string(policy=email.policy.SMTP)).encode('utf-8'))
    s.quit()
except (OSError, smtplib.SMTPException) as e:
    raise SystemExit('sending failed: %s' % e)
print('sent to', TO)
