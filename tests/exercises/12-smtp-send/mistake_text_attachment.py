# fails: attachment
# passes: delivered, chinese_subject
# Attaches the file as text (MIMEText of its bytes decoded with errors ignored): the bytes do not survive.
import smtplib
import ssl
from email.header import Header
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
msg['From'] = FROM
msg['To'] = TO
msg['Subject'] = Header(subject, 'utf-8')
msg.attach(MIMEText(text, 'plain', 'utf-8'))
with open(ATTACHMENT, encoding='utf-8', errors='ignore') as f:
    part = MIMEText(f.read(), 'plain', 'utf-8')
part['Content-Disposition'] = 'attachment; filename="%s"' % ATTACHMENT
msg.attach(part)

try:
    s = smtplib.SMTP(HOST, PORT, timeout=10)
    s.ehlo()
    s.starttls(context=ssl.create_default_context())
    s.ehlo()
    s.login(USER, PASSWORD)
    s.sendmail(FROM, [TO], msg.as_string())
    s.quit()
except (OSError, smtplib.SMTPException) as e:
    raise SystemExit('sending failed: %s' % e)
print('sent to', TO)
