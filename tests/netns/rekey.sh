#!/bin/bash
# rekey.sh (slow, ~3 min): a session outlives REKEY_AFTER_TIME (120 s) without loss.
#
# One independent tunnel per pair in REKEY_PAIRS, all running at the same time:
#
#   ns $PFX-pN-a (IMPL_A)                        ns $PFX-pN-b (IMPL_B)
#   wg..apN 100.64.0.1/24  <====== WireGuard ======>  wg..bpN 100.64.0.2/24
#   v0 198.51.100.1/24 :51820 ------- veth ------- v0 198.51.100.2/24 :51820
#
# A pings B at 10 Hz for REKEY_SECONDS (default 150 s). A initiated the first
# handshake, so A must start a new one once its session is 120 s old while the
# old session keeps carrying traffic: at most REKEY_MAX_LOSS (2) pings lost, and
# `latest handshake` advances by >= 100 s on both sides.
#
# REKEY_PAIRS: space-separated IMPL_A:IMPL_B (default "meshd:wggo wggo:meshd
# meshd:meshd": meshd rekeying as initiator against wireguard-go, wireguard-go
# rekeying against meshd, and meshd with itself). MESHD_SKIP_SLOW=1 skips the test.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
[ "${MESHD_SKIP_SLOW:-0}" = 1 ] && skip "MESHD_SKIP_SLOW=1 (rekey.sh takes ~3 minutes)"
REKEY_SECONDS=${REKEY_SECONDS:-150}
netns_setup rk "$((REKEY_SECONDS + 120))" "$@"

REKEY_PAIRS=${REKEY_PAIRS:-meshd:wggo wggo:meshd meshd:meshd}
REKEY_MAX_LOSS=${REKEY_MAX_LOSS:-2}
count=$((REKEY_SECONDS * 10))
info "pairs: $REKEY_PAIRS; $count pings at 10 Hz per pair"

ids=()
declare -A H0=() PPID_OF=() DESC=()
i=0
for pair in $REKEY_PAIRS; do
	i=$((i + 1))
	id="p$i"
	ia=${pair%%:*}
	ib=${pair##*:}
	ids+=("$id")
	DESC[$id]="$ia -> $ib"
	step "pair $id: A=$ia B=$ib: tunnel up, first handshake initiated by A"
	tunnel_up "$id" "$ia" "$ib"
	ping_first "$id-a" 100.64.0.2 15 || fail "pair $id ($pair): no first handshake within 15 s"
	H0[$id]=$(peer_field "$id-a" "$(ifname a "$id")" latest-handshakes)
	info "pair $id: first handshake at ${H0[$id]}"
done

step "10 Hz ping A -> B on every pair for ${REKEY_SECONDS}s (past REKEY_AFTER_TIME = 120 s)"
for id in "${ids[@]}"; do
	bg "ping-$id" nx "$id-a" ping -n -q -c "$count" -i 0.1 -W 2 100.64.0.2
	PPID_OF[$id]=$BG_PID
done
for id in "${ids[@]}"; do
	wait "${PPID_OF[$id]}" || true
done

step "loss and handshakes"
bad=0
for id in "${ids[@]}"; do
	fails=$bad
	ia=$(ifname a "$id")
	ib=$(ifname b "$id")
	stats=$(grep 'packets transmitted' "$WORK/ping-$id.out" || true)
	tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$stats")
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$stats")
	ha=$(peer_field "$id-a" "$ia" latest-handshakes)
	hb=$(peer_field "$id-b" "$ib" latest-handshakes)
	h0=${H0[$id]}
	info "pair $id (${DESC[$id]}): $stats"
	info "pair $id: latest handshake A $h0 -> $ha (+$((ha - h0)) s), B now $hb (+$((hb - h0)) s)"
	impl_alive "$ia" || { echo "[FAIL] pair $id: A died"; bad=$((bad + 1)); }
	impl_alive "$ib" || { echo "[FAIL] pair $id: B died"; bad=$((bad + 1)); }
	if [ -z "$tx" ] || [ -z "$rx" ] || [ "$tx" -ne "$count" ]; then
		echo "[FAIL] pair $id: ping did not complete: '$stats'"
		bad=$((bad + 1))
	elif [ $((tx - rx)) -gt "$REKEY_MAX_LOSS" ]; then
		echo "[FAIL] pair $id: lost $((tx - rx)) of $tx pings (max $REKEY_MAX_LOSS)"
		bad=$((bad + 1))
	fi
	if [ $((ha - h0)) -lt 100 ] || [ $((hb - h0)) -lt 100 ]; then
		echo "[FAIL] pair $id: no new handshake >= 100 s after the first (A +$((ha - h0)), B +$((hb - h0)))"
		bad=$((bad + 1))
	fi
	if [ "$bad" = "$fails" ]; then
		pass "pair $id (${DESC[$id]}): rekeyed, $((tx - rx)) of $tx lost"
	fi
done
[ "$bad" = 0 ] || fail "rekey: see above"
pass "rekey: every session outlived REKEY_AFTER_TIME"
