#!/bin/sh
# tests/cli_usage.sh: the mesh command line's contract, without root or
# network namespaces: exit codes (0 ok, 1 failure, 2 usage), help, strict
# option parsing and its messages, `init` file modes, `invite` output, and
# every bad-token case of `join` (each its own message, nothing written).
# The join-timeout and busy-port cases use 127.0.0.1 only.
#
# MESHD=path/to/meshd (set by `make check`). Needs python3 for the two
# hand-crafted tokens (unsupported version, expired); skipped without it.
set -u

: "${MESHD:=$(pwd)/meshd}"
if [ ! -x "$MESHD" ]; then
	echo "cli_usage: no meshd binary at $MESHD" >&2
	exit 99
fi

T=$(mktemp -d /tmp/meshd-cli.XXXXXX) || exit 99
HOLDER=
cleanup() {
	[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# never touch /var/lib/meshd, whatever a case forgets
export MESHD_STATE_DIR="$T/default"
unset MESHD_INVITE_ENDPOINTS LOG_LEVEL

pass=0
fail=0
OUT=$T/out
ERR=$T/err

ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL: $*" >&2
	sed 's/^/  stderr: /' "$ERR" >&2
}

# run WANT_RC DESC -- CMD...: runs CMD, checks its exit code
run() {
	want=$1
	desc=$2
	shift 3
	"$@" >"$OUT" 2>"$ERR" </dev/null
	rc=$?
	if [ "$rc" = "$want" ]; then ok; else bad "$desc: exit $rc, want $want"; fi
}

# err_has PATTERN DESC: stderr matches (grep -E)
err_has() {
	if grep -Eq -- "$1" "$ERR"; then ok; else bad "$2: stderr lacks /$1/"; fi
}
out_has() {
	if grep -Eq -- "$1" "$OUT"; then ok; else bad "$2: stdout lacks /$1/"; fi
}
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
	secs=$1
	shift
	end=$(($(date +%s) + secs))
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}
# ports_or_dead FILE PID: FILE exists, or PID (which writes it) has exited.
ports_or_dead() {
	[ -e "$1" ] || ! kill -0 "$2" 2>/dev/null
}
# candidate_port: a random port in 10000 (clear of well-known services) up
# to the kernel's ephemeral range, for a program that must bind it itself
# (see [7]).
candidate_port() {
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ "${lo:-0}" -gt 11024 ] || lo=32768
	r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((10000 + r % (lo - 10000)))
}
# one_line DESC: a failure says exactly one line "meshd: ..."
one_line() {
	if [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q '^meshd: ' "$ERR"; then ok; else
		bad "$1: stderr is not one 'meshd: ' line"; fi
}

echo "[1] top level"
run 2 "no command" -- "$MESHD"
run 0 "--help" -- "$MESHD" --help
for c in init up invite join status revoke down set routes; do
	out_has "^  $c " "--help lists $c"
done
run 2 "unknown command" -- "$MESHD" frobnicate
err_has "unknown command" "unknown command"

echo "[2] every subcommand: --help, unknown option, missing value, extra argument"
for c in init up invite join status revoke down set routes; do
	run 0 "$c --help" -- "$MESHD" $c --help
	out_has "^Usage: meshd $c" "$c --help"
	[ -s "$ERR" ] && bad "$c --help wrote to stderr"
	run 2 "$c --bogus" -- "$MESHD" $c --bogus
	err_has "unknown option '--bogus'" "$c --bogus"
	err_has "^Usage: meshd $c" "$c --bogus usage"
	run 2 "$c -d (no value)" -- "$MESHD" $c -d
	err_has "needs a value" "$c -d"
done
# a flag given a value: named as typed, not as getopt's internal key
for f in "status --json=yes" "up --foreground=1" "up --hosts-file-short=x" \
    "routes --json=" "init --help=1"; do
	set -- $f
	run 2 "$f" -- "$MESHD" "$1" -d "$T/x" "$2"
	err_has "^meshd $1: option '${2%%=*}' takes no value$" "$f"
done
for c in init up invite status down set; do
	run 2 "$c extra" -- "$MESHD" $c -d "$T/x" extra
	err_has "unexpected argument 'extra'" "$c extra"
done
run 2 "join without token" -- "$MESHD" join -d "$T/x"
err_has "missing the invite TOKEN" "join without token"
run 2 "join two tokens" -- "$MESHD" join a b
run 2 "revoke without node" -- "$MESHD" revoke -d "$T/x"
run 2 "revoke two nodes" -- "$MESHD" revoke a b

echo "[3] strict values"
for p in 0 65536 abc -1 " 80" 80x 99999999999999999999999; do
	run 2 "init --port '$p'" -- "$MESHD" init -d "$T/x" --port "$p"
	err_has "invalid --port" "init --port '$p'"
done
run 2 "join --port 0" -- "$MESHD" join meshd-x --port 0
err_has "invalid --port" "join --port 0"
for p in 10.0.0.0/7 10.0.0.0/25 10.0.0.0 10.0.0.0/ 10.0.0.0/x 300.0.0.0/16 \
    10.0.0/16 ""; do
	run 2 "init --prefix '$p'" -- "$MESHD" init -d "$T/x" --prefix "$p"
	err_has "invalid --prefix" "init --prefix '$p'"
done
run 2 "prefix length" -- "$MESHD" init -d "$T/x" --prefix 10.0.0.0/26
err_has "length must be 8..24" "prefix length"
run 2 "prefix host bits" -- "$MESHD" init -d "$T/x" --prefix 10.1.2.3/16
err_has "did you mean 10.1.0.0/16" "prefix host bits"
run 2 "prefix ipv6" -- "$MESHD" init -d "$T/x" --prefix fd00::/48
err_has "IPv4 prefix" "prefix ipv6"
long=$(printf 'a%.0s' $(seq 1 64))
for n in Bad_Name -lead trail- "a b" "$long" "" "UPPER"; do
	run 2 "init --name '$n'" -- "$MESHD" init -d "$T/x" --name "$n"
	err_has "invalid node name" "init --name '$n'"
done
for t in 0s 0 0d 10 10x abc 1.5h -1h h " 1h" 99999999999999999999999d 100000d 200y; do
	run 2 "invite --ttl '$t'" -- "$MESHD" invite -d "$T/x" --ttl "$t"
	err_has "invalid --ttl" "invite --ttl '$t'"
done
# --cert-ttl: 60s to 3650d, as --help and the man page say
for t in 59s 3651d 0 1y 99999999999999999999d; do
	run 2 "init --cert-ttl '$t'" -- "$MESHD" init -d "$T/x" --cert-ttl "$t"
	err_has "invalid --cert-ttl '$t'" "init --cert-ttl '$t'"
done
"$MESHD" init --help | grep -q '60s to 3650d' && ok || bad "init --help: --cert-ttl range"
grep -q '^from 60s to 3650d' "${top_srcdir:-$(dirname "$0")/..}/man/meshd.8" && ok ||
    bad "man page: --cert-ttl range"
# --hosts-file is not stored (routes and metrics are): --help and the man
# page both say to give it at every start.
"$MESHD" up --help | grep -q 'Not kept: give it' && ok || bad "up --help: --hosts-file not kept"
grep -q '^unlike the routes and metrics settings it is not kept in' \
    "${top_srcdir:-$(dirname "$0")/..}/man/meshd.8" && ok || bad "man page: --hosts-file not kept"
run 2 "ttl 0" -- "$MESHD" invite -d "$T/x" --ttl 0m
err_has "more than 0" "ttl 0"
run 2 "ttl 2106" -- "$MESHD" invite -d "$T/x" --ttl 100000d
err_has "2106" "ttl 2106"
for u in 0 1000001 x -1 ""; do
	run 2 "invite --uses '$u'" -- "$MESHD" invite -d "$T/x" --uses "$u"
	err_has "invalid --uses" "invite --uses '$u'"
done
run 2 "up -i bad/name" -- "$MESHD" up -d "$T/x" -i bad/name
err_has "invalid interface name" "up -i"
run 2 "up -i too long" -- "$MESHD" up -d "$T/x" -i abcdefghijklmnop
# names that would smuggle a second control request
nl='
'
run 2 "revoke 'a b'" -- "$MESHD" revoke -d "$T/x" "a b"
err_has "invalid node name" "revoke 'a b'"
run 2 "revoke newline" -- "$MESHD" revoke -d "$T/x" "a${nl}down"
err_has "invalid node name" "revoke newline"
[ -e "$T/x" ] && bad "a refused command created $T/x"

echo "[4] init"
run 0 "init" -- "$MESHD" init -d "$T/n1/state" --name alpha --prefix 10.77.0.0/16 --port 40001
out_has "alpha" "init summary: name"
out_has "10\\.77\\.0\\.0/16" "init summary: prefix"
out_has "10\\.77\\." "init summary: address"
out_has "^next: meshd up -d $T/n1/state\$" "init summary: next"
mode=$(stat -c %a "$T/n1/state")
if [ "$mode" = 700 ]; then ok; else bad "state dir mode $mode, want 700"; fi
mode=$(stat -c %a "$T/n1/state/meshd.db")
if [ "$mode" = 600 ]; then ok; else bad "db mode $mode, want 600"; fi
run 1 "second init" -- "$MESHD" init -d "$T/n1/state" --name beta
err_has "already holds a node \\(mesh '[a-z0-9-]+'\\); remove it or use another -d" "second init"
one_line "second init"
# an option given twice: the last value counts (man page, OPTIONS)
run 0 "init --name twice" -- "$MESHD" init --name first -d "$T/n6" --name second
out_has "^node: +second " "init --name twice: the last one"
run 0 "init --cert-ttl 3650d" -- "$MESHD" init -d "$T/n5" --name ct --cert-ttl 3650d
out_has "^certs: +last 3650d \\(315360000 s\\)" "init --cert-ttl 3650d: summary"
run 0 "init with the host name" -- "$MESHD" init -d "$T/n2"
run 0 "init via MESHD_STATE_DIR" -- env MESHD_STATE_DIR="$T/n3" "$MESHD" init --name gamma
if [ -f "$T/n3/meshd.db" ]; then ok; else bad "MESHD_STATE_DIR not used"; fi

mkdir -m 755 "$T/pub" && : >"$T/pub/other"
run 1 "init into a shared, non-empty dir" -- "$MESHD" init -d "$T/pub" --name pub
err_has "accessible by other users" "shared dir"
[ -e "$T/pub/meshd.db" ] && bad "init wrote into a shared dir"
mkdir -m 755 "$T/empty"
run 0 "init into an empty 0755 dir" -- "$MESHD" init -d "$T/empty" --name emp
mode=$(stat -c %a "$T/empty")
if [ "$mode" = 700 ]; then ok; else bad "empty dir mode $mode, want 700"; fi

# a failed init removes the directories it made, and only those: here
# the last component is too long (NAME_MAX), after its parents were made
long=$(printf 'x%.0s' $(seq 1 300))
run 1 "init, name too long after new parents" -- "$MESHD" init -d "$T/mk/a/b/$long"
err_has "cannot create $T/mk/a/b/x+: File name too long" "init, name too long"
one_line "init, name too long"
[ -e "$T/mk" ] && bad "a failed init left $(cd "$T" && find mk | tr '\n' ' ')"
mkdir -m 700 "$T/keep"
run 1 "init, name too long under an existing dir" -- "$MESHD" init -d "$T/keep/a/$long"
[ -e "$T/keep/a" ] && bad "a failed init left $T/keep/a"
[ -d "$T/keep" ] || bad "a failed init removed $T/keep, which it did not make"

# a state directory whose meshd.db is not a database: said so, and kept
# (one line each: the store logs nothing of what it returns). `up` with
# --tcp-port stops in the command, before a daemon could be started.
mkdir -m 700 "$T/junk" && echo "not a database" >"$T/junk/meshd.db"
# a meshd.db that cannot be opened at all: a directory
mkdir -m 700 "$T/dirdb" && mkdir "$T/dirdb/meshd.db"
for c in "init --name x" "invite" "revoke ghost" "status" "up --tcp-port 5" \
    "set --tcp-port 5"; do
	set -- $c
	run 1 "$c, junk db" -- "$MESHD" "$@" -d "$T/junk"
	err_has "not a meshd database, or a damaged one" "$c, junk db"
	one_line "$c, junk db"
	run 1 "$c, db is a directory" -- "$MESHD" "$@" -d "$T/dirdb"
	err_has ": Is a directory$" "$c, db is a directory"
	one_line "$c, db is a directory"
done
if [ "$(cat "$T/junk/meshd.db")" = "not a database" ]; then ok; else bad "junk db changed"; fi
# a database from a newer meshd (schema version above ours)
if python3 -c 'import sqlite3' 2>/dev/null; then
	run 0 "init for the newer-schema case" -- "$MESHD" init -d "$T/newer" --name nw
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit()' \
	    "$T/newer/meshd.db"
	for c in "invite" "status" "up --tcp-port 5"; do
		set -- $c
		run 1 "$c, newer db" -- "$MESHD" "$@" -d "$T/newer"
		err_has "written by a newer meshd; upgrade meshd" "$c, newer db"
		one_line "$c, newer db"
	done
else
	echo "  (python3 sqlite3 missing: newer-schema case skipped)"
fi

echo "[5] invite"
run 0 "invite" -- env MESHD_INVITE_ENDPOINTS=192.0.2.1:51820 \
    "$MESHD" invite -d "$T/n1/state" --ttl 7d --uses 3
if [ "$(wc -l <"$OUT")" -eq 1 ]; then ok; else bad "invite printed $(wc -l <"$OUT") lines"; fi
tok=$(cat "$OUT")
case $tok in meshd-*) ok ;; *) bad "token '$tok' lacks the meshd- prefix" ;; esac
if [ ${#tok} -le 150 ]; then ok; else bad "token is ${#tok} chars"; fi
run 1 "invite, bad MESHD_INVITE_ENDPOINTS" -- env MESHD_INVITE_ENDPOINTS=nowhere \
    "$MESHD" invite -d "$T/n1/state"
err_has "MESHD_INVITE_ENDPOINTS" "bad MESHD_INVITE_ENDPOINTS"
one_line "bad MESHD_INVITE_ENDPOINTS"
for e in 0.0.0.0:51820 224.0.0.1:51820 "[ff02::1]:51820" "[fe80::1]:51820"; do
	run 1 "invite, MESHD_INVITE_ENDPOINTS=$e" -- env MESHD_INVITE_ENDPOINTS="$e" \
	    "$MESHD" invite -d "$T/n1/state"
	err_has "address '.*' cannot be used in a token \\(link-local, unspecified, multicast" \
	    "MESHD_INVITE_ENDPOINTS=$e"
done
# from the interfaces: a token, or a clear failure on a host with only lo
"$MESHD" invite -d "$T/n1/state" >"$OUT" 2>"$ERR"
case $? in
0) if grep -q '^meshd-' "$OUT"; then ok; else bad "invite from interfaces"; fi ;;
1) if grep -q 'no usable address' "$ERR"; then ok; else bad "invite from interfaces"; fi ;;
*) bad "invite from interfaces: exit code" ;;
esac
run 1 "invite, no node" -- "$MESHD" invite -d "$T/none"
err_has "no node in" "invite, no node"
[ -e "$T/none" ] && bad "invite created $T/none"

