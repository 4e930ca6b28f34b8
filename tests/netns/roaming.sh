#!/bin/bash
# roaming.sh: A moves to a new underlay address mid-stream; B (whose configured
# endpoint for A is the old address) must learn the new one from A's
# authenticated packets, and traffic resumes both ways.
#
#   +-------------+ a0  198.51.100.10/24  --move-->  198.18.5.10/24 (on a0 or a new a1)
#   | A (IMPL_A)  |----------+
#   | 100.64.0.1  |          | r0  198.51.100.1/24  (+ 198.18.5.1/24 at the move)
#   +-------------+    +-----+------+
#                      | R (router) |  forwards, no NAT
#                      +-----+------+
#   +-------------+          | r1  203.0.113.1/24
#   | B (IMPL_B)  |----------+
#   | 100.64.0.2  | b0  203.0.113.2/24
#   +-------------+
#
# The move (ROAM_MOVE), while A keeps pinging B at 10 Hz:
#   renumber  A is renumbered into another subnet on a0 (new address and default
#             route added, then the old address deleted: a new lease);
#   newlink   a0 disappears and a new link a1 (A-R, 198.18.5.0/24) comes up with
#             a new default route (Wi-Fi gone, LTE up); R gets r2 198.18.5.1.
# Checks: B's `wg show` endpoint for A changes from 198.51.100.10:51820 to
# 198.18.5.10:51820; pings A -> B and B -> A succeed after the move; the outage
# (longest gap between replies) is reported and must stay under ROAM_MAX_GAP s.
#
# IMPL_A, IMPL_B: meshd|wggo. B is the side that must roam its peer's endpoint,
# A the side whose source address changes. Both unset: every case in ROAM_CASES
# (IMPL_A:IMPL_B:MOVE; default "meshd:meshd:renumber wggo:meshd:renumber
# meshd:wggo:renumber meshd:meshd:newlink") in turn, each in its own process.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup ro 360 "$@"

# Without IMPL_A/IMPL_B: one run per case in ROAM_CASES, each in its own process
# (own namespaces and cleanup), all under this script's time limit.
if [ -z "${IMPL_A:-}" ] && [ -z "${IMPL_B:-}" ]; then
	rc=0
	n=0
	for c in ${ROAM_CASES:-meshd:meshd:renumber wggo:meshd:renumber meshd:wggo:renumber meshd:meshd:newlink}; do
		IFS=: read -r ca cb cm <<<"$c"
		step "roaming case A=$ca B=$cb move=$cm"
		st=0
		IMPL_A=$ca IMPL_B=$cb ROAM_MOVE=$cm bash "$0" "$@" || st=$?
		case $st in
		0) n=$((n + 1)) ;;
		77) ;;
		*) rc=1 ;;
		esac
	done
	[ "$rc" = 0 ] && [ "$n" = 0 ] && skip "every case skipped"
	[ "$rc" = 0 ] && pass "roaming: $n cases"
	exit "$rc"
fi
ROAM_MAX_GAP=${ROAM_MAX_GAP:-5}
ROAM_MOVE=${ROAM_MOVE:-renumber}
case $ROAM_MOVE in
renumber | newlink) ;;
*) fail "ROAM_MOVE must be renumber or newlink, not '$ROAM_MOVE'" ;;
esac
info "implementations: A=$IMPL_A B=$IMPL_B, move: $ROAM_MOVE"

step "topology: A - R - B, A on 198.51.100.10, B on 203.0.113.2"
ns_add a
ns_add r
ns_add b
veth_add a a0 r r0
veth_add r r1 b b0
addr_add a a0 198.51.100.10/24
addr_add r r0 198.51.100.1/24
addr_add r r1 203.0.113.1/24
addr_add b b0 203.0.113.2/24
nx r sysctl -qw net.ipv4.ip_forward=1
ip -n "$(nsname a)" route add default via 198.51.100.1
ip -n "$(nsname b)" route add default via 203.0.113.1
ping_ok a 203.0.113.2 1 || fail "underlay a -> b through r"

step "WireGuard: A=$IMPL_A, B=$IMPL_B; B's endpoint for A is 198.51.100.10:51820"
ia=$(ifname a)
ib=$(ifname b)
impl_start a "$ia" "$IMPL_A"
impl_start b "$ib" "$IMPL_B"
ka=$(key_new a)
kb=$(key_new b)
wgset a "$ia" private-key "$WORK/a.key" listen-port 51820 \
	peer "$kb" allowed-ips 100.64.0.2/32 endpoint 203.0.113.2:51821
