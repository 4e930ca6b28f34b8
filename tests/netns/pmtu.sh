#!/bin/bash
# pmtu.sh: path MTU discovery between two meshd members whose underlay path
# crosses a small-MTU link, with and without ICMP.
#
#   a 198.51.100.2 --- r1 198.51.100.1 | 10.99.0.1 ==[MTU M]== 10.99.0.2 r2 | 203.0.113.1 --- b 203.0.113.2
#
# Cases (each with a fresh pair: a init + up, b join):
#   1280       M = 1280, routers send ICMP "fragmentation needed"
#   1280-noicmp M = 1280, both routers drop every ICMP they would send
#              (nftables output chain): a black hole only probing can find
#   1492       M = 1492 (PPPoE): 1420-byte inner packets fit IPv4 (1480)
# For each: 20 MB over TCP a -> b through the overlay started right after
# `join` returns (before any path MTU is known: it must complete, not
# stall), then the wait until both members report the expected path MTU in
# `status --json` (peers[].mtu; 1280 for a 1280 link, 1480 = all the tunnel
# needs for 1492), the search time from the logs, then 20 MB b -> a; sha256
# compared each way. Prints times and throughput.
# PMTU_CASES="1280 1492" runs a subset.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup pm 400 "$@"

for t in nft python3 sha256sum; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

: "${PMTU_CASES:=1280 1280-noicmp 1492}"
: "${PMTU_LOG_LEVEL:=info}"
SIZE_MB=20
DISCOVER_MAX_S=20
XFER_MAX_S=90
RESULTS=()

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

step "topology: a - r1 ==small link== r2 - b"
for n in a r1 r2 b; do ns_add "$n"; done
veth_add a eth0 r1 lan0
veth_add r1 mid0 r2 mid0
veth_add r2 lan0 b eth0
addr_add a eth0 198.51.100.2/24
addr_add r1 lan0 198.51.100.1/24
addr_add r1 mid0 10.99.0.1/30
addr_add r2 mid0 10.99.0.2/30
addr_add r2 lan0 203.0.113.1/24
addr_add b eth0 203.0.113.2/24
ip -n "$(nsname a)" route add default via 198.51.100.1
ip -n "$(nsname b)" route add default via 203.0.113.1
ip -n "$(nsname r1)" route add 203.0.113.0/24 via 10.99.0.2
ip -n "$(nsname r2)" route add 198.51.100.0/24 via 10.99.0.1
for r in r1 r2; do
	nx "$r" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
	nx "$r" nft add table inet pm
	nx "$r" nft add chain inet pm out '{ type filter hook output priority 0; }'
done
mkdir -p "$WORK/blob"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$WORK/blob/data"
WANT_SUM=$(sha256sum "$WORK/blob/data" | cut -d' ' -f1)

cat >"$WORK/pm.py" <<'EOF'
import hashlib, json, socket, sys
cmd = sys.argv[1]
if cmd == "mtu":             # mtu STATUS.json PEER: the peer's mtu or ""
    try:
        j = json.load(open(sys.argv[2]))
        for p in j["peers"]:
            if p["name"] == sys.argv[3]:
                print(p.get("mtu") or "")
    except Exception:
        pass
elif cmd == "addr":          # addr STATUS.json: our overlay IPv4
    print(json.load(open(sys.argv[2]))["node"]["overlay_ipv4"])
