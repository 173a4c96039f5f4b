#!/bin/sh
# make-pki.sh DIR HOST...: the lab certificate authority (once) and a certificate per host.
# Run by tools/lab.py inside the base image, so the only openssl needed is Debian's.
# Each host certificate names the host as the lab network knows it (mail), in the lab's
# domain (mail.lab.test), and as localhost / 127.0.0.1 for clients on the host that reach
# it through a published port.
set -eu
dir=$1; shift
cd "$dir"
umask 077
if [ ! -f ca.key ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout ca.key -out ca.crt -subj "/O=socklab/CN=socklab lab CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    chmod 644 ca.crt
fi
mkdir -p hosts
for host in "$@"; do
    [ -f "hosts/$host.crt" ] && continue
    cat > "hosts/$host.ext" <<EXT
subjectAltName=DNS:$host,DNS:$host.lab.test,DNS:localhost,IP:127.0.0.1
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "hosts/$host.key" -out "hosts/$host.csr" \
        -subj "/O=socklab/CN=$host" 2>/dev/null
    openssl x509 -req -sha256 -days 825 -in "hosts/$host.csr" -CA ca.crt -CAkey ca.key \
        -CAcreateserial -out "hosts/$host.crt" -extfile "hosts/$host.ext" 2>/dev/null
    rm "hosts/$host.csr" "hosts/$host.ext"
    chmod 644 "hosts/$host.crt" "hosts/$host.key"   # the image build decides who may read keys
done
