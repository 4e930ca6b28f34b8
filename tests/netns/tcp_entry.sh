#!/bin/bash
# tcp_entry.sh: the TCP entry of docs/decisions.md D17, its first layers:
# `--tcp-port` stored and changed, the listener, the advertisement in the
# endpoint record, what `status` shows, and how the listener treats
# strangers. (The connecting side, a member that falls back to TCP, is the
# next layer: tests/netns/tcp_fallback.sh will cover it.)
#
#   ns $PFX-n1 .. $PFX-n3: one meshd node each, e0 198.18.0.K/24 --veth--
#   pK in ns $PFX-lan (bridge br0).
#
# 1. Bad values are usage errors: --tcp-port 70000, abc, -1.
# 2. n1 init --tcp-port 443 + up; n2 joins; n3 joins with --tcp-port 8443.
#    n1's status: tcp_port 443, one endpoint 198.18.0.1:443 with transport
#    "tcp", every other endpoint "udp"; the table says so. All pairs go
#    direct over UDP (the TCP entry is never a UDP candidate: n1's nftables
#    counts no UDP to port 443).
# 3. Strangers: the entry speaks first (a 35-byte CHALLENGE frame); a wrong
#    AUTH is closed at once, a silent client within the 5 s auth deadline,
#    an absurd length at once; 100 connections from one address get at most
#    4 held; the mesh still pings and answers status meanwhile.
# 4. `set --tcp-port 0` stops the listener and withdraws the endpoint;
#    `set --tcp-port 8444` listens there; a busy port is refused with a clear
#    error and the old listener stays.
# 5. The setting survives `down` + `up`; `status` without a daemon shows it;
#    `set --tcp-port` with no daemon stores it for the next `up`; an `up`
#    whose --tcp-port is busy fails and leaves the stored port as it was.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup te 180 "$@"

for t in python3 ping nft ss; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"
PY=$(command -v /usr/bin/python3 || command -v python3)

declare -A NODE_IF=()
ndir() { printf '%s/%s' "$WORK" "$1"; }
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL=info "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}
track() {
	local pid
	pid=$(cat "$(ndir "$1")/meshd.pid") || fail "$1: no meshd.pid"
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$1]}.sock")
}
diag_dump() {
	local n
	set +e
	for n in n1 n2 n3; do
		echo "----- $n -----"
		[ -d "$(ndir "$n")" ] &&
			timeout 3 ip netns exec "$(nsname "$n")" "$MESHD" status -d "$(ndir "$n")" 2>&1 | sed 's/^/    | /'
		[ -s "$WORK/$n.err" ] && tail -n 20 "$WORK/$n.err" | sed 's/^/    err| /'
	done
}
# js NODE EXPR: EXPR over n's `status --json` (as j), printed. (Without a
# daemon, status prints the stored state and exits 1.)
js() {
	m "$1" status -d "$(ndir "$1")" --json >"$WORK/st.$1.json" 2>/dev/null || true
	[ -s "$WORK/st.$1.json" ] || return 1
	"$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$WORK/st.$1.json" "$2"
}
tcp_eps() { js "$1" '" ".join(e["addr"] for e in j["node"]["endpoints"] if e["transport"] == "tcp")'; }
listening() { nx "$1" ss -Hltn "sport = :$2" | grep -q LISTEN; }
not_listening() { ! listening "$@"; }
all_direct() {
	local k
	for k in 1 2 3; do
		[ "$(js "n$k" 'sum(p["path"] == "direct" for p in j["peers"])')" = 2 ] || return 1
	done
}

step "topology: 3 nodes on one bridge"
ns_add lan
ip -n "$(nsname lan)" link set lo up
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
for k in 1 2 3; do
	ns_add "n$k"
	veth_add "n$k" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	addr_add "n$k" e0 "198.18.0.$k/24"
	NODE_IF[n$k]=$(ifname m "$k")
done
# n1 counts UDP arriving for port 443: the TCP entry must never be a UDP candidate
nx n1 nft -f - <<'EOF'
table inet te {
	counter udp443 { }
	chain in { type filter hook input priority 0; udp dport 443 counter name udp443; }
}
EOF

step "1. bad --tcp-port values are usage errors"
for v in 70000 abc -1 ''; do
	rc=0
	m n1 init -d "$(ndir bad)" --name bad --tcp-port "$v" >/dev/null 2>"$WORK/bad.err" || rc=$?
	[ "$rc" = 2 ] || fail "init --tcp-port '$v': exit $rc, want 2"
	[ ! -e "$(ndir bad)" ] || fail "init --tcp-port '$v' left $(ndir bad) behind"
done
grep -q "invalid --tcp-port '70000'" "$WORK/n1.err" || fail "no clear message for 70000: $(tail -n 3 "$WORK/n1.err")"
pass "70000, abc, -1 and '' refused with exit 2, nothing created"

