#!/bin/sh
# Test TLS material for the conformance cases: a CA, two nodes (the second
# with an encrypted key and a password file), a CRL that revokes a third
# certificate, and a key that matches no certificate. The zonesync-, ssl-
# and real-plus- cases hold copies of what "sh make-tls.sh tls" writes.
set -e
out=${1:?folder}
mkdir -p "$out"
cd "$out"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days 36500 -subj /CN=zonesync-test-ca -out ca.crt
for n in node1 node2 revoked; do
  openssl ecparam -name prime256v1 -genkey -noout -out $n.key
  openssl req -new -key $n.key -subj /CN=$n.zonesync.test -out $n.csr
  printf 'subjectAltName=DNS:%s.zonesync.test,IP:127.0.0.1\n' $n > $n.ext
  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 36500 -sha256 -extfile $n.ext -out $n.crt 2>/dev/null
  rm $n.csr $n.ext
done
printf 'zonesync-node2\n' > node2.pass
openssl pkcs8 -topk8 -in node2.key -v2 aes-256-cbc -passout file:node2.pass -out node2.enc
mv node2.enc node2.key
printf 'not-the-password\n' > wrong.pass
openssl ecparam -name prime256v1 -genkey -noout -out other.key
mkdir -p ca.db && : > ca.db/index.txt && echo 01 > ca.db/crlnumber
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca.db/index.txt
crlnumber = ca.db/crlnumber
default_md = sha256
default_crl_days = 36500
CNF
openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -revoke revoked.crt 2>/dev/null
openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -out ca.crl 2>/dev/null
rm -rf ca.db ca.cnf ca.srl revoked.key ca.key
chmod 644 *
printf 'this is not a CRL\n' > node1.pass-not-a-crl
