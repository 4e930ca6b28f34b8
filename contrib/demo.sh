#!/bin/bash
# contrib/demo.sh: a live demo of a 3-node meshd mesh (run as root; touches
# nothing outside the network namespaces it creates, and removes them at the end).
#
#        netns <pfx>-n1            netns <pfx>-n2            netns <pfx>-n3
#   +--------------------+    +--------------------+    +--------------------+
#   | meshd (init + up)  |    | meshd (join)       |    | meshd (join)       |
#   | e0 198.51.100.1/24 |    | e0 198.51.100.2/24 |    | e0 198.51.100.3/24 |
#   +---------+----------+    +---------+----------+    +---------+----------+
#             +------------ bridge br0 in netns <pfx>-lan --------+
#
# n1 creates the mesh (`meshd init`, `meshd up`); n2 and n3 join it with tokens
# printed by `meshd invite` on n1; every pair then pings over the overlay
# addresses meshd assigned; `meshd status` and `wg show` on n1 close the demo.
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

PFX="meshd-demo-$$"
WORK=$(mktemp -d)
NODES="n1 n2 n3"

cleanup() {
	local rc=$? n p
	set +e
	for n in $NODES; do
		[ -S "$WORK/$n/meshd.sock" ] && "$MESHD" down -d "$WORK/$n" 2>/dev/null
	done
	for n in $NODES lan; do
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
meshd_in() { # meshd_in NODE ARGS...: meshd with this node's state dir
	local n=$1 cmd=$2
	shift 2
	on "$n" "$MESHD" "$cmd" -d "$WORK/$n" "$@"
}
overlay4() { # overlay4 NODE: the node's overlay IPv4 address, from status --json
	"$MESHD" status -d "$WORK/$1" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["overlay_ipv4"].split("/")[0])'
}

say "three namespaces on one LAN (a bridge in a fourth): the underlay"
ip netns add "$PFX-lan"
ip -n "$PFX-lan" link add br0 type bridge
ip -n "$PFX-lan" link set br0 up
i=0
for n in $NODES; do
	i=$((i + 1))
	ip netns add "$PFX-$n"
	ip -n "$PFX-$n" link set lo up
	ip -n "$PFX-$n" link add e0 type veth peer name "p$i" netns "$PFX-lan"
	ip -n "$PFX-lan" link set "p$i" master br0 up
	ip -n "$PFX-$n" addr add "198.51.100.$i/24" dev e0
	ip -n "$PFX-$n" link set e0 up
	echo "  $n: 198.51.100.$i/24"
done

say "n1 creates the mesh and starts (interface names are unique per demo run)"
meshd_in n1 init --name n1
meshd_in n1 up -i "md$$n1"

for n in n2 n3; do
	say "$n joins with a one-time token from n1"
	token=$(meshd_in n1 invite)
	echo "$token"
	on "$n" "$MESHD" join "$token" -d "$WORK/$n" --name "$n" -i "md$$$n"
done

say "waiting until every node has a direct path to the two others"
for _ in $(seq 100); do
	ok=1
	for n in $NODES; do
		c=$("$MESHD" status -d "$WORK/$n" --json | python3 -c \
			'import json,sys; print(sum(p["path"] == "direct" for p in json.load(sys.stdin)["peers"]))')
		[ "$c" = 2 ] || ok=0
	done
	[ "$ok" = 1 ] && break
	sleep 0.2
done

say "every node pings the two others over the overlay"
for a in $NODES; do
	for b in $NODES; do
		[ "$a" = "$b" ] && continue
		on "$a" ping -n -c 1 -W 2 "$(overlay4 "$b")" | grep -E 'bytes from|loss'
	done
done

say "meshd status on n1"
meshd_in n1 status
say "wg show on n1 (meshd's interface speaks the stock wg(8) API)"
on n1 wg show "md$$n1"
say "done: three nodes, one mesh, no configuration written by hand"