step "2. n1 init --tcp-port 443 + up; n2 joins; n3 joins with --tcp-port 8443"
m n1 init -d "$(ndir n1)" --name n1 --mesh-name lab --tcp-port 443 >/dev/null || fail "init n1"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" >/dev/null || fail "up n1"
track n1
tok=$(m n1 invite -d "$(ndir n1)") || fail "invite"
m n2 join "$tok" -d "$(ndir n2)" --name n2 -i "${NODE_IF[n2]}" >/dev/null || fail "join n2"
track n2
tok=$(m n1 invite -d "$(ndir n1)") || fail "invite"
m n3 join "$tok" -d "$(ndir n3)" --name n3 -i "${NODE_IF[n3]}" --tcp-port 8443 >/dev/null ||
	fail "join n3"
track n3
listening n1 443 || fail "n1 does not listen on TCP 443"
listening n3 8443 || fail "n3 does not listen on TCP 8443"
not_listening n2 443 || fail "n2 listens on 443 without --tcp-port"
[ "$(js n1 'j["node"]["tcp_port"]')" = 443 ] || fail "n1 status: tcp_port $(js n1 'j["node"]["tcp_port"]')"
[ "$(js n2 'j["node"]["tcp_port"]')" = 0 ] || fail "n2 status: tcp_port not 0"
[ "$(tcp_eps n1)" = "198.18.0.1:443" ] || fail "n1 tcp endpoints: '$(tcp_eps n1)'"
[ "$(tcp_eps n3)" = "198.18.0.3:8443" ] || fail "n3 tcp endpoints: '$(tcp_eps n3)'"
[ -z "$(tcp_eps n2)" ] || fail "n2 advertises a TCP entry: $(tcp_eps n2)"
[ "$(js n1 'sorted(set(e["transport"] for e in j["node"]["endpoints"]))')" = "['tcp', 'udp']" ] ||
	fail "n1 endpoint transports: $(js n1 'j["node"]["endpoints"]')"
m n1 status -d "$(ndir n1)" >"$WORK/n1.txt" || fail "status n1"
grep -q '^tcp port: *443' "$WORK/n1.txt" || fail "n1 status table has no tcp port line: $(cat "$WORK/n1.txt")"
grep -q '198.18.0.1:443 (local, tcp)' "$WORK/n1.txt" || fail "n1 status table: no tcp endpoint"
wait_for 30 all_direct || fail "not all pairs direct within 30 s"
V4_3=$(js n1 '[p["overlay_ipv4"] for p in j["peers"] if p["name"] == "n3"][0]')
ping_ok n2 "$V4_3" || fail "n2 cannot ping n3 ($V4_3)"
for k in 2 3; do
	ep=$(js "n$k" '[p["endpoint"] for p in j["peers"] if p["name"] == "n1"][0]')
	[ "$ep" = "198.18.0.1:$(js n1 'j["node"]["listen_port"]')" ] || fail "n$k reaches n1 at $ep"
done
n443=$(nx n1 nft list counter inet te udp443 | sed -n 's/.*packets \([0-9]*\).*/\1/p')
[ "${n443:-x}" = 0 ] || fail "$n443 UDP datagrams to n1:443: the TCP entry was used as a UDP candidate"
pass "listeners on 443 and 8443, advertised as transport tcp, all pairs direct over UDP, no UDP to 443"

step "3. strangers at n1's TCP entry"
cat >"$WORK/stranger.py" <<'PYEOF'
import socket, sys, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def conn():
    s = socket.create_connection((host, port), timeout=3)
    s.settimeout(8)
    return s
def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d bytes" % len(b))
        b += c
    return b
def closed_within(s, secs):
    t = time.time()
    s.settimeout(secs + 1)
    try:
        while True:
            c = s.recv(4096)
            if not c:
                return time.time() - t
    except (ConnectionResetError, BrokenPipeError):
        return time.time() - t
    except socket.timeout:
        return None
if mode == "challenge":
    s = conn()
    f = read_exact(s, 37)
    assert f[:5] == bytes([0, 35, 0x54, 1, 1]), f[:5].hex()
    print("challenge ok")
elif mode == "badauth":
    s = conn()
    read_exact(s, 37)
    s.sendall(bytes([0, 3 + 16 + 64, 0x54, 1, 2]) + bytes(80))
    d = closed_within(s, 2)
    assert d is not None, "not closed after a wrong AUTH"
    print("badauth closed after %.2f s" % d)
elif mode == "silent":
    s = conn()
    read_exact(s, 37)
    d = closed_within(s, 7)
    assert d is not None and 3.5 < d < 7, "silent client: %r" % d
    print("silent closed after %.2f s" % d)
