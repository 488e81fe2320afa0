#!/bin/sh
# certs.sh DIR HOST - a throwaway CA and a server certificate for HOST,
# signed by it, for the release tests' TLS front:
#   DIR/ca.pem            the CA certificate (what SSL_CERT_FILE points at)
#   DIR/server.pem, DIR/server.key   the server's certificate and key
#   DIR/other-ca.pem      an unrelated CA, which must not verify the server
set -eu
d=$1 host=$2
mkdir -p "$d"
cd "$d"
q() { "$@" >/dev/null 2>&1; }
for ca in ca other-ca; do
  q openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ca.key" -out "$ca.pem" -days 2 \
    -subj "/CN=bkcache release test $ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
done
q openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=$host"
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$host" >server.ext
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile server.ext
