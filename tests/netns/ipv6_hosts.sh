#!/bin/bash
# ipv6_hosts.sh: hosts as they come: one with IPv6 disabled, and a mesh whose
# underlay is IPv6-only.
#
#   ns $PFX-lan: bridge br0
#     n1  e0 198.18.0.1/24 2001:db8:18::1/64     dual stack, mesh A admin
#     n2  e0 198.18.0.2/24                        net.ipv6.conf.*.disable_ipv6=1
#     n3  e0 2001:db8:18::3/64                    IPv6 only (no IPv4 anywhere
#     n4  e0 2001:db8:18::4/64                    but lo): mesh B
#
# 1. n1 init + up; n2 (IPv6 disabled) joins: exit 0, one warning line about
#    IPv6; status shows the assigned overlay IPv6 marked not active
#    (JSON node.ipv6_active false); no IPv6 underlay socket; IPv4 pings both
#    ways over the overlay, path direct.
# 2. 10 s idle: n2's log grows by no warning or error line.
# 3. IPv6 comes back on n2: the overlay IPv6 address is added (bounded wait)
#    and n1 pings it.
# 4. n3 init + up, n4 joins over the IPv6-only underlay; path direct; pings
#    over the overlay, IPv4 and IPv6.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup vh 180 "$@"

for t in python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"
mkdir -p "$WORK/st"

declare -A NODE_IF=()
ndir() { printf '%s/%s' "$WORK" "$1"; }
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL=info "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}
track() {
	local pid
	pid=$(cat "$(ndir "$1")/meshd.pid" 2>/dev/null) || fail "$1: no meshd.pid"
	case $pid in '' | *[!0-9]*) fail "$1: meshd.pid holds '$pid'" ;; esac
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$1]}.sock")
	eval "PID_$1=$pid"
}
st() {
	m "$1" status -d "$(ndir "$1")" --json >"$WORK/st/$1.json" 2>/dev/null ||
		: >"$WORK/st/$1.json"
}
cat >"$WORK/q.py" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
cmd = sys.argv[2]
if cmd == "node":            # node FIELD: print node.FIELD
    v = j["node"].get(sys.argv[3])
    print("" if v is None else (str(v).lower() if isinstance(v, bool) else v))
elif cmd == "direct":        # direct NAME: exit 0 when peer NAME has path direct
    sys.exit(0 if any(p.get("name") == sys.argv[3] and p.get("path") == "direct"
                      for p in j.get("peers", [])) else 1)