elif mode == "huge":
    s = conn()
    read_exact(s, 37)
    s.sendall(bytes([0xff, 0xff]) + bytes(100))
    d = closed_within(s, 2)
    assert d is not None, "not closed after an absurd length"
    print("huge length closed after %.2f s" % d)
elif mode == "many":
    socks, held = [], 0
    for i in range(100):
        try:
            socks.append(socket.create_connection((host, port), timeout=1))
        except OSError:
            pass
    time.sleep(1.0)
    for s in socks:
        s.settimeout(0.2)
        try:
            c = s.recv(64)
            held += 1 if c else 0
            if c:
                # still open after the challenge?
                s.settimeout(0.3)
                try:
                    if s.recv(64) == b"":
                        held -= 1
                except socket.timeout:
                    pass
                except OSError:
                    held -= 1
        except (socket.timeout, OSError):
            pass
    print("connections %d, held %d" % (len(socks), held))
    assert held <= 4, "held %d > 4 from one address" % held
PYEOF
for mode in challenge badauth silent huge many; do
	out=$(nx n2 timeout 30 "$PY" "$WORK/stranger.py" 198.18.0.1 443 "$mode" 2>&1) ||
		fail "stranger $mode: $out"
	info "$out"
done
ping_ok n2 "$V4_3" || fail "n2 cannot ping n3 after the strangers"
js n1 'j["node"]["name"]' >/dev/null || fail "n1 does not answer status after the strangers"
pass "challenge first; wrong AUTH, absurd length closed at once; silent closed at the deadline; 4 held of 100"

step "4. set --tcp-port: off, moved, busy port refused"
m n1 set -d "$(ndir n1)" --tcp-port 0 >/dev/null || fail "set --tcp-port 0"
wait_for 5 not_listening n1 443 || fail "n1 still listens on 443 after --tcp-port 0"
[ "$(js n1 'j["node"]["tcp_port"]')" = 0 ] || fail "tcp_port not 0 after off"
[ -z "$(tcp_eps n1)" ] || fail "n1 still advertises $(tcp_eps n1)"
m n1 set -d "$(ndir n1)" --tcp-port 8444 >/dev/null || fail "set --tcp-port 8444"
listening n1 8444 || fail "n1 does not listen on 8444"
[ "$(tcp_eps n1)" = "198.18.0.1:8444" ] || fail "n1 advertises '$(tcp_eps n1)' after the move"
# a busy port: another program holds TCP 9000 in n1's namespace
bg hold nx n1 "$PY" -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(1); print("holding", flush=True); time.sleep(120)'
wait_for 5 listening n1 9000 || fail "the holder did not bind 9000"
rc=0
m n1 set -d "$(ndir n1)" --tcp-port 9000 >/dev/null || rc=$?
[ "$rc" = 1 ] || fail "set --tcp-port on a busy port: exit $rc, want 1"
grep -q "^meshd: cannot listen on TCP port 9000: Address already in use" "$WORK/n1.err" ||
	fail "busy port message: $(grep -v '^meshd [a-z0-9]*: ' "$WORK/n1.err" | tail -n 3)"
listening n1 8444 || fail "the old listener on 8444 is gone after the refused move"
[ "$(js n1 'j["node"]["tcp_port"]')" = 8444 ] || fail "tcp_port changed by a refused move"
pass "off stops and withdraws, a move re-advertises, a busy port is refused and 8444 stays"

step "5. the setting survives down + up; status and set without a daemon"
m n1 down -d "$(ndir n1)" >/dev/null || fail "down n1"
wait_for 10 not_listening n1 8444 || fail "8444 still open after down"
[ "$(js n1 'j["running"]')" = False ] || fail "status says running after down"
[ "$(js n1 'j["node"]["tcp_port"]')" = 8444 ] || fail "stored tcp_port not shown without a daemon"
m n1 set -d "$(ndir n1)" --tcp-port 8445 >"$WORK/set.out" || fail "set with no daemon"
grep -q "next 'meshd up'" "$WORK/set.out" || fail "set without daemon: $(cat "$WORK/set.out")"
# an up that fails on its --tcp-port (9000 is still held) keeps the stored 8445
rc=0
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" --tcp-port 9000 >/dev/null || rc=$?
[ "$rc" = 1 ] || fail "up --tcp-port on a busy port: exit $rc, want 1"
[ "$(js n1 'j["node"]["tcp_port"]')" = 8445 ] ||
	fail "a failed up --tcp-port 9000 left tcp_port $(js n1 'j["node"]["tcp_port"]') stored"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" >/dev/null || fail "up n1 again"
track n1
listening n1 8445 || fail "n1 does not listen on the stored 8445 after up"
wait_for 30 all_direct || fail "not all pairs direct again within 30 s"
pass "stored across down/up, shown without a daemon, set offline for the next up, kept by a failed up"
