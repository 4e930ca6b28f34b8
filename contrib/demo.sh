#!/bin/bash
# contrib/demo.sh: a live demo of meshd: two office sites and a laptop in one
# mesh (run as root; touches nothing outside the network namespaces it creates,
# and removes them at the end).
#
#        netns <pfx>-n1            netns <pfx>-n2            netns <pfx>-n3
#   +--------------------+    +--------------------+    +--------------------+
#   | meshd, site A gw   |    | meshd, site B gw   |    | meshd, laptop      |
#   | e0 198.51.100.1/24 |    | e0 198.51.100.2/24 |    | e0 198.51.100.3/24 |
#   | l0 10.1.0.1/24     |    | l0 10.2.0.1/24     |    +---------+----------+
#   |    fd00:a::1/64    |    |    fd00:b::1/64    |              |
#   +---+-----------+----+    +---+-----------+----+              |
#       |           +-------------|-- bridge br0 in netns <pfx>-lan
#   netns <pfx>-a1            netns <pfx>-b1          (the "internet")
#   10.1.0.11, fd00:a::11     10.2.0.11, fd00:b::11   (plain hosts, no meshd;
#                                                      default route via their gw)
#
# n1 creates the mesh `corp` (`meshd init`) and starts advertising its LAN
# (`meshd up --advertise-routes`); n2 and n3 join with tokens from `meshd
# invite` on n1, and n2 advertises its LAN (`meshd set`). Routes are used only
# once an admin approves them (`meshd routes approve` on n1): then a1 and b1
# reach each other and the laptop reaches both. n1 answers DNS for *.corp on
# its overlay address. `meshd status` and `wg show` on n1 close the demo.
#
# Environment: MESHD (default: ./build/meshd, ./meshd, then meshd in PATH).
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it creates network namespaces)" >&2
	exit 1
fi
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${MESHD:-}" ]; then
	for m in "$top/build/meshd" "$top/meshd" "$(command -v meshd || true)"; do
		if [ -n "$m" ] && [ -x "$m" ]; then MESHD=$m; break; fi
	done
fi
if [ ! -x "${MESHD:-}" ]; then
	echo "demo: meshd binary not found (build it, or set MESHD=/path/to/meshd)" >&2
	exit 1
fi

# The demo takes about 10 s; never let it hang (after 90 s timeout sends
# SIGTERM: the trap below stops the daemons and removes the namespaces).
if [ -z "${DEMO_UNDER_TIMEOUT:-}" ]; then
	export DEMO_UNDER_TIMEOUT=1 MESHD
	exec timeout --foreground -k 10 90 bash "$0" "$@"
fi

PFX="meshd-demo-$$"
WORK=$(mktemp -d)
NODES="n1 n2 n3"

