#!/bin/bash
# nat_relay.sh: relaying through a member (issue 4), in the lab of natlab.sh:
#
#   inet bridge: pub 198.51.100.10 (admin, inviter; a public LOCAL address:
#                it offers relaying)
#     rtr1 .1 cone      LAN 10.1.0.0/24: h1
#     rtr5 .5 symmetric (masquerade fully-random) LAN 10.5.0.0/24: h6
#   Routers drop unsolicited packets from the WAN (input and forward).
#
# h6 (symmetric) and h1 (port-restricted cone) cannot reach each other
# directly. Checks, from the second join returning: both list each other
# with path "relay" via pub within 10 s (the time is printed; the issue's
# target is 2 s: PASS/MISS, not a failure); an overlay ping works both ways;
# the JSON status says via "pub" with a null endpoint and the table "via pub".
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup nr 240 "$@"
# shellcheck source=tests/netns/natlab.sh
. "$(dirname "$0")/natlab.sh"

for t in nft python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

LIMIT_MS=10000
TARGET_MS=2000

diag_dump() {
	local n
	set +e
	for n in "${LAB_NODES[@]}"; do
		lab_logs "$n" 25
	done
	set -e
}

step "lab: inet + pub, rtr1 cone, rtr5 symmetric, h1 and h6"
lab_inet
lab_router 1 cone
lab_router 5 symmetric
lab_host h1 1
lab_host h6 5
lab_pub_init

step "join r1 (h1, cone) and r6 (h6, symmetric)"
lab_join h1 r1 || fail "join of r1 failed"
lab_join h6 r6 || fail "join of r6 failed"

# relayed A B: A lists B with path relay via pub.
# shellcheck disable=SC2317 # called through lab_wait
relayed() { [ "$(lab_path "$1" "$2")" = "relay None pub" ]; }
# shellcheck disable=SC2317 # called through lab_wait
both_relayed() { relayed r6 r1 && relayed r1 r6; }

step "r6 <-> r1: path relay via pub"
LAB_T0=$JOIN_END
if ! lab_wait "$LIMIT_MS" both_relayed; then
	unset LAB_T0
	info "r6 -> r1: $(lab_path r6 r1); r1 -> r6: $(lab_path r1 r6)"
	fail "no relay path between r6 and r1 within $(lab_secs "$LIMIT_MS") s"
fi
unset LAB_T0
ms=$WAIT_MS
if [ "$ms" -le "$TARGET_MS" ]; then verdict=PASS; else verdict=MISS; fi
pass "relay path both ways after $(lab_secs "$ms") s ($verdict against the $(lab_secs "$TARGET_MS") s target)"
info "r6 -> r1: $(lab_path r6 r1); r1 -> r6: $(lab_path r1 r6)"

step "overlay ping through the relay, both ways"
R1=$(lab_ov4 r1)
R6=$(lab_ov4 r6)
if [ -z "$R1" ] || [ -z "$R6" ]; then fail "no overlay addresses"; fi
lab_wait 5000 lab_ping h6 "$R1" || fail "h6 -> r1 ($R1): no overlay ping through pub"
pass "h6 -> r1 overlay ping after $(lab_secs "$WAIT_MS") s"
lab_wait 5000 lab_ping h1 "$R6" || fail "h1 -> r6 ($R6): no overlay ping through pub"
pass "h1 -> r6 overlay ping after $(lab_secs "$WAIT_MS") s"
nx h6 ping -n -q -c 20 -i 0.05 -W 1 "$R1" >"$WORK/ping.out" 2>&1 ||
	fail "h6 -> r1: 20 pings lost: $(tail -n 2 "$WORK/ping.out")"
pass "h6 -> r1: 20 pings through pub ($(grep -o '[0-9]* received' "$WORK/ping.out"))"
# full-size packets: 1400-byte IP packets still fit a relayed datagram
nx h1 ping -n -q -c 3 -s 1372 -W 2 "$R6" >"$WORK/ping.out" 2>&1 ||
	fail "h1 -> r6: 1400-byte pings lost: $(tail -n 2 "$WORK/ping.out")"
pass "h1 -> r6: 1400-byte pings through pub"

step "status: via pub, still relayed, pub itself direct"
relayed r6 r1 || fail "r6 -> r1: $(lab_path r6 r1)"
relayed r1 r6 || fail "r1 -> r6: $(lab_path r1 r6)"
lab_direct r6 pub || fail "r6 -> pub not direct: $LAB_WHY"
lab_direct r1 pub || fail "r1 -> pub not direct: $LAB_WHY"
grep -q '"via": "pub"' "$WORK/st/r1.json" || fail "r1's status JSON has no via pub"
nx h6 "$MESHD" status -d "$(lab_dir r6)" 9>&- | grep -E '^r1 ' | grep -q 'relay.*via pub' ||
	fail "r6's status table: $(nx h6 "$MESHD" status -d "$(lab_dir r6)" 9>&- | grep -E '^r1 ')"
pass "status shows path relay via pub"
exit 0
