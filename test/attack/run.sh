#!/usr/bin/env bash
# External attackers against a local Rampart (issue 9, docs/reliability.md "Attack scripts"):
#   sqlmap   on parameterized routes (query, path and JSON body)  -> nothing injectable
#   testssl  against Rampart's own TLS listener                   -> TLS 1.2/1.3 only, forward secrecy, HSTS
#   guessing passwords on the sign-in route (hydra cannot: see below) -> the limiter answers 429, the real user still signs in
# Everything targets 127.0.0.1 only. Tools are Debian packages, installed here when missing.
# Usage: test/attack/run.sh [fast|full]   (fast: the few-minute variant; full: sqlmap level 3 / risk 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
mode="${1:-fast}"

need=()
command -v sqlmap >/dev/null || need+=(sqlmap)
command -v testssl >/dev/null || need+=(testssl.sh)
if ((${#need[@]})); then
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

work="$(mktemp -d /tmp/rampart-attack-XXXXXX)"
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "ATTACK FAILED: $*" >&2; exit 1; }

# A self-signed certificate for Rampart's own TLS listener.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# start_server NAME PORT AUTH_LIMIT [tls]: a Rampart with its own data folder and sign-in limit per
# address and minute; waits for its "listening" line.
start_server() {
  local name="$1" port="$2" auth_limit="$3" tls=()
  [[ "${4:-}" == tls ]] && tls=(RAMPART_TLS_CERT="$work/cert.pem" RAMPART_TLS_KEY="$work/key.pem")
  env RAMPART_DATA_DIR="$work/$name" RAMPART_ROOT_KEY="$(head -c 32 /dev/urandom | base64)" RAMPART_PORT="$port" \
    RAMPART_RATE_LIMIT_AUTH_PER_IP="$auth_limit" RAMPART_RATE_LIMIT_PER_ACCOUNT=100000 RAMPART_RATE_LIMIT_PER_IP=100000 RAMPART_BACKUP_SCHEDULE=off RAMPART_BACKUP_DRILL_SCHEDULE=off \
    "${tls[@]}" node --import tsx src/main.ts >"$work/$name.log" 2>&1 &
  server_pids+=($!)
  for _ in $(seq 1 240); do grep -q "listening on" "$work/$name.log" && return 0; sleep 0.25; done
  fail "the $name server did not start: $(tail -5 "$work/$name.log")"
}
# sqlmap cannot talk to this TLS 1.3 listener, so it and the password guessing attack plain HTTP
# instances on loopback: sqlmap one whose sign-in limit it cannot reach (a limited scan would test
# nothing), the guessing one with a limit of 30 per minute. testssl attacks the TLS one.
port="$(free_port)"
guess_port="$(free_port)"
tls_port="$(free_port)"
start_server http "$port" 1000000
start_server guess "$guess_port" 30
start_server tls "$tls_port" 30 tls
base="http://127.0.0.1:$port"

api() { curl -s --interface "${SOURCE_IP:-127.0.0.1}" -H 'content-type: application/json' "$@"; }
email="attack.$RANDOM$RANDOM@customer.test"
password='vivid otter marble lantern'
# The real user and the set-up come from 127.0.0.2; the attackers from 127.0.0.1.
export SOURCE_IP=127.0.0.2
api -X POST "$base/v1/auth/signup" -d "{\"email\":\"$email\",\"password\":\"$password\"}" >/dev/null
token="$(api -X POST "$base/v1/auth/login" -d "{\"email\":\"$email\",\"password\":\"$password\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')"
org="$(api -X POST "$base/v1/orgs" -H "authorization: Bearer $token" -d '{"name":"Attack Target"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id')"
key="$(api -X POST "$base/v1/orgs/$org/api-keys" -H "authorization: Bearer $token" -d '{"name":"k","scopes":["audit:read","audit:write","records:read","records:write"]}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).key')"
api -X PUT "$base/v1/orgs/$org/records/people/alice" -H "authorization: Bearer $key" -d '{"data":{"name":"Alice"}}' >/dev/null
unset SOURCE_IP

echo "== sqlmap ($mode)"
level=1 risk=1
[[ "$mode" == full ]] && level=3 risk=2
sqlmap_run() {
  local target="$1"
  shift
  sqlmap --batch --disable-coloring --level "$level" --risk "$risk" --technique=BEUST --time-sec 2 \
    --output-dir "$work/sqlmap" -H "authorization: Bearer $key" "$@" >"$work/sqlmap.log" 2>&1 || true
  if grep -Eqi "is vulnerable|Parameter: .* \((GET|POST|URI)\)|sqlmap identified the following injection" "$work/sqlmap.log"; then
    cat "$work/sqlmap.log" >&2
    fail "sqlmap found an injection: $*"
  fi
  grep -Eq "do not appear to be injectable|not injectable|all tested parameters" "$work/sqlmap.log" || { tail -20 "$work/sqlmap.log" >&2; fail "sqlmap did not finish its tests: $*"; }
  echo "   nothing injectable: $target"
}
sqlmap_run "audit query (action, limit)" -u "$base/v1/orgs/$org/audit?action=record.written&limit=10*"
sqlmap_run "record path (collection, key)" -u "$base/v1/orgs/$org/records/people*/alice*"
sqlmap_run "record list query (subject_id)" -u "$base/v1/orgs/$org/records/people?limit=5&subject_id=x*"
sqlmap_run "sign-in JSON body (email, password)" --ignore-code 401 -u "$base/v1/auth/login" --data "{\"email\":\"$email*\",\"password\":\"x*\"}" -H 'content-type: application/json'

echo "== testssl"
testssl --quiet --warnings off --color 0 --protocols --fs --headers --jsonfile "$work/testssl.json" "127.0.0.1:$tls_port" >"$work/testssl.log" 2>&1 || true
offered() { node -e "const r=JSON.parse(require('fs').readFileSync('$work/testssl.json'));const f=r.find(x=>x.id==='$1');process.stdout.write(f?f.finding:'missing')"; }
for old in SSLv2 SSLv3 TLS1 TLS1_1; do
  [[ "$(offered "$old")" == "not offered"* ]] || fail "$old is offered: $(offered "$old")"
done
[[ "$(offered TLS1_2)" == offered* || "$(offered TLS1_3)" == offered* ]] || fail "neither TLS 1.2 nor 1.3 is offered"
# testssl 3.0 names forward secrecy PFS, 3.2 FS.
fs="$(offered PFS)"; [[ "$fs" == missing ]] && fs="$(offered FS)"
[[ "$fs" == offered* ]] || fail "forward secrecy: $fs"
[[ "$(offered HSTS_time)" != missing && "$(offered HSTS)" != *"not offered"* ]] || fail "no HSTS: $(offered HSTS)"
echo "   TLS 1.0/1.1 and SSL not offered; TLS1_2: $(offered TLS1_2); TLS1_3: $(offered TLS1_3); FS: $fs; HSTS: $(offered HSTS_time)"

echo "== password guessing"
# hydra's http-post-form module gives up on the first 401 ("the target is using HTTP auth, not a
# web form"), and a JSON API answers a wrong password with 401, so hydra cannot drive this route;
# the same attack is scripted with curl: 61 guesses in a row, the real password last.
guess_base="http://127.0.0.1:$guess_port"
SOURCE_IP=127.0.0.2 api -X POST "$guess_base/v1/auth/signup" -d "{\"email\":\"$email\",\"password\":\"$password\"}" >/dev/null
words="$work/words.txt"
{ for i in $(seq 1 60); do echo "guess-$i-password"; done; echo "$password"; } >"$words"
export guess_base email
xargs -P 1 -I{} sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -X POST "$guess_base/v1/auth/login" -H "content-type: application/json" -d "{\"email\":\"$email\",\"password\":\"{}\"}"' <"$words" >"$work/guesses.txt"
ok="$(grep -c '^200$' "$work/guesses.txt" || true)"
limited="$(grep -c '^429$' "$work/guesses.txt" || true)"
wrong="$(grep -c '^401$' "$work/guesses.txt" || true)"
[[ "$ok" == 0 ]] || fail "a guess signed in"
((limited > 0)) || fail "the limiter never answered 429 to $(wc -l <"$work/guesses.txt") guesses"
# The guesses also put the account in a growing delay window (per account, whatever the address,
# so spreading guesses over addresses does not help); the real user signs in from their own
# address once the window they are told in Retry-After has passed.
waited=0
for _ in 1 2 3; do
  real="$(SOURCE_IP=127.0.0.2 api -D "$work/real.headers" -o /dev/null -w '%{http_code}' -X POST "$guess_base/v1/auth/login" -d "{\"email\":\"$email\",\"password\":\"$password\"}")"
  [[ "$real" == 429 ]] || break
  retry="$(grep -i '^retry-after:' "$work/real.headers" | tr -dc '0-9')"
  ((retry <= 120)) || fail "the account delay ($retry s) is longer than this script waits"
  sleep "$retry"
  waited=$((waited + retry))
done
[[ "$real" == 200 ]] || fail "the real user could not sign in from their own address (answered $real)"
echo "   61 guesses: $wrong answered 401, $limited answered 429 (the real password, last, among them); the real user signed in from their own address after the account's delay window (${waited} s)"

echo "attack: all passed ($mode)"