cleanup() {
	local rc=$? n p
	set +e
	trap '' INT TERM HUP   # a second signal must not cut the cleanup short
	for n in $NODES; do
		[ -S "$WORK/$n/meshd.sock" ] && timeout 5 "$MESHD" down -d "$WORK/$n" 2>/dev/null
	done
	for n in $NODES a1 b1 lan; do
		# anything still running in our own namespaces is one of our daemons
		for p in $(ip netns pids "$PFX-$n" 2>/dev/null); do kill -KILL "$p"; done
		ip netns del "$PFX-$n" 2>/dev/null
	done
	for n in $NODES; do rm -f "/var/run/wireguard/md$$$n.sock"; done
	rm -rf "$WORK"
	echo "[demo] cleaned up (namespaces removed)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say() { printf '\n[demo] %s\n' "$*"; }
# on NODE CMD...: show CMD (on stderr: $(...) takes stdout) and run it in NODE's namespace
on() {
	local n=$1
	shift
	printf '  %s$ %s\n' "$n" "$*" | sed "s|$MESHD|meshd|; s|$WORK/||g" >&2
	ip netns exec "$PFX-$n" "$@"
}
quiet() { # quiet NODE CMD...: run CMD in NODE's namespace, output and command not shown
	local n=$1
	shift
	ip netns exec "$PFX-$n" "$@" >/dev/null 2>&1
}
meshd_in() { # meshd_in NODE ARGS...: meshd with this node's state dir
	local n=$1 cmd=$2
	shift 2
	on "$n" "$MESHD" "$cmd" -d "$WORK/$n" "$@"
}
json() { # json NODE STATUS|ROUTES PYTHON-EXPR: evaluate EXPR on j = `meshd CMD --json`
	"$MESHD" "$2" -d "$WORK/$1" --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($3)"
}
overlay4() { json "$1" status 'j["node"]["overlay_ipv4"].split("/")[0]'; }
# until_ok SECS CMD...: retry CMD every 0.2 s for up to SECS seconds
until_ok() {
	local i
	for i in $(seq "$(($1 * 5))"); do
		"${@:2}" && return 0
		sleep 0.2
	done
	echo "[demo] giving up after $1 s: ${*:2}" >&2
	return 1
}
pings() { # pings NODE DEST...: one ping to each DEST from NODE, shown
	local n=$1 d
	shift
	for d in "$@"; do
		until_ok 10 quiet "$n" ping -n -c 1 -W 1 "$d"
		on "$n" ping -n -c 1 -W 2 "$d" | grep -E 'bytes from|loss'
	done
}

say "the underlay: n1, n2, n3 on one bridge; a1 behind n1, b1 behind n2"
ip netns add "$PFX-lan"
ip -n "$PFX-lan" link add br0 type bridge
ip -n "$PFX-lan" link set br0 up
i=0
for n in $NODES a1 b1; do
	ip netns add "$PFX-$n"
	ip -n "$PFX-$n" link set lo up
done
for n in $NODES; do
	i=$((i + 1))
	ip -n "$PFX-$n" link add e0 type veth peer name "p$i" netns "$PFX-lan"
	ip -n "$PFX-lan" link set "p$i" master br0 up
	ip -n "$PFX-$n" addr add "198.51.100.$i/24" dev e0
	ip -n "$PFX-$n" link set e0 up
	echo "  $n: 198.51.100.$i/24"
done
# site_lan GW HOST NET: a veth GW/l0 <-> HOST/e0; GW is .1 and HOST .11 in
# 10.NET.0.0/24 and fd00:X::/64 (X = a or b); forwarding on in GW only.
site_lan() {
	local gw=$1 h=$2 k=$3 x
	x=$([ "$k" = 1 ] && echo a || echo b)
	ip -n "$PFX-$gw" link add l0 type veth peer name e0 netns "$PFX-$h"
	ip -n "$PFX-$gw" addr add "10.$k.0.1/24" dev l0
	ip -n "$PFX-$gw" addr add "fd00:$x::1/64" dev l0 nodad
	ip -n "$PFX-$h" addr add "10.$k.0.11/24" dev e0
	ip -n "$PFX-$h" addr add "fd00:$x::11/64" dev e0 nodad
	ip -n "$PFX-$gw" link set l0 up
	ip -n "$PFX-$h" link set e0 up
	ip -n "$PFX-$h" route add default via "10.$k.0.1"
	ip -n "$PFX-$h" -6 route add default via "fd00:$x::1"
	ip netns exec "$PFX-$gw" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	echo "  $h: 10.$k.0.11/24 fd00:$x::11/64 (site LAN of $gw)"
}
site_lan n1 a1 1
site_lan n2 b1 2

say "n1 creates the mesh 'corp' and advertises its LAN (interface names are unique per run)"
meshd_in n1 init --name n1 --mesh-name corp
meshd_in n1 up -i "md$$n1" --advertise-routes 10.1.0.0/24,fd00:a::/64

for n in n2 n3; do
	say "$n joins with a one-time token from n1"
	token=$(meshd_in n1 invite)
	echo "$token"
	on "$n" "$MESHD" join "$token" -d "$WORK/$n" --name "$n" -i "md$$$n"
done

say "n2 advertises its LAN too"
meshd_in n2 set --advertise-routes 10.2.0.0/24,fd00:b::/64

converged() { # every node has a direct path to the two others, n1 knows n2's routes
	local n
	for n in $NODES; do
		[ "$(json "$n" status 'sum(p["path"] == "direct" for p in j["peers"])')" = 2 ] || return 1
	done
	[ "$(json n1 routes '[len(x["advertised"]) for x in j["nodes"] if x["name"] == "n2"]')" = "[2]" ]
}
say "waiting until every node has a direct path to the two others"
until_ok 30 converged

say "advertised routes are not used until an admin approves them"
meshd_in n1 routes
for r in "n1 10.1.0.0/24" "n1 fd00:a::/64" "n2 10.2.0.0/24" "n2 fd00:b::/64"; do
	# shellcheck disable=SC2086 # NODE CIDR
	meshd_in n1 routes approve $r
done
meshd_in n1 routes

say "site A and site B talk through the mesh (IPv4 and IPv6); the laptop reaches both"
pings a1 10.2.0.11 fd00:b::11
pings n3 10.1.0.11 10.2.0.11

say "names: n1 answers DNS for *.corp on its overlay address (asked from the laptop)"
ns=$(overlay4 n1)
if command -v dig >/dev/null 2>&1; then
	on n3 dig +short "@$ns" n2.corp A
else
	# no dig here: a minimal DNS client (one A query; prints the answer)
	cat >"$WORK/dnsq.py" <<'EOF'
import socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
q = struct.pack("!6H", 7, 0x100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0\0\1\0\1"
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(2)
c.sendto(q, (server, 53))
r = c.recv(512)
ancount, rcode = struct.unpack("!H", r[6:8])[0], r[3] & 15
print(name, "A", socket.inet_ntoa(r[-4:]) if ancount else f"(no answer, rcode {rcode})")
EOF
	on n3 python3 "$WORK/dnsq.py" "$ns" n2.corp
fi
echo "  (n2's overlay IPv4 is $(overlay4 n2))"

say "meshd status on n1"
meshd_in n1 status
say "wg show on n1 (meshd's interface speaks the stock wg(8) API)"
on n1 wg show "md$$n1"
say "done: two sites and a laptop, one mesh, no configuration written by hand"