elif cmd == "recv":          # recv ADDR PORT OUT: one connection, sha256 into OUT
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    open(sys.argv[4], "w").write(f"{h.hexdigest()} {n}\n")
elif cmd == "send":          # send ADDR PORT FILE
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
    with open(sys.argv[4], "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            c.sendall(b)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
EOF
py() { python3 "$WORK/pm.py" "$@"; }

declare -A DIR=() IFN=() PID=()
mm() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL="$PMTU_LOG_LEVEL" "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}
track() {
	local n=$1 p
	p=$(cat "${DIR[$n]}/meshd.pid") || fail "$n: no pid file"
	PID[$n]=$p
	PID_LIST+=("$p")
	SOCK_LIST+=("$WG_SOCK_DIR/${IFN[$n]}.sock")
}
stop_node() {
	local n=$1 p=${PID[$1]:-}
	[ -n "$p" ] || return 0
	mm "$n" down -d "${DIR[$n]}" >/dev/null 2>&1 || kill -TERM "$p" 2>/dev/null || true
	wait_for 5 eval "! kill -0 $p 2>/dev/null" || kill -KILL "$p" 2>/dev/null || true
	unset "PID[$n]"
}
st() { mm "$1" status -d "${DIR[$1]}" --json >"$WORK/$1.json" 2>/dev/null || : >"$WORK/$1.json"; }
mtu_is() { # mtu_is NODE PEER WANT
	st "$1"
	[ "$(py mtu "$WORK/$1.json" "$2")" = "$3" ]
}
both_mtu() { mtu_is a b "$1" && mtu_is b a "$1"; }

# xfer FROM TO: 20 MB from FROM to TO's overlay address; sets XFER_MS.
xfer() {
	local from=$1 to=$2 addr port=5001 out="$WORK/sum.$1.$2" rpid t
	addr=$(py addr "$WORK/$to.json")
	rm -f "$out" "$WORK/ready"
	nx "$to" timeout "$XFER_MAX_S" python3 "$WORK/pm.py" recv "$addr" $port "$out" \
		>"$WORK/ready" 2>>"$WORK/xfer.err" 9>&- &
	rpid=$!
	PID_LIST+=("$rpid")
	wait_for 5 grep -q ready "$WORK/ready" || fail "receiver on $to did not start"
	t=$(now_ms)
	nx "$from" timeout "$XFER_MAX_S" python3 "$WORK/pm.py" send "$addr" $port \
		"$WORK/blob/data" 2>>"$WORK/xfer.err" 9>&- ||
		fail "$from -> $to: transfer did not complete within ${XFER_MAX_S}s"
	wait "$rpid" || fail "$from -> $to: receiver failed"
	XFER_MS=$(($(now_ms) - t))
	[ "$(cut -d' ' -f1 "$out")" = "$WANT_SUM" ] ||
		fail "$from -> $to: sha256 differs ($(cat "$out"))"
}

run_case() {
	local c=$1 m icmp=1 want t disc ab ba
	case $c in
	1280) m=1280 ;;
	1280-noicmp) m=1280; icmp=0 ;;
	1492) m=1492 ;;
	*) fail "unknown case $c" ;;
	esac
	want=$m
	[ "$m" -gt 1480 ] && want=1480	# 1420 + 32 + 28: all the tunnel needs
	step "case $c: link MTU $m, ICMP $([ $icmp = 1 ] && echo on || echo dropped)"
	for r in r1 r2; do
		ip -n "$(nsname "$r")" link set mid0 mtu "$m"
		nx "$r" nft flush chain inet pm out
		# also forget what the routers' own stack learnt
		ip -n "$(nsname "$r")" route flush cache 2>/dev/null || true
		[ $icmp = 1 ] || nx "$r" nft add rule inet pm out meta l4proto '{ icmp, ipv6-icmp }' drop
	done
	for n in a b; do
		DIR[$n]="$WORK/$c.$n"
		IFN[$n]=$(ifname "$n" "${c%%-*}$icmp")
	done
	mm a init -d "${DIR[a]}" --name a >/dev/null || fail "a: init"
	mm a up -d "${DIR[a]}" -i "${IFN[a]}" >/dev/null || fail "a: up"
	track a
	tok=$(mm a invite -d "${DIR[a]}" --uses 1) || fail "a: invite"
	mm b join "$tok" -d "${DIR[b]}" --name b -i "${IFN[b]}" >/dev/null || fail "b: join"
	t=$(now_ms)
	track b
	# the first bulk transfer starts at once, before any path MTU is known
	st b
	xfer a b
	ab=$XFER_MS
	info "r1 after the first transfer: $(nx r1 cat /proc/net/snmp | awk '/^Ip:/ { if (!h) { split($0, k); h = 1 } else for (i = 2; i <= NF; i++) if (k[i] ~ /^(ForwDatagrams|FragFails|FragCreates)$/) printf "%s=%s ", k[i], $i }')"
	wait_for "$DISCOVER_MAX_S" both_mtu "$want" ||
		fail "case $c: path MTU not $want on both within ${DISCOVER_MAX_S}s (a sees '$(py mtu "$WORK/a.json" b)', b sees '$(py mtu "$WORK/b.json" a)')"
	disc=$(($(now_ms) - t))
	info "path MTU $want on both sides $(secs "$disc") s after the join"
	srch=$(grep -ho "path MTU $want (was 0; search [0-9]* ms" "$WORK/a.err" "$WORK/b.err" 2>/dev/null |
		sed 's/.*search //; s/ ms//' | sort -n | tail -n 1)
	info "search (from the direct path to the MTU), slower side: ${srch:-?} ms"
	grep -h "path MTU\|direct path\|no direct" "$WORK/a.err" "$WORK/b.err" 2>/dev/null | tail -n 12 | sed "s/^/       log: /" || true
	st a
	st b
	mm a status -d "${DIR[a]}" 2>/dev/null | grep -E '^(NAME|b ) ' | sed 's/^/       /' || true
	xfer b a
	ba=$XFER_MS
	info "20 MB a->b (started right after the join) $(secs "$ab") s ($((SIZE_MB * 8 * 1000 / (ab > 0 ? ab : 1))) Mbit/s), b->a $(secs "$ba") s ($((SIZE_MB * 8 * 1000 / (ba > 0 ? ba : 1))) Mbit/s), sha256 ok"
	RESULTS+=("$c: mtu $want: search ${srch:-?} ms, on both $(secs "$disc") s after the join; 20 MB a->b $(secs "$ab") s, b->a $(secs "$ba") s")
	pass "case $c"
	stop_node b
	stop_node a
	: >"$WORK/a.err"
	: >"$WORK/b.err"
}

for c in $PMTU_CASES; do
	run_case "$c"
done
echo "[SUMMARY]"
for r in "${RESULTS[@]}"; do info "$r"; done
