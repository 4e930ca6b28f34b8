#!/bin/bash
# wg_interop.sh: meshd <-> wireguard-go, plain WireGuard (`meshd wg`).
#
#   ns $PFX-a  (IMPL_A, default meshd)            ns $PFX-b  (IMPL_B, default wggo)
#   +-----------------------------+               +-----------------------------+
#   | wg<..>a<k>  100.64.0.1/24   |   WireGuard   | wg<..>b<k>  100.64.0.2/24   |
#   |             fd00:64::1/64   | <===========> |             fd00:64::2/64   |
#   | a0 198.51.100.1/24          |     veth      | b0 198.51.100.2/24          |
#   |    2001:db8:1::1/64   :51820+---------------+:51821  2001:db8:1::2/64     |
#   +-----------------------------+               +-----------------------------+
#
# Four phases, each with freshly started daemons and new keys (a fresh session):
#   1. IPv4 underlay, A initiates (B has no endpoint for A) + 32 MB each way (sha256)
#   2. IPv4 underlay, B initiates (A has no endpoint for B)
#   3. IPv6 underlay [2001:db8:1::2]:51821, A initiates + 16 MB each way over IPv6 inside
#   4. IPv6 underlay, B initiates
# In every phase: handshake, responder learns the initiator's endpoint, ping both ways
# over IPv4 and IPv6 inside, `wg show` on both sides shows a latest handshake and
# transfer counters.
#
# Environment: IMPL_A, IMPL_B (meshd|wggo) pick the implementation on each side
# (IMPL_A=wggo IMPL_B=wggo validates the script itself); BULK_MB (default 32).
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup "${TEST_TAG:-wi}" "${TEST_LIMIT:-300}" "$@"

IMPL_A=${IMPL_A:-meshd}
IMPL_B=${IMPL_B:-wggo}
BULK_MB=${BULK_MB:-32}
PORT_A=51820
PORT_B=51821
info "implementations: A=$IMPL_A B=$IMPL_B"
for k in "$IMPL_A" "$IMPL_B"; do
	case $k in
	meshd | wggo) ;;
	*) fail "unknown implementation '$k' (meshd|wggo)" ;;
	esac
done
command -v nc >/dev/null 2>&1 || skip "nc not installed"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum not installed"
if [ "$IMPL_A" = wggo ] || [ "$IMPL_B" = wggo ]; then
	command -v wireguard-go >/dev/null 2>&1 || skip "wireguard-go not installed"
fi

step "topology: namespaces a, b; veth a0 <-> b0 (IPv4 + IPv6 underlay)"
ns_add a
ns_add b
veth_add a a0 b b0
addr_add a a0 198.51.100.1/24 2001:db8:1::1/64
addr_add b b0 198.51.100.2/24 2001:db8:1::2/64
ping_ok a 198.51.100.2 1 || fail "underlay IPv4 a -> b"
ping_ok a 2001:db8:1::2 1 || fail "underlay IPv6 a -> b"

# overlay address of side S for family F
ov() {
	case $1$2 in
	a4) echo 100.64.0.1 ;; b4) echo 100.64.0.2 ;;
	a6) echo fd00:64::1 ;; b6) echo fd00:64::2 ;;
	esac
}
# underlay endpoint of side S for family F
ep() {
	case $1$2 in
	a4) echo "198.51.100.1:$PORT_A" ;; b4) echo "198.51.100.2:$PORT_B" ;;
	a6) echo "[2001:db8:1::1]:$PORT_A" ;; b6) echo "[2001:db8:1::2]:$PORT_B" ;;
	esac
}
other() { if [ "$1" = a ]; then echo b; else echo a; fi; }