echo "[6] join: bad tokens, each its own message, nothing written"
J=$T/j/state
msgs=$T/msgs
: >"$msgs"
join_bad() {	# DESC TOKEN PATTERN [stdin]
	if [ $# -gt 3 ]; then
		printf ' %s \n' "$2" | "$MESHD" join - -d "$J" --port 40009 >"$OUT" 2>"$ERR"
	else
		"$MESHD" join "$2" -d "$J" --port 40009 >"$OUT" 2>"$ERR" </dev/null
	fi
	rc=$?
	if [ "$rc" = 1 ]; then ok; else bad "join $1: exit $rc, want 1"; fi
	err_has "$3" "join $1"
	one_line "join $1"
	cat "$ERR" >>"$msgs"
	[ -e "$T/j" ] && bad "join $1 created $T/j"
	rm -rf "$T/j"
}
join_bad "not a token" "hello-world" "not a meshd invite token"
# flip one character in the middle: mistyped
mid=$(( ${#tok} / 2 ))
c=$(printf '%s' "$tok" | cut -c$((mid + 1)))
[ "$c" = A ] && r=B || r=A
typo=$(printf '%s' "$tok" | cut -c1-$mid)$r$(printf '%s' "$tok" | cut -c$((mid + 2))-)
join_bad "typo" "$typo" "malformed"
join_bad "cut short" "$(printf '%s' "$tok" | cut -c1-40)" "cut short"
join_bad "stdin, cut short" "$(printf '%s' "$tok" | cut -c1-30)" "cut short" stdin
run 1 "join - with empty stdin" -- "$MESHD" join - -d "$J"
err_has "no invite token on standard input" "empty stdin"

if command -v python3 >/dev/null 2>&1; then
	craft() {	# VERSION EXPIRES_AT
		python3 - "$1" "$2" <<'EOF'
import base64, hashlib, os, struct, sys
ver, exp = int(sys.argv[1]), int(sys.argv[2])
p = bytes([ver]) + os.urandom(32) + struct.pack(">I", exp) + bytes([1, 4, 127, 0, 0, 1]) \
    + struct.pack(">H", 9)
p += hashlib.blake2b(p, digest_size=16, key=b"meshd token checksum v1").digest()[:4]
print("meshd-" + base64.urlsafe_b64encode(p).decode().rstrip("="))
EOF
	}
	join_bad "newer version" "$(craft 3 4000000000)" "unsupported token version"
	join_bad "expired" "$(craft 1 1000000)" "has expired"
	join_bad "stdin, expired" "$(craft 1 1000000)" "has expired" stdin
else
	echo "  (python3 missing: version and expiry cases skipped)"
fi
n=$(sort -u "$msgs" | wc -l)
want=$(sort "$msgs" | uniq -c | wc -l)
if [ "$n" -ge 4 ] && [ "$n" = "$want" ]; then ok; else bad "bad-token messages not distinct"; fi

echo "[7] join against loopback: busy port, then no inviter (timeout)"
# No port here is found free, closed and bound again later: anyone may take
# it in between, and then the case fails for the wrong reason. A helper
# keeps two UDP sockets open for the whole section, on ports the kernel
# picks, and writes them (atomically) to $T/ports:
#   dead  127.0.0.1:dead, the inviter in the token: bound, never answers
#   busy  0.0.0.0:busy, the port the first join is told to use
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import os, socket, sys, time
dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); dead.bind(("127.0.0.1", 0))
busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); busy.bind(("0.0.0.0", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %d\n" % (dead.getsockname()[1], busy.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)' "$T/ports" &
	HOLDER=$!
	if ! wait_for 20 ports_or_dead "$T/ports" "$HOLDER" || [ ! -s "$T/ports" ]; then
		echo "cli_usage: the port-holding helper did not start" >&2
		exit 99
	fi
	read -r dead busy <"$T/ports"
	if MESHD_INVITE_ENDPOINTS=127.0.0.1:$dead "$MESHD" invite -d "$T/n1/state" >"$T/tok" \
	    2>"$ERR"; then ok; else bad "invite to loopback"; fi
	# a state directory join could not create is refused before the
	# inviter is asked (else the invite is spent on a node never stored)
	: >"$T/afile"
	mkdir -m 755 "$T/shared" && : >"$T/shared/other"
	for d in "$T/afile|exists and is not a directory" \
	    "$T/afile/sub|cannot create $T/afile/sub: Not a directory" \
	    "$T/shared|accessible by other users"; do
		run 1 "join -d ${d%%|*}" -- "$MESHD" join "$(cat "$T/tok")" -d "${d%%|*}" --port "$busy"
		err_has "${d#*|}" "join -d ${d%%|*}"
		one_line "join -d ${d%%|*}"
	done
	[ -e "$T/shared/meshd.db" ] && bad "join wrote into a shared dir"
	run 1 "join on a busy port" -- "$MESHD" join "$(cat "$T/tok")" -d "$J" --port "$busy"
	err_has "UDP port $busy is in use" "busy port"
	[ -e "$T/j" ] && bad "busy-port join created $T/j"
	# This join binds its port itself, so nobody can hold it for it: the
	# candidate lies below the kernel's ephemeral range (no autobind takes
	# it), and should another program own it, "in use" means try another.
	for _ in 1 2 3 4 5; do
		"$MESHD" join "$(cat "$T/tok")" -d "$J" --port "$(candidate_port)" --name delta \
		    >"$OUT" 2>"$ERR" </dev/null
		rc=$?
		grep -q 'is in use' "$ERR" || break
	done
	if [ "$rc" = 1 ]; then ok; else bad "join, inviter unreachable: exit $rc, want 1"; fi
	err_has "inviter unreachable" "timeout"
	one_line "timeout"
	[ -e "$T/j" ] && bad "timed-out join created $T/j"
	kill "$HOLDER" 2>/dev/null
	wait "$HOLDER" 2>/dev/null
	HOLDER=
fi
run 1 "join into an initialised dir" -- "$MESHD" join "$(cat "$T/tok" 2>/dev/null || echo "$tok")" \
    -d "$T/n1/state"
err_has "already holds a node" "join into an initialised dir"

echo "[8] status, revoke, down without a daemon"
run 1 "status, not running" -- "$MESHD" status -d "$T/n1/state"
err_has "^meshd: not running \\($T/n1/state/meshd.sock: " "status, not running"
one_line "status, not running"
out_has "^status: +not running \\(stored state" "status, not running: marked"
out_has "^node: +alpha \\(alpha\\." "status, not running: the stored node"
out_has "^admin: +yes$" "status, not running: admin from the store"
run 1 "status --json, not running" -- "$MESHD" status --json -d "$T/n1/state"
err_has "^meshd: not running \\($T/n1/state/meshd.sock: " "status --json, not running"
one_line "status --json, not running"
out_has '^\{"running": false, "node": \{"name": "alpha", ' "status --json, not running: stored"
if [ "$(wc -l <"$OUT")" -eq 1 ]; then ok; else bad "status --json, not running: not one line"; fi
if command -v python3 >/dev/null 2>&1; then
	if python3 -c 'import json, sys; j = json.load(sys.stdin)
sys.exit(0 if j["running"] is False and j["node"]["admin"] is True and j["peers"] == [] else 1)' \
	    <"$OUT"; then ok; else bad "status --json, not running: not the stored state as JSON"; fi
fi
run 1 "status, no node" -- "$MESHD" status -d "$T/none"
err_has "^meshd: not running \\($T/none/meshd.sock: " "status, no node"
if [ -s "$OUT" ]; then bad "status, no node: printed a state"; else ok; fi
[ -e "$T/none" ] && bad "status created $T/none"
# invite with a daemon: the request goes to the control socket and the
# answer is printed; the store is not opened. A stand-in daemon (python3)
# answers on $T/n1/state/meshd.sock and records each request line.
if command -v python3 >/dev/null 2>&1; then
	cat >"$T/fake.py" <<'PYEOF'
import os, socket, sys
path, log, answer = sys.argv[1], sys.argv[2], sys.argv[3].encode().decode("unicode_escape")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
s.settimeout(20)	# a client that stops asking must not hang the test
open(path + ".ready", "w").close()
# the first BUSY connections are turned away unread, as a daemon with all
# its control connections in use does
busy = int(sys.argv[5]) if len(sys.argv) > 5 else 0
for _ in range(busy):
    c, _ = s.accept()
    c.sendall(b"error: too many control connections\n")
    c.close()
for _ in range(int(sys.argv[4])):
    c, _ = s.accept()
    c.settimeout(5)
    req = b""
    while not req.endswith(b"\n"):
        b = c.recv(512)
        if not b:
            break
        req += b
    with open(log, "ab") as f:
        f.write(req)
    c.sendall(answer.encode())
    c.close()
s.close()
os.unlink(path)
PYEOF
	fake() { # fake ANSWER N [BUSY]: serve N requests with ANSWER, in the background
		rm -f "$T/n1/state/meshd.sock.ready" "$T/req"
		python3 "$T/fake.py" "$T/n1/state/meshd.sock" "$T/req" "$1" "$2" "${3:-0}" &
		HOLDER=$!
		wait_for 5 test -e "$T/n1/state/meshd.sock.ready" || bad "stand-in daemon did not start"
	}
	fake_done() {
		wait "$HOLDER" 2>/dev/null
		HOLDER=
	}
	fake 'ok\nmeshd-FROMTHEDAEMON\n' 2
	run 0 "invite via the daemon" -- env MESHD_INVITE_ENDPOINTS='192.0.2.1:51820, [2001:db8::7]:51820' \
	    "$MESHD" invite -d "$T/n1/state" --ttl 7d --uses 3
	if [ "$(cat "$OUT")" = meshd-FROMTHEDAEMON ]; then ok; else bad "invite via the daemon: printed '$(cat "$OUT")'"; fi
	run 0 "invite via the daemon, host addresses" -- "$MESHD" invite -d "$T/n1/state"
	fake_done
	if [ "$(cat "$T/req")" = "invite 604800 3 192.0.2.1:51820,[2001:db8::7]:51820
invite 86400 1" ]; then ok; else bad "invite requests: $(tr '\n' '|' <"$T/req")"; fi
	fake 'error: this node is not an admin of the mesh; only admins can invite\n' 1
	run 1 "invite via the daemon, refused" -- "$MESHD" invite -d "$T/n1/state"
	fake_done
	err_has "^meshd: this node is not an admin of the mesh; only admins can invite$" "invite refused"
	one_line "invite refused"
	if [ -s "$OUT" ]; then bad "invite refused: printed a token"; else ok; fi
	# a daemon busy with other control connections: asked again, not
	# "Broken pipe" (the request was never read, so it is safe to repeat)
	fake 'ok\nmeshd-AFTERBUSY\n' 1 3
	run 0 "invite, daemon busy three times" -- "$MESHD" invite -d "$T/n1/state"
	fake_done
	if [ "$(cat "$OUT")" = meshd-AFTERBUSY ]; then ok; else bad "invite after busy: printed '$(cat "$OUT")'"; fi
	if [ "$(cat "$T/req")" = "invite 86400 1" ]; then ok; else bad "invite after busy: requests $(tr '\n' '|' <"$T/req")"; fi
	# bad MESHD_INVITE_ENDPOINTS is refused before the daemon is asked
	run 1 "invite, bad endpoints, checked before asking" -- env MESHD_INVITE_ENDPOINTS=nowhere \
	    "$MESHD" invite -d "$T/n1/state"
	err_has "MESHD_INVITE_ENDPOINTS: invalid endpoint 'nowhere'" "invite, bad endpoints"
fi
run 0 "down, not running" -- "$MESHD" down -d "$T/n1/state"
err_has "^meshd: not running$" "down, not running"
run 1 "revoke unknown member" -- "$MESHD" revoke ghost -d "$T/n1/state"
err_has "no member called 'ghost'" "revoke unknown"
run 1 "revoke self" -- "$MESHD" revoke alpha -d "$T/n1/state"
one_line "revoke self"
run 1 "revoke, no node" -- "$MESHD" revoke ghost -d "$T/none"
err_has "no node in" "revoke, no node"
run 1 "up, no node" -- "$MESHD" up -d "$T/none"
err_has "no node in" "up, no node"

echo "[9] subnet routes and names: strict values, no daemon"
for v in "Corp" "-corp" "corp-" "co.rp" "" "$(printf 'a%.0s' $(seq 64))"; do
	run 2 "init --mesh-name '$v'" -- "$MESHD" init -d "$T/x" --mesh-name "$v"
	err_has "invalid mesh name" "init --mesh-name '$v'"
done
[ -e "$T/x" ] && bad "a refused init created $T/x"
run 0 "init --mesh-name corp" -- "$MESHD" init -d "$T/n4" --name gwa --mesh-name corp
out_has "mesh 'corp'" "init --mesh-name: summary"
# route_bad WANT_PATTERN LIST: `up --advertise-routes LIST` is a usage error
route_bad() {
	run 2 "up --advertise-routes '$2'" -- "$MESHD" up -d "$T/n1/state" --advertise-routes "$2"
	err_has "$1" "up --advertise-routes '$2'"
	err_has "^Run 'meshd up --help'" "up --advertise-routes '$2': hint"
}
route_bad "invalid --advertise-routes '': give CIDR" ""
route_bad "only digits, a-f" "10.1.0.0/24;reboot"
route_bad "only digits, a-f" "10.1.0.0/24, fd00:a::/64"
route_bad "only digits, a-f" "gg::/64"
route_bad "an empty entry" "10.1.0.0/24,,fd00:a::/64"
route_bad "an empty entry" "10.1.0.0/24,"
route_bad "length must be 0..32" "10.1.0.0/33"
route_bad "length must be 0..128" "fd00:a::/129"
route_bad "length must be 0..32" "10.1.0.0/"
route_bad "not an IPv4 address" "10.1.0/24"
route_bad "not an IPv6 address" "fd00:::a/64"
route_bad "did you mean 10.1.0.0/24" "10.1.0.1/24"
route_bad "did you mean fd00:a::/64" "fd00:a::1/64"
route_bad "default route" "0.0.0.0/0"
route_bad "'10.1.0.0/25' overlaps another entry" "10.1.0.0/24,10.1.0.0/25"
route_bad "at most 16 prefixes" "$(seq -s, -f '10.%g.0.0/16' 1 17)"
route_bad "longer than" "$(seq -s, -f '10.%g.0.0/16' 1 15),$(printf '1%.0s' $(seq 200))"
run 1 "up: route inside the overlay" -- "$MESHD" up -d "$T/n1/state" --advertise-routes 10.1.0.0/24,10.77.5.0/24
err_has "cannot advertise 10\\.77\\.5\\.0/24: it overlaps the mesh's overlay prefix 10\\.77\\.0\\.0/16" \
    "up: route inside the overlay"
one_line "up: route inside the overlay"
run 2 "up --hosts-file relative" -- "$MESHD" up -d "$T/n1/state" --hosts-file=hosts
err_has "invalid --hosts-file 'hosts': give an absolute path" "up --hosts-file relative"
run 2 "join --advertise-routes bad" -- "$MESHD" join meshd-x --advertise-routes 10.1.0.1/24
err_has "did you mean 10.1.0.0/24" "join --advertise-routes bad"
run 2 "set, nothing to set" -- "$MESHD" set -d "$T/n1/state"
err_has "nothing to set" "set, nothing to set"
run 2 "set, bad list" -- "$MESHD" set -d "$T/n1/state" --advertise-routes 10.1.0.0/24,nonE
err_has "invalid --advertise-routes" "set, bad list"
run 1 "set, not running" -- "$MESHD" set -d "$T/n1/state" --advertise-routes none
err_has "^meshd: not running; use 'meshd up --advertise-routes \\.\\.\\.'" "set, not running"
one_line "set, not running"
# with --tcp-port next to a setting that needs the daemon: all or nothing
for o in "--advertise-routes none" "--metrics 127.0.0.1:9100"; do
	run 1 "set $o --tcp-port, not running" -- "$MESHD" set -d "$T/n1/state" $o --tcp-port 555
	one_line "set $o --tcp-port, not running"
	if [ -s "$OUT" ]; then bad "set $o --tcp-port, not running: printed $(cat "$OUT")"; else ok; fi
	"$MESHD" status --json -d "$T/n1/state" 2>/dev/null | grep -q '"tcp_port": 0,' && ok ||
	    bad "set $o --tcp-port, not running: the TCP port was stored"
done
run 1 "routes, not running" -- "$MESHD" routes -d "$T/n1/state"
err_has "^meshd: not running" "routes, not running"
run 1 "routes --json, not running" -- "$MESHD" routes --json -d "$T/n1/state"
run 2 "routes, unknown verb" -- "$MESHD" routes -d "$T/n1/state" allow alpha 10.1.0.0/24
err_has "unknown verb 'allow'" "routes, unknown verb"
run 2 "routes approve, no CIDR" -- "$MESHD" routes approve alpha
err_has "approve needs NODE and CIDR" "routes approve, no CIDR"
run 2 "routes deny, nothing" -- "$MESHD" routes deny
err_has "deny needs NODE and CIDR" "routes deny, nothing"
run 2 "routes approve, extra" -- "$MESHD" routes approve alpha 10.1.0.0/24 more
err_has "unexpected argument 'more'" "routes approve, extra"
run 2 "routes approve --json" -- "$MESHD" routes --json approve alpha 10.1.0.0/24
err_has "--json only goes with the listing" "routes approve --json"
run 2 "routes approve, bad node" -- "$MESHD" routes approve Alpha 10.1.0.0/24
err_has "invalid node name 'Alpha'" "routes approve, bad node"
run 2 "routes approve, a list" -- "$MESHD" routes approve alpha 10.1.0.0/24,10.2.0.0/24
err_has "invalid CIDR" "routes approve, a list"
run 2 "routes deny, host bits" -- "$MESHD" routes deny alpha 10.2.0.9/24
err_has "did you mean 10.2.0.0/24" "routes deny, host bits"
run 2 "routes approve, none" -- "$MESHD" routes approve alpha none
run 1 "routes approve, not running" -- "$MESHD" routes approve alpha 10.1.0.0/24 -d "$T/n1/state"
err_has "^meshd: not running" "routes approve, not running"
one_line "routes approve, not running"

echo "[10] LOG_LEVEL: up and join refuse an unknown value, wg warns"
# Each case would fail before creating anything with a good LOG_LEVEL too
# (no node, a bad token, a bad interface name): nothing here can start a
# daemon, whatever the build does with LOG_LEVEL.
levels="error, info, verbose, debug or silent"
run 1 "up, LOG_LEVEL=bogus" -- env LOG_LEVEL=bogus "$MESHD" up -d "$T/none"
err_has "^meshd: invalid LOG_LEVEL 'bogus': use $levels" "up, LOG_LEVEL=bogus"
one_line "up, LOG_LEVEL=bogus"
run 1 "join, LOG_LEVEL=bogus" -- env LOG_LEVEL=bogus "$MESHD" join hello-world -d "$J"
err_has "^meshd: invalid LOG_LEVEL 'bogus': use $levels" "join, LOG_LEVEL=bogus"
one_line "join, LOG_LEVEL=bogus"
[ -e "$T/j" ] && bad "join with LOG_LEVEL=bogus created $T/j"
for l in error info verbose debug silent ""; do
	run 1 "up, LOG_LEVEL='$l'" -- env LOG_LEVEL="$l" "$MESHD" up -d "$T/none"
	err_has "no node in" "up, LOG_LEVEL='$l' is accepted"
done
# wg keeps wireguard-go's contract (an unknown value is no error): a
# warning, then the same failure as without LOG_LEVEL
run 1 "wg, LOG_LEVEL=bogus" -- env LOG_LEVEL=bogus "$MESHD" wg bad/name
err_has "^meshd: warning: unknown LOG_LEVEL 'bogus' \\(use $levels\\)" "wg, LOG_LEVEL=bogus"
err_has "invalid interface name 'bad/name'" "wg, LOG_LEVEL=bogus: the real error"
if [ "$(wc -l <"$ERR")" -eq 2 ]; then ok; else bad "wg, LOG_LEVEL=bogus: not two lines"; fi
run 1 "wg, LOG_LEVEL=info" -- env LOG_LEVEL=info "$MESHD" wg bad/name
one_line "wg, LOG_LEVEL=info"

echo "[11] every option a command takes is in the docs and the completion"
# The long options of `meshd CMD --help` must appear in: that command's
# entry of `meshd --help` (unless it ends in "[...]"), its SYNOPSIS lines
# and its .SS headers in man/meshd.8, and its list in the bash completion.
# -d, -i and -f count for --dir, --interface and --foreground.
MAN=${top_srcdir:-$(dirname "$0")/..}/man/meshd.8
COMP=${top_srcdir:-$(dirname "$0")/..}/contrib/completion/meshd.bash
if [ -r "$MAN" ] && [ -r "$COMP" ]; then
	"$MESHD" --help >"$T/top" 2>/dev/null
	for c in init up invite join status revoke down set routes graph wg; do
		"$MESHD" $c --help 2>/dev/null | grep -Eo -- '--[a-z][a-z-]*' | grep -vx -- --help |
		    sort -u >"$T/opts"
		awk -v c="$c" '$0 ~ "^  " c " " { on = 1; print; next }
		    on && /^        \[/ { print; next } { on = 0 }' "$T/top" >"$T/d.top"
		awk -v c="$c" '/^\.SH SYNOPSIS/ { s = 1 } /^\.SH DESCRIPTION/ { s = 0 }
		    s && $0 == ".B meshd " c { on = 1; next } on && /^\.br/ { on = 0 }
		    on { print }' "$MAN" | sed 's/\\-/-/g' >"$T/d.syn"
		grep "^\.SS meshd $c " "$MAN" | sed 's/\\-/-/g' >"$T/d.ss"
		grep -E "^[[:space:]]*([a-z]+ \| )*$c( \| [a-z]+)*\) opts=" "$COMP" >"$T/d.comp"
		while read -r o; do
			case $o in
			--dir) alt=-d ;; --interface) alt=-i ;; --foreground) alt=-f ;; *) alt=$o ;;
			esac
			for d in top syn ss comp; do
				[ $d = top ] && grep -q '\[\.\.\.\]' "$T/d.top" && continue
				if grep -Eq -- "(^|[^a-z-])($o|$alt)([^a-z-]|\$)" "$T/d.$d"; then ok; else
					: >"$ERR"; bad "$c $o: missing from $d ($(cat "$T/d.$d" | tr '\n' ' '))"; fi
			done
		done <"$T/opts"
		[ -s "$T/opts" ] || [ "$c" = down ] || bad "$c --help lists no options"
	done
else
	echo "  (man page or completion not found: skipped)"
fi

echo "cli_usage: $pass passed, $fail failed"
[ "$fail" = 0 ]