wgset b "$ib" private-key "$WORK/b.key" listen-port 51821 \
	peer "$ka" allowed-ips 100.64.0.1/32 endpoint 198.51.100.10:51820
link_up a "$ia" 100.64.0.1/24
link_up b "$ib" 100.64.0.2/24
ping_first a 100.64.0.2 15 || fail "no handshake within 15 s"
ep0=$(peer_field b "$ib" endpoints)
info "B's endpoint for A: $ep0"
[ "$ep0" = 198.51.100.10:51820 ] || fail "B's endpoint for A is '$ep0' before the move"

step "continuous 10 Hz ping A -> B over the tunnel"
bg ping nx a ping -n -D -i 0.1 -W 1 -w 15 100.64.0.2
pingpid=$BG_PID
# 1 s of replies before the move, however late a loaded machine starts ping
wait_for 10 ping_replies "$WORK/ping.out" 10 ||
	fail "the continuous ping got no 10 replies in 10 s before the move"

case $ROAM_MOVE in
renumber)
	step "move (renumber): A 198.51.100.10 -> 198.18.5.10 on a0, old address and route deleted"
	addr_add r r0 198.18.5.1/24
	addr_add a a0 198.18.5.10/24
	ip -n "$(nsname a)" route replace default via 198.18.5.1 src 198.18.5.10
	ip -n "$(nsname a)" addr del 198.51.100.10/24 dev a0
	;;
newlink)
	step "move (newlink): a0 deleted, new link a1 198.18.5.10/24 with default via 198.18.5.1"
	veth_add a a1 r r2
	addr_add r r2 198.18.5.1/24
	ip -n "$(nsname a)" link del a0
	addr_add a a1 198.18.5.10/24
	ip -n "$(nsname a)" route add default via 198.18.5.1
	;;
esac
if [ "$IMPL_A" = wggo ]; then
	# wireguard-go 0.0.20220316 caches the source address per endpoint and only
	# forgets it on EINVAL; after a renumbering it gets ENETUNREACH forever.
	# Re-setting the endpoint on A clears that cache; B is not touched.
	info "A is wireguard-go: re-set A's endpoint for B to clear its cached source address"
	wgset a "$ia" peer "$kb" endpoint 203.0.113.2:51821
fi
tmove=$(date +%s%N)

step "B learns A's new endpoint from authenticated packets"
want=198.18.5.10:51820
endpoint_is() { [ "$(peer_field b "$ib" endpoints)" = "$1" ]; }
wait_for 15 endpoint_is "$want" ||
	fail "B's endpoint for A is '$(peer_field b "$ib" endpoints)' 15 s after the move, expected $want"
info "B's endpoint for A: $(peer_field b "$ib" endpoints) after $((($(date +%s%N) - tmove) / 1000000)) ms"

step "traffic after the move, both ways"
ping_ok a 100.64.0.2 10 || fail "ping A -> B after the move"
ping_ok b 100.64.0.1 10 || fail "ping B -> A after the move (B must send to the new endpoint)"
pass "pings A -> B and B -> A after the move"

wait "$pingpid" || true
# Longest gap between replies; the end of the run counts as a reply time too,
# so an outage that never ended is measured as well.
tend=$(date +%s.%N)
gap=$(awk -F'[][]' -v e="$tend" '/bytes from/ { t = $2; if (p != "" && t - p > g) g = t - p; p = t }
	END { if (p == "") g = 99; else if (e - p - 1 > g) g = e - p - 1; printf "%.1f", g }' "$WORK/ping.out")
info "continuous ping: $(grep 'packets transmitted' "$WORK/ping.out" || echo '?'); longest gap ${gap}s"
if awk -v g="$gap" -v m="$ROAM_MAX_GAP" 'BEGIN { exit !(g > m) }'; then
	fail "outage of ${gap}s during the move (max ${ROAM_MAX_GAP}s)"
fi
impl_alive "$ia" || fail "A died"
impl_alive "$ib" || fail "B died"
pass "roaming A=$IMPL_A B=$IMPL_B move=$ROAM_MOVE: endpoint $ep0 -> $want, outage ${gap}s"
