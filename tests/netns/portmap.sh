#!/bin/bash
# portmap.sh: port mapping (UPnP IGD and NAT-PMP) against a real miniupnpd,
# driven by tests/nat/pm_tool (the nat/portmap.h state machine with the real
# backends of nat/backend.h).
#
#   ns $PFX-inet                      ns $PFX-rtr                        ns $PFX-host
#   i0 198.51.100.1/24 ---veth--- w0 198.51.100.2/24 (WAN)
#   STUN responder :3478             nft masquerade out w0
#   test sender                      miniupnpd (UPnP + NAT-PMP on l0)
#                                    l0 192.168.77.1/24 ---veth--- h0 192.168.77.2/24
#                                                                   default via .1
#                                                                   pm_tool PORT, UDP listener
#
# miniupnpd refuses mappings when its WAN address is reserved (all our
# "public" ranges are), unless it learns its external address by STUN: a tiny
# responder in inet answers every Binding request, CHANGE-REQUEST ignored
# (docs/testing.md).
#
# (a) UPnP (pm_tool told to skip NAT-PMP): mapping made, rule in rtr's nft
#     chain, a datagram from inet to WAN:ext reaches host's listener; SIGTERM
#     -> DELETE -> rule gone.
# (b) NAT-PMP only (miniupnpd with enable_upnp=no): same checks.
# (c) router restart: miniupnpd killed, its rules flushed (mappings
#     forgotten), restarted; with PM_TOOL_LEASE=20 pm_tool renews at ~10 s,
#     which maps again, and the external port works again. (c2) the same
#     with NAT-PMP.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup pm 110 "$@"

for t in miniupnpd nft python3; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
PM_TOOL=${PM_TOOL:-${top_builddir:-.}/tests/nat/pm_tool}
[ -x "$PM_TOOL" ] || skip "pm_tool not built ($PM_TOOL): make check builds it"

PORT=4000		# host's local UDP port (mapped)
WAN=198.51.100.2
INET=198.51.100.1
LAN_NET=192.168.77.0/24

elapsed() { printf '%ss' $(($(date +%s) - T0)); }

# --- topology ---------------------------------------------------------------

step "topology: inet <-> rtr (NAT, miniupnpd) <-> host"
ns_add inet
ns_add rtr
ns_add host
veth_add inet i0 rtr w0
veth_add rtr l0 host h0
addr_add inet i0 "$INET/24"
addr_add rtr w0 "$WAN/24"
addr_add rtr l0 192.168.77.1/24
addr_add host h0 192.168.77.2/24
ip -n "$(nsname host)" route add default via 192.168.77.1
nx rtr sysctl -qw net.ipv4.ip_forward=1

# miniupnpd-nftables does not create its tables: the chains its config names.
nx rtr nft -f - <<'EOF' || fail "nft setup in rtr"
table ip rnat {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname "w0" masquerade
	}
}
table inet miniupnpd {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "l0" accept
		jump forward_miniupnpd
	}
	chain forward_miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
EOF

# --- helpers (python3: STUN responder, UDP listener, sender) ------------------

cat >"$WORK/stun.py" <<'EOF'
# Minimal STUN (RFC 5389) Binding responder: answers every request from the
# address it came to, CHANGE-REQUEST ignored, MAPPED-ADDRESS and
# XOR-MAPPED-ADDRESS = the request's source.
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
COOKIE = 0x2112A442
while True:
    d, (ip, port) = s.recvfrom(2048)
    if len(d) < 20 or struct.unpack("!H", d[:2])[0] != 0x0001:
        continue
    a = socket.inet_aton(ip)
    mapped = struct.pack("!HHBBH", 0x0001, 8, 0, 1, port) + a
    xa = struct.pack("!I", struct.unpack("!I", a)[0] ^ COOKIE)
    xor = struct.pack("!HHBBH", 0x0020, 8, 0, 1, port ^ (COOKIE >> 16)) + xa
    attrs = mapped + xor
    s.sendto(struct.pack("!HH", 0x0101, len(attrs)) + d[4:20] + attrs, (ip, port))
EOF
cat >"$WORK/listen.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048)
    print(d.decode(errors="replace"), a[0], flush=True)
EOF
cat >"$WORK/send.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
EOF

bg stun ip netns exec "$(nsname inet)" python3 "$WORK/stun.py" "$INET" 3478
wait_udp_bound inet 3478
bg listen ip netns exec "$(nsname host)" python3 "$WORK/listen.py" "$PORT"
wait_udp_bound host "$PORT"

# miniupnpd_conf NAME UPNP(yes|no): writes $WORK/NAME.conf
miniupnpd_conf() {
	cat >"$WORK/$1.conf" <<EOF
ext_ifname=w0
listening_ip=l0
http_port=5555
enable_natpmp=yes
enable_upnp=$2
secure_mode=yes
system_uptime=no
ext_perform_stun=yes
ext_stun_host=$INET
ext_stun_port=3478
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=forward_miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 $LAN_NET 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
}
miniupnpd_conf both yes
miniupnpd_conf pmponly no

