# fails: delivered, chinese_subject, attachment
# Logs in before STARTTLS: the server offers AUTH only inside TLS (smtplib: AUTH extension not supported).
import smtplib
import ssl
from email.header import Header
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
msg['From'] = FROM
msg['To'] = TO
msg['Subject'] = Header(subject, 'utf-8')
msg.attach(MIMEText(text, 'plain', 'utf-8'))
with open(ATTACHMENT, 'rb') as f:
    part = MIMEApplication(f.read(), Name=ATTACHMENT)
part['Content-Disposition'] = 'attachment; filename="%s"' % ATTACHMENT
msg.attach(part)

try:
    s = smtplib.SMTP(HOST, PORT, timeout=10)
    s.ehlo()
    s.login(USER, PASSWORD)
    s.starttls(context=ssl.create_default_context())
    s.sendmail(FROM, [TO], msg.as_string())
    s.quit()
except (OSError, smtplib.SMTPException) as e:
    raise SystemExit('sending failed: %s' % e)
print('sent to', TO)
