#!/bin/sh
# Start the bench's end-to-end peer of the lab's mail host: Postfix accepts mail for
# lab.test on port 25, queues it, and delivers it over LMTP to Dovecot, which writes it to
# Maildir (fsync before its 250) and serves it over IMAP -- Debian's packages with their
# defaults, but for what this peer must do.  The accounts are the mail host's
# (MAIL_ACCOUNTS="alice:password bob:password").
set -eu
accounts=${MAIL_ACCOUNTS:-alice:password bob:password}

# Dovecot: the mail user, the accounts, the store on the volume at /srv/mail
id vmail >/dev/null 2>&1 || useradd --uid 5000 --user-group --no-create-home --home-dir /srv/mail \
    --shell /usr/sbin/nologin vmail
install -d -m 0750 -g dovecot /run/peer          # Dovecot's auth process reads it as dovecot
for account in $accounts; do
    user=${account%%:*}
    echo "$user@lab.test:{PLAIN}${account#*:}:5000:5000::/srv/mail/lab.test/$user::"
done > /run/peer/users
chgrp dovecot /run/peer/users
chmod 0640 /run/peer/users
chown vmail:vmail /srv/mail
dovecot -c /etc/socklab-bench/dovecot-peer.conf

# Postfix: mail for lab.test goes to Dovecot's LMTP socket; everything else is refused
postconf -e \
    "myhostname = postfix-mail.lab.test" \
    "mydomain = lab.test" \
    "mydestination =" \
    "virtual_mailbox_domains = lab.test" \
    "virtual_transport = lmtp:unix:private/dovecot-lmtp" \
    "inet_interfaces = all" \
    "inet_protocols = ipv4" \
    "mynetworks = 0.0.0.0/0" \
    "smtpd_relay_restrictions = permit_mynetworks, reject" \
    "alias_maps =" "alias_database =" \
    "maillog_file = /dev/stdout"
# in a container there is nothing to chroot into (Debian's init script would copy files)
postconf -F '*/*/chroot = n'
exec postfix start-fg