UPNPD_PID=
UPNPD_N=0
# upnpd_start NAME: miniupnpd with $WORK/NAME.conf in rtr (foreground, ours);
# waits for its NAT-PMP socket. Log: $UPNPD_LOG.
upnpd_start() {
	UPNPD_N=$((UPNPD_N + 1))
	bg "upnpd-$UPNPD_N-$1" ip netns exec "$(nsname rtr)" miniupnpd -4 -d \
		-f "$WORK/$1.conf" -P "$WORK/miniupnpd.pid"
	UPNPD_PID=$BG_PID
	UPNPD_LOG=$WORK/upnpd-$UPNPD_N-$1.out
	wait_for 5 upnpd_ready || fail "miniupnpd ($1) did not start: $(tail -n 5 "$UPNPD_LOG")"
	if grep -q 'restrictive\|firewall filters\|STUN failed' "$UPNPD_LOG"; then
		fail "miniupnpd ($1): STUN verdict blocks forwarding: $(grep STUN "$UPNPD_LOG")"
	fi
}
upnpd_ready() {
	kill -0 "$UPNPD_PID" 2>/dev/null || return 1
	nx rtr ss -lun 2>/dev/null | grep -q ':5351 '
}
# upnpd_kill: SIGKILL (a crash/reboot: nothing deleted by the daemon).
upnpd_kill() {
	kill -KILL "$UPNPD_PID" 2>/dev/null || true
	wait "$UPNPD_PID" 2>/dev/null || true
	rm -f "$WORK/miniupnpd.pid"
}

PM_PID=
# pm_start NAME [ENV=VALUE...]: pm_tool PORT 0 in host, output $WORK/NAME.out
pm_start() {
	local name=$1
	shift
	bg "$name" ip netns exec "$(nsname host)" env "$@" "$PM_TOOL" "$PORT" 0
	PM_PID=$BG_PID
	PM_OUT=$WORK/$name.out
}
pm_has() { grep -q "$1" "$PM_OUT"; }
# pm_ext_port: external port of the latest mapped/renewed line
pm_ext_port() {
	grep -E '(mapped|renewed) ext=' "$PM_OUT" | tail -n 1 |
		sed -E 's/.* ext=[0-9.]+:([0-9]+) .*/\1/'
}
# pm_stop: SIGTERM, wait for the DELETE and the exit (8 s).
pm_stop() {
	kill -TERM "$PM_PID" 2>/dev/null || true
	wait_for 8 pid_gone "$PM_PID" || fail "pm_tool did not exit after SIGTERM: $(cat "$PM_OUT")"
	local st=0
	wait "$PM_PID" || st=$?
	[ "$st" = 0 ] || fail "pm_tool exit status $st: $(cat "$PM_OUT")"
	pm_has 'deleted ext_port' || fail "pm_tool did not delete: $(cat "$PM_OUT")"
}
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
# pm_maps_more N: more than N mapped/renewed lines so far
pm_maps() { grep -cE '(mapped|renewed) ext=' "$PM_OUT" || true; }
pm_maps_more() { [ "$(pm_maps)" -gt "$1" ]; }

# nft_has_port PORT: a DNAT rule for udp dport PORT in miniupnpd's chain
nft_has_port() {
	nx rtr nft list chain inet miniupnpd prerouting_miniupnpd 2>/dev/null |
		grep -qE "dport $1( |\$)"
}
nft_gone() { ! nft_has_port "$1"; }
nft_dump() {
	nx rtr nft list chain inet miniupnpd prerouting_miniupnpd 2>&1 | tr '\n\t' '  '
}

SEQ=0
# reach EXTPORT SECS: datagrams (fresh source port each) from inet to
# WAN:EXTPORT until one reaches host's listener.
reach_once() {
	nx inet python3 "$WORK/send.py" "$WAN" "$1" "$2" 2>/dev/null || true
	sleep 0.1
	grep -q "^$2 $INET\$" "$WORK/listen.out"
}
reach() {
	SEQ=$((SEQ + 1))
	wait_for "$2" reach_once "$1" "probe-$SEQ"
}

# --- (a) UPnP ------------------------------------------------------------------

