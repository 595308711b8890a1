#!/usr/bin/env bash
# TLS and mutual TLS between a real ctrlfuse-server and ctrlfuse-client, with
# a CA and certificates made here by openssl: the client's `health` and
# `fuse` work over TLS, a plaintext client is refused, mTLS refuses a client
# without a certificate, bearer tokens are required (and health is not),
# and bad TLS flags stop the server with a message
# naming them. Usage: tls_test.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
BUILD="$1"
T="$(mktemp -d)"
fail=0
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
check() {  # check "what" command...
  local what="$1"; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}

# A CA, a server certificate for localhost/127.0.0.1, a client certificate.
cd "$T"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ctrlfuse test CA" -keyout ca.key -out ca.pem 2>/dev/null
for who in server client; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout $who.key -out $who.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >$who.ext
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $who.ext \
    -out $who.pem 2>/dev/null
done
cd - >/dev/null
"$BUILD/tools/ctrlfuse-scenes" --out "$T/s" --count 1 --width 64 --height 48 >/dev/null

start() {  # start NAME FLAGS...: a server; sets PORT
  local name="$1"; shift
  "$BUILD/server/ctrlfuse-server" --port 0 --metrics_port -1 --host 127.0.0.1 --warmup_sizes 64x48 \
    --max_batch_size 1 "$@" >"$T/$name.out" 2>"$T/$name.log" &
  PIDS+=($!)
  wait_until_serving "$!" "$T/$name.log" || { echo "FAIL $name did not start:"; cat "$T/$name.log"; exit 1; }
  PORT="$(awk '/^port /{print $2}' "$T/$name.out")"
}
C=("$BUILD/client/ctrlfuse-client" --retries 0 --deadline 60)
FUSE=(fuse --ir "$T/s/ir/0000.png" --vis "$T/s/vi/0000.png" --mask "$T/s/mask/0000.png" --masks=false)

start tls --tls_cert "$T/server.pem" --tls_key "$T/server.key"
check "TLS: health over TLS is SERVING (exit 0)" \
  test "$("${C[@]}" --server "localhost:$PORT" --ca "$T/ca.pem" health)" = "SERVING"
check "TLS: fuse over TLS" "${C[@]}" --server "localhost:$PORT" --ca "$T/ca.pem" "${FUSE[@]}" --out_dir "$T/o1"
check "TLS: the fused image was written" test -s "$T/o1/0000.png"
"${C[@]}" --server "localhost:$PORT" health >"$T/plain.txt" 2>&1
check "TLS: a plaintext client is refused (exit 1, UNAVAILABLE)" \
  bash -c "[[ $? -eq 1 ]] && grep -q UNAVAILABLE '$T/plain.txt'"

start mtls --tls_cert "$T/server.pem" --tls_key "$T/server.key" --tls_client_ca "$T/ca.pem"
check "mTLS: a client with a certificate from the CA is served" \
  "${C[@]}" --server "localhost:$PORT" --ca "$T/ca.pem" --cert "$T/client.pem" --key "$T/client.key" \
  "${FUSE[@]}" --out_dir "$T/o2"
"${C[@]}" --server "localhost:$PORT" --ca "$T/ca.pem" health >"$T/nocert.txt" 2>&1
check "mTLS: a client without a certificate is refused (exit 1)" test $? -eq 1

# Bearer tokens over TLS (the deployment's way: a token never crosses in clear).
printf '# clients\nsecret-one\nsecret-two\n' >"$T/tokens"
printf 'secret-two\n' >"$T/client.token"
printf 'secret-three\n' >"$T/wrong.token"
start token --tls_cert "$T/server.pem" --tls_key "$T/server.key" --auth_token_file "$T/tokens"
TC=("${C[@]}" --server "localhost:$PORT" --ca "$T/ca.pem")
check "token: a client with a configured token is served" \
  "${TC[@]}" --auth_token_file "$T/client.token" "${FUSE[@]}" --out_dir "$T/o3"
"${TC[@]}" "${FUSE[@]}" --out_dir "$T/o4" >"$T/notoken.txt" 2>&1
check "token: a client without one is refused with UNAUTHENTICATED (exit 1)" \
  bash -c "[[ $? -eq 1 ]] && grep -q UNAUTHENTICATED '$T/notoken.txt'"
"${TC[@]}" --auth_token_file "$T/wrong.token" info >"$T/wrongtoken.txt" 2>&1
check "token: a wrong token is refused (exit 1, 'invalid bearer token')" \
  bash -c "[[ $? -eq 1 ]] && grep -q 'invalid bearer token' '$T/wrongtoken.txt'"
check "token: health needs no token" test "$("${TC[@]}" health)" = "SERVING"
check "token: the server does not warn about plaintext (TLS is on)" bash -c "! grep -q 'in the clear' '$T/token.log'"

"$BUILD/server/ctrlfuse-server" --port 0 --metrics_port -1 --tls_cert "$T/server.pem" >/dev/null 2>"$T/half.log"
check "a certificate without its key stops the server (exit 2, a flag error)" test $? -eq 2
check "... with a message naming tls_key" grep -q "tls_cert and tls_key" "$T/half.log"
"$BUILD/server/ctrlfuse-server" --port 0 --metrics_port -1 --tls_cert "$T/nope.pem" --tls_key "$T/server.key" \
  >/dev/null 2>"$T/missing.log"
check "a missing certificate file stops the server (exit 2)" test $? -eq 2
check "a missing certificate file is named" grep -q "tls_cert: cannot read $T/nope.pem" "$T/missing.log"
check "... before the model is loaded" bash -c "! grep -q \"loading model\" '$T/missing.log'"

echo "$([ $fail -eq 0 ] && echo PASSED || echo FAILED): TLS"
exit $fail
