#!/bin/sh
# Start vsftpd as the peer of the lab's ftp host: the same account (FTP_USER/FTP_PASSWORD)
# with its home where the lab keeps it (/srv/ftp/home/<user>, on a volume).
# Arguments are vsftpd options (-omax_clients=64 ...), applied after vsftpd.conf.
set -eu
user=${FTP_USER:-student}
install -d -m 0755 /run/vsftpd/empty /srv/ftp/home
id "$user" >/dev/null 2>&1 || useradd --home-dir "/srv/ftp/home/$user" --create-home --shell /bin/bash "$user"
# SHA-512 crypt, not Debian's default yescrypt: yescrypt costs about half a second of CPU
# per login here, and the bench would measure the password hash instead of the server
echo "$user:${FTP_PASSWORD:-password}" | chpasswd --crypt-method SHA512
exec vsftpd /etc/socklab-bench/vsftpd.conf "$@"