# check_show S IF: `wg show` for the single peer has a latest handshake and
# non-zero transfer counters, both in the dump fields and in the text output.
check_show() {
	local s=$1 dev=$2 hs tr rx tx out
	hs=$(peer_field "$s" "$dev" latest-handshakes)
	tr=$(peer_field "$s" "$dev" transfer)
	rx=${tr%% *}
	tx=${tr##* }
	info "$s ($dev, ${IMPL_KIND[$dev]}): latest-handshake=$hs rx=$rx tx=$tx"
	if ! [ "${hs:-0}" -gt 0 ] 2>/dev/null; then
		fail "$s: wg show: no latest handshake ('$hs')"
	fi
	now=$(date +%s)
	if [ $((now - hs)) -gt 60 ] || [ $((hs - now)) -gt 5 ]; then
		fail "$s: wg show: latest handshake $hs is not recent (now $now)"
	fi
	if ! [ "${rx:-0}" -gt 0 ] 2>/dev/null || ! [ "${tx:-0}" -gt 0 ] 2>/dev/null; then
		fail "$s: wg show: transfer counters rx=$rx tx=$tx"
	fi
	out=$(wgshow "$s" "$dev")
	grep -q 'latest handshake:' <<<"$out" || fail "$s: 'latest handshake:' missing in wg show"
	grep -q 'transfer:.*received.*sent' <<<"$out" || fail "$s: 'transfer:' missing in wg show"
}

# bulk FROM TO FAMILY MB: send MB random bytes with nc over the tunnel, compare sha256.
bulk() {
	local from=$1 to=$2 f=$3 mb=$4 dst port=5001 rpid sum_s sum_r t0 t1
	dst=$(ov "$to" "$f")
	head -c "$((mb * 1024 * 1024))" /dev/urandom >"$WORK/bulk.in"
	rm -f "$WORK/bulk.out"
	nx "$to" timeout --foreground 60 nc -n -l "$dst" "$port" <"/dev/null" >"$WORK/bulk.out" 2>"$WORK/nc-l.err" &
	rpid=$!
	PID_LIST+=("$rpid")
	wait_for 5 nx "$to" sh -c "ss -Hltn 'sport = :$port' | grep -q ." ||
		fail "nc listener on $to:$port"
	t0=$(date +%s%N)
	nx "$from" timeout --foreground 60 nc -n -N "$dst" "$port" <"$WORK/bulk.in" 2>"$WORK/nc.err" ||
		fail "bulk $from -> $to: nc sender failed: $(cat "$WORK/nc.err")"
	wait "$rpid" || fail "bulk $from -> $to: nc receiver failed: $(cat "$WORK/nc-l.err")"
	t1=$(date +%s%N)
	sum_s=$(sha256sum <"$WORK/bulk.in" | cut -d' ' -f1)
	sum_r=$(sha256sum <"$WORK/bulk.out" | cut -d' ' -f1)
	info "bulk $from -> $to ($dst): $(stat -c %s "$WORK/bulk.out") bytes in $(((t1 - t0) / 1000000)) ms"
	[ "$sum_s" = "$sum_r" ] || fail "bulk $from -> $to: sha256 differs ($sum_s sent, $sum_r received)"
	rm -f "$WORK/bulk.in" "$WORK/bulk.out"
}

# phase K INITIATOR FAMILY BULK_MB
phase() {
	local k=$1 ini=$2 fam=$3 mb=$4 res ia ib ka kb learned want s d f
	res=$(other "$ini")
	ia=$(ifname a "$k")
	ib=$(ifname b "$k")
	step "phase $k: IPv$fam underlay, $ini initiates (A=$IMPL_A/$ia, B=$IMPL_B/$ib), fresh daemons and keys"
	impl_start a "$ia" "$IMPL_A"
	impl_start b "$ib" "$IMPL_B"
	ka=$(key_new "a$k")
	kb=$(key_new "b$k")
	wgset a "$ia" private-key "$WORK/a$k.key" listen-port "$PORT_A"
	wgset b "$ib" private-key "$WORK/b$k.key" listen-port "$PORT_B"
	# Only the initiator knows the other's endpoint: the handshake can only start there.
	if [ "$ini" = a ]; then
		wgset a "$ia" peer "$kb" allowed-ips 100.64.0.2/32,fd00:64::2/128 endpoint "$(ep b "$fam")"
		wgset b "$ib" peer "$ka" allowed-ips 100.64.0.1/32,fd00:64::1/128
	else
		wgset a "$ia" peer "$kb" allowed-ips 100.64.0.2/32,fd00:64::2/128
		wgset b "$ib" peer "$ka" allowed-ips 100.64.0.1/32,fd00:64::1/128 endpoint "$(ep a "$fam")"
	fi
	link_up a "$ia" 100.64.0.1/24 fd00:64::1/64
	link_up b "$ib" 100.64.0.2/24 fd00:64::2/64

	step "phase $k: handshake initiated by $ini (ping $ini -> $res over the tunnel)"
	ping_first "$ini" "$(ov "$res" 4)" 15 || fail "phase $k: no reply $ini -> $res within 15 s"
	if [ "$res" = a ]; then d=$ia; else d=$ib; fi
	learned=$(peer_field "$res" "$d" endpoints)
	want=$(ep "$ini" "$fam")
	info "$res learned endpoint $learned (expected $want)"
	[ "$learned" = "$want" ] || fail "phase $k: $res has endpoint '$learned', expected '$want'"

	step "phase $k: ping both ways, IPv4 and IPv6 inside"
	for f in 4 6; do
		for s in a b; do
			ping_ok "$s" "$(ov "$(other "$s")" "$f")" 5 ||
				fail "phase $k: ping $s -> $(other "$s") IPv$f inside"
		done
	done
	pass "phase $k: ping a <-> b over IPv4 and IPv6 inside"

	if [ "$mb" -gt 0 ]; then
		for f in 4 6; do
			[ "$fam" = 4 ] && [ "$f" = 6 ] && continue
			[ "$fam" = 6 ] && [ "$f" = 4 ] && continue
			step "phase $k: bulk transfer ${mb} MB each way over IPv$f inside, sha256 checked"
			bulk a b "$f" "$mb"
			bulk b a "$f" "$mb"
			pass "phase $k: bulk transfers intact"
		done
	fi

	step "phase $k: wg show on both sides"
	check_show a "$ia"
	check_show b "$ib"
	if [ "$mb" -gt 0 ]; then
		tr=$(peer_field a "$ia" transfer)
		if [ "${tr%% *}" -lt $((mb * 1048576)) ] || [ "${tr##* }" -lt $((mb * 1048576)) ]; then
			fail "phase $k: a's transfer counters ($tr) below the ${mb} MB moved each way"
		fi
	fi
	impl_alive "$ia" || fail "phase $k: A ($IMPL_A) died"
	impl_alive "$ib" || fail "phase $k: B ($IMPL_B) died"
	pass "phase $k: IPv$fam underlay, initiated by $ini"
	impl_stop "$ia"
	impl_stop "$ib"
}

phase 1 a 4 "$BULK_MB"
phase 2 b 4 0
phase 3 a 6 "$((BULK_MB / 2))"
phase 4 b 6 0
pass "wg interop A=$IMPL_A B=$IMPL_B: all phases"
