#!/bin/bash
# contrib/demo.sh: a live demo of `meshd wg` (run as root; touches nothing outside
# the two network namespaces it creates, and removes them when it ends).
#
#   netns meshd-demo-<pid>-alice                 netns meshd-demo-<pid>-bob
#   +--------------------------------+           +--------------------------------+
#   | mdalice<pid>   100.64.0.1/24   | WireGuard | mdbob<pid>     100.64.0.2/24   |
#   | (meshd wg)     fd00:64::1/64   |<=========>| (meshd wg)     fd00:64::2/64   |
#   | veth0 198.51.100.1/24   :51820 +-----------+ veth0 198.51.100.2/24   :51820 |
#   +--------------------------------+   veth    +--------------------------------+
#
# Steps: two namespaces joined by a veth; `meshd wg -f IF` in each; keys with
# `wg genkey`; peers with `wg set`; ping each other (IPv4 and IPv6 inside the
# tunnel); `wg show` on both sides.
#
# Environment: MESHD (default: ./build/meshd, ./meshd, then meshd in PATH);
# DEMO_IMPL=wggo runs the same demo with wireguard-go for comparison.
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
impl=${DEMO_IMPL:-meshd}
if [ "$impl" = meshd ] && [ ! -x "${MESHD:-}" ]; then
	echo "demo: meshd binary not found (build it, or set MESHD=/path/to/meshd)" >&2
	exit 1
fi

NS_A="meshd-demo-$$-alice"
NS_B="meshd-demo-$$-bob"
IF_A="mdalice$$"
IF_B="mdbob$$"
WORK=$(mktemp -d)
pids=()

cleanup() {
	local rc=$?
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -f "/var/run/wireguard/$IF_A.sock" "/var/run/wireguard/$IF_B.sock"
	rm -rf "$WORK"
	echo "[demo] cleaned up (namespaces removed)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say() { printf '\n[demo] %s\n' "$*"; }
run() { printf '  $ %s\n' "$*"; "$@"; }

start() { # start NS IF: one WireGuard daemon in the foreground, in NS
	local ns=$1 dev=$2 i
	if [ "$impl" = meshd ]; then
		printf '  $ ip netns exec %s %s wg -f %s &\n' "$ns" "$MESHD" "$dev"
		ip netns exec "$ns" "$MESHD" wg -f "$dev" >"$WORK/$dev.log" 2>&1 &
	else
		printf '  $ ip netns exec %s wireguard-go -f %s &\n' "$ns" "$dev"
		ip netns exec "$ns" env LOG_LEVEL=error wireguard-go -f "$dev" >"$WORK/$dev.log" 2>&1 &
	fi
	pids+=("$!")
	for i in $(seq 50); do
		[ -S "/var/run/wireguard/$dev.sock" ] && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.1
	done
	echo "demo: $impl did not create /var/run/wireguard/$dev.sock (after $((i / 10)) s); its log:" >&2
	cat "$WORK/$dev.log" >&2
	exit 1
}

say "two network namespaces joined by a veth pair (the 'underlay')"
run ip netns add "$NS_A"
run ip netns add "$NS_B"
run ip -n "$NS_A" link add veth0 type veth peer name veth0 netns "$NS_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; ip -n "$ns" link set veth0 up; done
run ip -n "$NS_A" addr add 198.51.100.1/24 dev veth0
run ip -n "$NS_B" addr add 198.51.100.2/24 dev veth0

say "one $impl per namespace, each with its own TUN interface and UAPI socket"
start "$NS_A" "$IF_A"
start "$NS_B" "$IF_B"

say "keys and peers, configured with the stock wg(8) tool"
(umask 077; wg genkey >"$WORK/a.key"; wg genkey >"$WORK/b.key")
pub_a=$(wg pubkey <"$WORK/a.key")
pub_b=$(wg pubkey <"$WORK/b.key")
run ip netns exec "$NS_A" wg set "$IF_A" private-key "$WORK/a.key" listen-port 51820 \
	peer "$pub_b" allowed-ips 100.64.0.2/32,fd00:64::2/128 endpoint 198.51.100.2:51820
run ip netns exec "$NS_B" wg set "$IF_B" private-key "$WORK/b.key" listen-port 51820 \
	peer "$pub_a" allowed-ips 100.64.0.1/32,fd00:64::1/128 endpoint 198.51.100.1:51820
run ip -n "$NS_A" addr add 100.64.0.1/24 dev "$IF_A"
run ip -n "$NS_A" addr add fd00:64::1/64 dev "$IF_A" nodad
run ip -n "$NS_A" link set "$IF_A" up
run ip -n "$NS_B" addr add 100.64.0.2/24 dev "$IF_B"
run ip -n "$NS_B" addr add fd00:64::2/64 dev "$IF_B" nodad
run ip -n "$NS_B" link set "$IF_B" up

say "alice pings bob through the tunnel (the first packet triggers the handshake)"
run ip netns exec "$NS_A" ping -n -c 3 -i 0.3 -w 15 100.64.0.2
say "bob pings alice, over IPv4 and over IPv6 inside the tunnel"
run ip netns exec "$NS_B" ping -n -c 3 -i 0.3 -w 15 100.64.0.1
run ip netns exec "$NS_B" ping -n -c 3 -i 0.3 -w 15 fd00:64::1

say "wg show on alice's side"
run ip netns exec "$NS_A" wg show "$IF_A"
say "wg show on bob's side"
run ip netns exec "$NS_B" wg show "$IF_B"
say "done: the tunnel works ($impl on both sides)"