step "(a) UPnP: miniupnpd (UPnP + NAT-PMP), pm_tool PM_TOOL_PROTO=upnp"
upnpd_start both
info "miniupnpd up at $(elapsed)"
t=$(date +%s%N)
pm_start pm_a PM_TOOL_PROTO=upnp
wait_for 10 pm_has 'mapped ext=' || fail "(a) no UPnP mapping: $(cat "$PM_OUT"; tail -n 20 "$UPNPD_LOG")"
info "mapped after $((($(date +%s%N) - t) / 1000000)) ms: $(grep 'mapped ext=' "$PM_OUT")"
pm_has 'proto=upnp' || fail "(a) mapping not made by UPnP"
EXT=$(pm_ext_port)
nft_has_port "$EXT" || fail "(a) no nft rule for udp dport $EXT in rtr: $(nft_dump)"
pass "(a) nft rule for udp dport $EXT in rtr"
reach "$EXT" 5 || fail "(a) datagram to $WAN:$EXT did not reach host"
pass "(a) datagram inet -> $WAN:$EXT reached host:$PORT"
t=$(date +%s%N)
pm_stop
wait_for 3 nft_gone "$EXT" || fail "(a) nft rule for $EXT still there after SIGTERM"
pass "(a) SIGTERM: deleted, rule gone after $((($(date +%s%N) - t) / 1000000)) ms"
upnpd_kill

# --- (b) NAT-PMP only ------------------------------------------------------------

step "(b) NAT-PMP only: miniupnpd enable_upnp=no, pm_tool default order"
nx rtr nft flush chain inet miniupnpd prerouting_miniupnpd
nx rtr nft flush chain inet miniupnpd forward_miniupnpd
upnpd_start pmponly
t=$(date +%s%N)
pm_start pm_b
wait_for 10 pm_has 'mapped ext=' || fail "(b) no NAT-PMP mapping: $(cat "$PM_OUT"; tail -n 20 "$UPNPD_LOG")"
info "mapped after $((($(date +%s%N) - t) / 1000000)) ms: $(grep 'mapped ext=' "$PM_OUT")"
pm_has 'mapped ext=.*proto=natpmp' || fail "(b) mapping not made by NAT-PMP"
EXT=$(pm_ext_port)
nft_has_port "$EXT" || fail "(b) no nft rule for udp dport $EXT in rtr"
reach "$EXT" 5 || fail "(b) datagram to $WAN:$EXT did not reach host"
pass "(b) NAT-PMP mapping $WAN:$EXT reaches host:$PORT"
pm_stop
wait_for 3 nft_gone "$EXT" || fail "(b) nft rule for $EXT still there after SIGTERM"
pass "(b) SIGTERM: deleted, rule gone"
upnpd_kill

# --- (c) router restart ----------------------------------------------------------

# restart_case LABEL CONF PROTO: map with PM_TOOL_LEASE=20 (renewal at ~10 s),
# kill miniupnpd and flush its rules (a reboot: mappings forgotten), restart
# it, wait for pm_tool's next MAP, check the external port again.
restart_case() {
	local label=$1 conf=$2 proto=$3 t n
	nx rtr nft flush chain inet miniupnpd prerouting_miniupnpd
	nx rtr nft flush chain inet miniupnpd forward_miniupnpd
	upnpd_start "$conf"
	pm_start "pm_$label" PM_TOOL_PROTO="$proto" PM_TOOL_LEASE=20
	wait_for 10 pm_has 'mapped ext=' || fail "($label) no mapping: $(cat "$PM_OUT")"
	info "$(grep 'mapped ext=' "$PM_OUT")"
	EXT=$(pm_ext_port)
	reach "$EXT" 5 || fail "($label) datagram to $WAN:$EXT did not reach host before the restart"
	t=$(date +%s%N)
	upnpd_kill
	nx rtr nft flush chain inet miniupnpd prerouting_miniupnpd
	nx rtr nft flush chain inet miniupnpd forward_miniupnpd
	reach "$EXT" 1 && fail "($label) $WAN:$EXT still reaches host with the mapping forgotten"
	upnpd_start "$conf"
	info "miniupnpd restarted (mappings forgotten) at $(elapsed)"
	n=$(pm_maps)
	wait_for 25 pm_maps_more "$n" ||
		fail "($label) no new MAP within 25 s of the restart: $(cat "$PM_OUT")"
	EXT=$(pm_ext_port)
	info "mapped again $((($(date +%s%N) - t) / 1000000)) ms after the kill: $(grep -E '(mapped|renewed) ext=' "$PM_OUT" | tail -n 1)"
	nft_has_port "$EXT" || fail "($label) no nft rule for udp dport $EXT after the renewal: $(nft_dump)"
	reach "$EXT" 5 || fail "($label) datagram to $WAN:$EXT did not reach host after the renewal"
	pass "($label) external port $EXT works again after the router restart"
	pm_stop
	wait_for 3 nft_gone "$EXT" || fail "($label) nft rule for $EXT still there after SIGTERM"
	pass "($label) SIGTERM: deleted"
	upnpd_kill
}

step "(c) router restart, UPnP"
restart_case c both upnp
step "(c2) router restart, NAT-PMP"
restart_case c2 pmponly natpmp

pass "portmap: all scenarios in $(elapsed)"
