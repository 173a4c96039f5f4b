#!/usr/bin/env python3
"""练习 12 / Exercise 12: 用 smtplib 发一封带附件的中文邮件 / send a mail with an attachment (3).

alice 通过 587 端口 (提交端口) 给 bob 发邮件: 主题 (中文) 是标准输入的第一行, 正文是第二行,
附件是当前文件夹里的 attachment.bin。
alice sends bob a message through port 587 (submission): the subject (Chinese) is stdin's
first line, the text its second line, the attachment the file attachment.bin in the
current folder.   Check it: lab-check 12
"""

import smtplib
import ssl
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

HOST = 'mail'
PORT = 587                  # 提交端口: 先 STARTTLS, 再登录 / submission: STARTTLS first, then log in
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
# TODO 1: 中文主题要编码 (=?utf-8?b?...?=): 用 Header(subject, 'utf-8'), 不要自己拼头部
#         encode the Chinese subject (=?utf-8?b?...?=): Header(subject, 'utf-8'); never write headers by hand
# TODO 2: 正文: msg.attach(MIMEText(text, 'plain', 'utf-8'))
#         the text: msg.attach(MIMEText(text, 'plain', 'utf-8'))
# TODO 3: 以二进制方式 ('rb') 读 attachment.bin, 作为附件加上 (MIMEApplication, Content-Disposition)
#         read attachment.bin in binary mode ('rb') and attach it (MIMEApplication, Content-Disposition)

s = smtplib.SMTP(HOST, PORT, timeout=10)
s.ehlo()
# TODO 4: starttls(context=ssl.create_default_context()), 再 ehlo(), 然后 login(USER, PASSWORD)
#         starttls(context=ssl.create_default_context()), ehlo() again, then login(USER, PASSWORD)
# TODO 5: sendmail(FROM, [TO], msg.as_string()); 出错时 (smtplib.SMTPException, OSError) 打印一行错误
#         sendmail(FROM, [TO], msg.as_string()); on an error (smtplib.SMTPException, OSError) print one line
s.quit()
