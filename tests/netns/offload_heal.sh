#!/bin/bash
# offload_heal.sh: offloads that heal themselves. meshd on side a runs with
# MESHD_FAULT=udp_gso,tun_gso, which makes every UDP GSO send and every
# coalesced (GSO) TUN write fail as a kernel without those offloads would;
# side b runs with MESHD_FAULT=tun_plain: a TUN without offloads at all.
#
#   ns $PFX-h-a  (meshd wg, faults)                   ns $PFX-h-b  (meshd wg, plain TUN)
#   wg<..>a 100.64.0.1/24 fd00:64::1/64  <=========>  wg<..>b 100.64.0.2/24 fd00:64::2/64
#   v0 198.51.100.1/24 ----------------- veth --------------- v0 198.51.100.2/24
#
# Bulk TCP both ways over IPv4 and IPv6 inside (sha256 checked) must arrive
# intact, and a's log must say once that it turned UDP GSO and TCP
# coalescing off; b must say it runs a plain TUN and never fall back.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup oh "${TEST_LIMIT:-120}" "$@"
command -v nc >/dev/null 2>&1 || skip "nc not installed"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum not installed"

step "topology: h-a (faults) <-> h-b over a veth"
ns_add h-a
ns_add h-b
veth_add h-a v0 h-b v0
addr_add h-a v0 198.51.100.1/24
addr_add h-b v0 198.51.100.2/24
ia=$(ifname a h)
ib=$(ifname b h)
MESHD_FAULT=udp_gso,tun_gso LOG_LEVEL=info impl_start h-a "$ia" meshd
MESHD_FAULT=tun_plain LOG_LEVEL=info impl_start h-b "$ib" meshd
ka=$(key_new h-a)
kb=$(key_new h-b)
wgset h-a "$ia" private-key "$WORK/h-a.key" listen-port 51820 \
	peer "$kb" allowed-ips 100.64.0.2/32,fd00:64::2/128 endpoint 198.51.100.2:51820
wgset h-b "$ib" private-key "$WORK/h-b.key" listen-port 51820 \
	peer "$ka" allowed-ips 100.64.0.1/32,fd00:64::1/128 endpoint 198.51.100.1:51820
link_up h-a "$ia" 100.64.0.1/24 fd00:64::1/64
link_up h-b "$ib" 100.64.0.2/24 fd00:64::2/64
loga="$WORK/$ia.meshd.log"
logb="$WORK/$ib.meshd.log"
grep -q "TUN offloads: none (plain TUN)" "$logb" || fail "b: $(grep -h 'TUN offloads' "$logb")"
grep -q "TUN offloads: checksum, TSO" "$loga" || skip "the kernel gives no TUN offloads: $(grep -h 'TUN offloads' "$loga")"
ping_first h-a 100.64.0.2 15 || fail "no handshake"

# bulk FROM TO DST MB: MB random bytes with nc through the tunnel, sha256 compared.
bulk() {
	local from=$1 to=$2 dst=$3 mb=$4 port=5001 rpid s r
	head -c "$((mb * 1024 * 1024))" /dev/urandom >"$WORK/bulk.in"
	nx "$to" timeout --foreground 60 nc -n -l "$dst" "$port" </dev/null >"$WORK/bulk.out" 2>"$WORK/nc-l.err" &
	rpid=$!
	PID_LIST+=("$rpid")
	wait_for 5 nx "$to" sh -c "ss -Hltn 'sport = :$port' | grep -q ." || fail "nc listener on $to"
	nx "$from" timeout --foreground 60 nc -n -N "$dst" "$port" <"$WORK/bulk.in" 2>"$WORK/nc.err" ||
		fail "bulk $from -> $dst: sender failed: $(cat "$WORK/nc.err")"
	wait "$rpid" || fail "bulk $from -> $dst: receiver failed: $(cat "$WORK/nc-l.err")"
	s=$(sha256sum <"$WORK/bulk.in" | cut -d' ' -f1)
	r=$(sha256sum <"$WORK/bulk.out" | cut -d' ' -f1)
	[ "$s" = "$r" ] || fail "bulk $from -> $dst: sha256 differs"
	info "bulk $from -> $dst: $(stat -c %s "$WORK/bulk.out") bytes intact"
}

step "bulk both ways, IPv4 and IPv6 inside"
bulk h-a h-b 100.64.0.2 16
bulk h-b h-a 100.64.0.1 16
bulk h-a h-b fd00:64::2 8
bulk h-b h-a fd00:64::1 8

step "a turned the failing offloads off, once each; b (plain) never fell back"
n=$(grep -c "UDP GSO unavailable" "$loga" || true)
[ "$n" = 1 ] || fail "a: 'UDP GSO unavailable' logged $n times, want 1"
n=$(grep -c "TUN refused a coalesced TCP packet" "$loga" || true)
[ "$n" = 1 ] || fail "a: TCP coalescing fallback logged $n times, want 1"
if grep -q "unavailable\|refused" "$logb"; then fail "b lost an offload: $(cat "$logb")"; fi
impl_alive "$ia" && impl_alive "$ib" || fail "a daemon died"
pass "offloads healed; data intact"