EOF
q() { python3 "$WORK/q.py" "$@"; }
direct() { st "$1" && q "$WORK/st/$1.json" direct "$2"; }
ov() { # ov NODE FIELD: overlay address without prefix length
	st "$1"
	local a
	a=$(q "$WORK/st/$1.json" node "$2") || true
	printf '%s' "${a%/*}"
}
diag_dump() {
	local n f
	set +e
	for n in n1 n2 n3 n4; do
		echo "----- $n (if ${NODE_IF[$n]:-?}) -----"
		[ -d "$(ndir "$n")" ] &&
			timeout 3 ip netns exec "$(nsname "$n")" "$MESHD" status -d "$(ndir "$n")" 2>&1 | sed 's/^/    status| /'
		for f in "$WORK/$n.err" "$(ndir "$n")"/*.log; do
			[ -s "$f" ] || continue
			echo "    $(basename "$f") (last 25 lines):"
			tail -n 25 "$f" | sed 's/^/    | /'
		done
	done
}

step "topology: n1 dual stack, n2 IPv6 disabled, n3/n4 IPv6 only (one bridge)"
ns_add lan
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
for k in 1 2 3 4; do
	ns_add "n$k"
	if [ "$k" = 2 ]; then
		# Before any link exists, so every interface starts without IPv6.
		nx n2 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null || fail "disable IPv6 in n2"
	fi
	veth_add "n$k" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	NODE_IF[n$k]=$(ifname h "$k")
done
addr_add n1 e0 198.18.0.1/24 2001:db8:18::1/64
addr_add n2 e0 198.18.0.2/24
addr_add n3 e0 2001:db8:18::3/64
addr_add n4 e0 2001:db8:18::4/64
if ip -n "$(nsname n2)" -6 addr add 2001:db8:18::2/64 dev e0 nodad 2>/dev/null; then
	fail "n2: adding an IPv6 address worked; IPv6 is not disabled there"
fi
info "n2: adding an IPv6 address fails, as on a host with IPv6 disabled"

step "1. n1 init + up; n2 (IPv6 disabled) joins"
m n1 init -d "$(ndir n1)" --name n1 >/dev/null || fail "n1: init"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" >/dev/null || fail "n1: up"
track n1
tok=$(m n1 invite -d "$(ndir n1)") || fail "n1: invite"
: >"$WORK/n2.err"
m n2 join "$tok" -d "$(ndir n2)" --name n2 -i "${NODE_IF[n2]}" >"$WORK/n2.out" ||
	fail "n2: join failed on a host with IPv6 disabled"
track n2
w=$(grep -ci 'ipv6' "$WORK/n2.err" || true)
[ "$w" = 1 ] || fail "n2: want exactly one line about IPv6 on stderr, got $w"
pass "n2 joined; one warning: $(grep -i ipv6 "$WORK/n2.err")"

st n2
v6=$(q "$WORK/st/n2.json" node overlay_ipv6)
act=$(q "$WORK/st/n2.json" node ipv6_active)
[ -n "$v6" ] || fail "n2: status --json has no overlay_ipv6"
[ "$act" = false ] || fail "n2: node.ipv6_active is '$act', want false"
m n2 status -d "$(ndir n2)" >"$WORK/n2.status" || fail "n2: status"
grep -q 'not active' "$WORK/n2.status" || fail "n2: status does not say the overlay IPv6 is not active"
pass "n2 status: overlay IPv6 ${v6%/*} shown, not active"
if nx n2 ss -uanp 2>/dev/null | grep meshd | grep -q '\[::\]\|\*:'; then
	nx n2 ss -uanp | grep meshd | sed 's/^/    /'
	fail "n2: meshd has an IPv6 underlay socket with IPv6 disabled"
fi
pass "n2: no IPv6 underlay socket"

A1=$(ov n1 overlay_ipv4)
A2=$(ov n2 overlay_ipv4)
ping_first n1 "$A2" 15 || fail "n1 cannot ping n2 at $A2"
ping_first n2 "$A1" 15 || fail "n2 cannot ping n1 at $A1"
wait_for 20 direct n1 n2 || fail "n1 -> n2 not direct"
wait_for 20 direct n2 n1 || fail "n2 -> n1 not direct"
pass "IPv4 over the overlay both ways, path direct"

step "2. 10 s idle on n2: no new warning or error lines"
before=$(grep -ciE 'warn|error|err:' "$WORK/n2.err" || true)
lines0=$(wc -l <"$WORK/n2.err")
end=$(($(date +%s) + 10))
while [ "$(date +%s)" -lt "$end" ]; do
	ping_ok n2 "$A1" 1 || true
done
after=$(grep -ciE 'warn|error|err:' "$WORK/n2.err" || true)
[ "$after" = "$before" ] || {
	tail -n +"$((lines0 + 1))" "$WORK/n2.err" | sed 's/^/    | /'
	fail "n2: $((after - before)) new warning/error lines in 10 s"
}
pass "no error spam ($((after - before)) new warning/error lines)"

step "3. IPv6 comes back on n2: the overlay address is added"
nx n2 sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
	"net.ipv6.conf.${NODE_IF[n2]}.disable_ipv6=0" net.ipv6.conf.e0.disable_ipv6=0 >/dev/null ||
	fail "re-enable IPv6 in n2"
V62=${v6%/*}
has_v6() { nx n2 ip -6 addr show dev "${NODE_IF[n2]}" | grep -q "$V62"; }
t0=$(date +%s%N)
wait_for 20 has_v6 || fail "n2: overlay IPv6 $V62 not added within 20 s of IPv6 coming back"
pass "overlay IPv6 added $((($(date +%s%N) - t0) / 1000000)) ms after IPv6 came back"
ping_first n1 "$V62" 15 || fail "n1 cannot ping n2's overlay IPv6 $V62"
wait_for 10 sh -c "ip netns exec $(nsname n2) $MESHD status -d $(ndir n2) --json | grep -q '\"ipv6_active\": *true'" ||
	fail "n2: status still says IPv6 is not active"
pass "n1 pings n2 over the overlay IPv6; n2's status says active"

step "4. an IPv6-only underlay: n3 init + up, n4 joins"
m n3 init -d "$(ndir n3)" --name n3 >/dev/null || fail "n3: init"
m n3 up -d "$(ndir n3)" -i "${NODE_IF[n3]}" >/dev/null || fail "n3: up"
track n3
tok=$(m n3 invite -d "$(ndir n3)") || fail "n3: invite"
m n4 join "$tok" -d "$(ndir n4)" --name n4 -i "${NODE_IF[n4]}" >/dev/null ||
	fail "n4: join over an IPv6-only underlay failed"
track n4
B3=$(ov n3 overlay_ipv4)
B4=$(ov n4 overlay_ipv4)
C3=$(ov n3 overlay_ipv6)
C4=$(ov n4 overlay_ipv6)
ping_first n3 "$B4" 15 || fail "n3 cannot ping n4 at $B4"
ping_first n4 "$B3" 15 || fail "n4 cannot ping n3 at $B3"
ping_first n3 "$C4" 15 || fail "n3 cannot ping n4 at $C4"
ping_first n4 "$C3" 15 || fail "n4 cannot ping n3 at $C3"
wait_for 20 direct n3 n4 || fail "n3 -> n4 not direct"
wait_for 20 direct n4 n3 || fail "n4 -> n3 not direct"
pass "IPv6-only underlay: overlay IPv4 and IPv6 both ways, path direct"
exit 0
