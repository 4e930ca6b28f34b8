#!/bin/bash
# relay_revoke.sh: a node's own revocation delivered through a relay, in the
# lab of natlab.sh:
#
#   inet bridge: pub 198.51.100.10 (admin, inviter; after the joins it drops
#                mesh datagrams from r1 and r6: no relay for them)
#                px  198.51.100.20 (node x: public, the only relay)
#     rtr1 .1 cone      LAN 10.1.0.0/24: h1 (node r1)
#     rtr5 .5 symmetric LAN 10.5.0.0/24: h6 (node r6)
#
# r1 and r6 cannot reach each other directly: they talk through x. Then
# WireGuard datagrams (first byte 1-4) are dropped between pub and h6 (rtr5)
# and to and from x (px): mesh datagrams (magic 'M': RELAY/RELAYED) still
# pass. x never hears of the revocation (a relay that has learnt it stops
# relaying for the revoked node), pub cannot tell r6 itself, so r6 learns it
# only from r1, as gossip in a WireGuard packet in a RELAYED datagram: r6
# stops from within its relay input. Checks: r6 logs that it was revoked and
# exits within 20 s, without any AddressSanitizer report (run with MESHD= a
# --enable-sanitizers build to catch a use of the freed node after the
# shutdown hook), and removes its pid file.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup rr 240 "$@"
# shellcheck source=tests/netns/natlab.sh
. "$(dirname "$0")/natlab.sh"

for t in nft python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

step "lab: inet + pub (no relay) + px, rtr1 cone, rtr5 symmetric, h1 and h6"
lab_inet
ns_add px
veth_add px e0 inet px
ip -n "$(nsname inet)" link set px master br0
addr_add px e0 198.51.100.20/24
lab_router 1 cone
lab_router 5 symmetric
lab_host h1 1
lab_host h6 5
lab_pub_init

step "join x (px, public: the relay), r1 (h1) and r6 (h6)"
lab_join px x || fail "join of x failed"
lab_join h1 r1 || fail "join of r1 failed"
lab_join h6 r6 || fail "join of r6 failed"
R6PID=${LAB_NODE_PID[r6]}

# The relay must not be the admin (it learns the revocation first): pub
# drops mesh datagrams (magic 'M') from everybody but x, so r1 and r6 lose
# their probed direct path to it (a relay candidate needs one) while their
# WireGuard traffic with pub (gossip) goes on.
nx pub nft -f - <<EOT || fail "nft rule in pub"
table ip rrblock {
	chain input {
		type filter hook input priority -10; policy accept;
		ip saddr != 198.51.100.20 udp dport != 3478 @th,64,8 0x4d counter drop
	}
}
EOT

# shellcheck disable=SC2317 # called through lab_wait
relayed() { [ "$(lab_path "$1" "$2")" = "relay None x" ]; }
# r6's own choice is what counts: r1 answers on the path WireGuard saw
# r6's packets arrive on (x's synthetic endpoint), whatever its status says.
lab_wait 60000 relayed r6 r1 ||
	fail "no relay path: r6 -> r1 $(lab_path r6 r1), r1 -> r6 $(lab_path r1 r6)"
pass "r6 -> r1 relayed via x after $(lab_secs "$WAIT_MS") s"

step "drop WireGuard datagrams pub <-> h6 (rtr5) and at x (mesh datagrams pass)"
nx rtr5 nft -f - <<EOT || fail "nft rule in rtr5"
table ip rrblock {
	chain forward {
		type filter hook forward priority -10; policy accept;
		ip saddr $LAB_PUB udp sport != 3478 @th,64,8 < 5 counter drop
		ip daddr $LAB_PUB udp dport != 3478 @th,64,8 < 5 counter drop
	}
}
EOT
nx px nft -f - <<EOT || fail "nft rule in px"
table ip rrblock {
	chain input {
		type filter hook input priority -10; policy accept;
		udp sport != 3478 @th,64,8 < 5 counter drop
	}
	chain output {
		type filter hook output priority -10; policy accept;
		udp dport != 3478 @th,64,8 < 5 counter drop
	}
}
EOT
# r1 must still reach r6 (through x) for the revocation to travel
lab_wait 30000 lab_ping h1 "$(lab_ov4 r6)" || fail "h1 -> r6: no overlay ping through x"
pass "r1 -> r6 still pings through the relay"

step "pub revokes r6: r6 stops from its relay input"
t0=$(lab_now_ms)
lab_m pub pub revoke r6 -d "$(lab_dir pub)" >/dev/null || fail "meshd revoke r6 failed"
wait_for 20 lab_dead "$R6PID" || fail "r6 (pid $R6PID) still running 20 s after the revoke"
pass "r6 exited $(lab_secs $(($(lab_now_ms) - t0))) s after the revoke"
info "drops: rtr5 $(nx rtr5 nft list table ip rrblock | grep -o 'packets [0-9]*' | tr '\n' ' '), px $(nx px nft list table ip rrblock | grep -o 'packets [0-9]*' | tr '\n' ' ')"
grep -q 'this node has been revoked' "$WORK/r6.err" || fail "r6 did not log its revocation"
if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$WORK/r6.err"; then
	grep -A30 'ERROR: AddressSanitizer\|runtime error:' "$WORK/r6.err" | head -40
	fail "r6: sanitizer report at shutdown"
fi
[ ! -e "$(lab_dir r6)/meshd.pid" ] || fail "r6 left its pid file behind"
case $MESHD in
*asan* | *sanit*) pass "revoked through the relay: clean exit, no sanitizer report" ;;
*) pass "revoked through the relay: clean exit (not a sanitizer build: MESHD=$MESHD)" ;;
esac
exit 0
