#!/bin/bash
# mesh_portmap.sh: the running daemon maps its UDP port on the gateway
# (src/portmap_run.c) and publishes the mapping as a "portmap" endpoint.
#
#   ns $PFX-inet                         ns $PFX-rtr                     ns $PFX-h
#   i0 198.51.100.10/24 --veth-- w0 198.51.100.1/24 (WAN)
#   meshd "pub" (admin)                 nft masquerade out w0
#   STUN responder :3478                miniupnpd (UPnP + NAT-PMP on l0)
#                                       l0 192.168.77.1/24 --veth-- h0 192.168.77.2/24
#                                                                   default via .1
#                                                                   meshd "h" (joined)
#
# miniupnpd refuses mappings when its WAN address is reserved unless it learns
# its external address by STUN (docs/testing.md): the responder (same as
# portmap.sh's) runs in inet and ignores CHANGE-REQUEST.
#
# 1. pub: init + up; h: join with pub's token.
# 2. h's `status --json` lists an endpoint with source "portmap" (WAN:ext)
#    within 5 s of the join; rtr has miniupnpd's DNAT rule for udp dport ext.
# 3. pub lists h with path "direct", and pub's WireGuard endpoint for h is
#    exactly the mapped endpoint; overlay pings both ways.
# 4. `meshd down` on h: the mapping is deleted (rule gone) within 3 s.
# 5. `meshd down` on pub (no gateway; discovery running) exits promptly.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup mpm 120 "$@"

for t in miniupnpd nft python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

WAN=198.51.100.1
PUB=198.51.100.10
LAN_NET=192.168.77.0/24
mkdir -p "$WORK/st"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
ndir() { printf '%s/%s' "$WORK" "$1"; }

declare -A NODE_IF=([inet]=$(ifname p) [h]=$(ifname h))
declare -A NODE_PID=()
# m NS ARGS...: meshd ARGS in NS; CLI and daemon logs (info) to $WORK/NS.err
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL=info "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}
track() {
	local n=$1 pid
	pid=$(cat "$(ndir "$n")/meshd.pid" 2>/dev/null) || fail "$n: no meshd.pid"
	kill -0 "$pid" 2>/dev/null || fail "$n: daemon $pid not running"
	NODE_PID[$n]=$pid
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$n]}.sock")
}
st() {
	m "$1" status -d "$(ndir "$1")" --json >"$WORK/st/$1.json" 2>/dev/null ||
		: >"$WORK/st/$1.json"
}
dead() { ! kill -0 "$1" 2>/dev/null; }

diag_dump() {
	local n
	set +e
	for n in inet h; do
		echo "----- $n (if ${NODE_IF[$n]}, pid ${NODE_PID[$n]:-none}) -----"
		[ -S "$WG_SOCK_DIR/${NODE_IF[$n]}.sock" ] && nx "$n" wg show "${NODE_IF[$n]}" 2>&1 | sed 's/^/    /'
		[ -s "$WORK/st/$n.json" ] && sed 's/^/    status| /' "$WORK/st/$n.json"
		[ -s "$WORK/$n.err" ] && tail -n 25 "$WORK/$n.err" | sed 's/^/    | /'
	done
	echo "----- rtr: miniupnpd chain, log -----"
	nx rtr nft list chain inet miniupnpd prerouting_miniupnpd 2>&1 | sed 's/^/    /'
	[ -n "${UPNPD_LOG:-}" ] && tail -n 15 "$UPNPD_LOG" | sed 's/^/    | /'
}

cat >"$WORK/q.py" <<'EOF'
import json, sys
try:
    with open(sys.argv[2]) as f:
        j = json.load(f)
except Exception:
    sys.exit(1)
cmd = sys.argv[1]
if cmd == "portmap":        # portmap FILE: the addr of our portmap endpoint
    for e in j["node"]["endpoints"]:
        if e.get("source") == "portmap":
            print(e["addr"]); sys.exit(0)
    sys.exit(1)
elif cmd == "peer":         # peer FILE NAME FIELD
    for p in j["peers"]:
        if p.get("name") == sys.argv[3]:
            v = p.get(sys.argv[4])
            print("" if v is None else v); sys.exit(0)
    sys.exit(1)
elif cmd == "node":         # node FILE FIELD
    print(j["node"][sys.argv[3]])
EOF
q() { python3 "$WORK/q.py" "$@"; }

# --- topology ------------------------------------------------------------------

step "topology: inet (pub) <-> rtr (NAT, miniupnpd) <-> h"
ns_add inet
ns_add rtr
ns_add h
veth_add inet i0 rtr w0
veth_add rtr l0 h h0
addr_add inet i0 "$PUB/24"
addr_add rtr w0 "$WAN/24"
addr_add rtr l0 192.168.77.1/24
addr_add h h0 192.168.77.2/24
ip -n "$(nsname h)" route add default via 192.168.77.1
nx rtr sysctl -qw net.ipv4.ip_forward=1

# miniupnpd-nftables does not create its tables: the chains its config names.
# Unsolicited packets to the router itself are dropped (home router).
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

cat >"$WORK/stun.py" <<'EOF'
# Minimal STUN (RFC 5389) Binding responder: answers every request from the
# address it came to, CHANGE-REQUEST ignored.
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
bg stun ip netns exec "$(nsname inet)" python3 "$WORK/stun.py" "$PUB" 3478
wait_udp_bound inet 3478

cat >"$WORK/miniupnpd.conf" <<EOF
ext_ifname=w0
listening_ip=l0
http_port=5555
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=no
ext_perform_stun=yes
ext_stun_host=$PUB
ext_stun_port=3478
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=forward_miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c
allow 1024-65535 $LAN_NET 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
upnpd_ready() {
	kill -0 "$UPNPD_PID" 2>/dev/null || return 1
	nx rtr ss -lun 2>/dev/null | grep -q ':5351 '
}
bg upnpd ip netns exec "$(nsname rtr)" miniupnpd -4 -d -f "$WORK/miniupnpd.conf" \
	-P "$WORK/miniupnpd.pid"
UPNPD_PID=$BG_PID
UPNPD_LOG=$WORK/upnpd.out
wait_for 5 upnpd_ready || fail "miniupnpd did not start"
if grep -q 'restrictive\|firewall filters\|STUN failed' "$UPNPD_LOG"; then
	fail "miniupnpd: STUN verdict blocks forwarding"
fi

# nft_has_port PORT: a DNAT rule for udp dport PORT in miniupnpd's chain
nft_has_port() {
	nx rtr nft list chain inet miniupnpd prerouting_miniupnpd 2>/dev/null |
		grep -qE "dport $1( |\$)"
}
nft_gone() { ! nft_has_port "$1"; }

# --- 1. mesh ---------------------------------------------------------------------

step "1. pub: init + up (admin); h joins from behind rtr"
m inet init -d "$(ndir inet)" --name pub >/dev/null || fail "pub: init failed"
m inet up -d "$(ndir inet)" -i "${NODE_IF[inet]}" >/dev/null || fail "pub: up failed"
track inet
tok=$(m inet invite -d "$(ndir inet)" --uses 1) || fail "pub: invite failed"
T_JOIN=$(now_ms)
m h join "$tok" -d "$(ndir h)" --name h -i "${NODE_IF[h]}" >/dev/null || fail "h: join failed"
track h
info "join: $(secs $(($(now_ms) - T_JOIN))) s"

# --- 2. portmap endpoint ------------------------------------------------------------

step "2. h publishes a portmap endpoint; rtr holds the rule"
PM_EP=
pm_listed() {
	st h
	PM_EP=$(q portmap "$WORK/st/h.json") && [ -n "$PM_EP" ]
}
wait_for 5 pm_listed || fail "h lists no portmap endpoint 5 s after the join"
MAP_MS=$(($(now_ms) - T_JOIN))
EXT_PORT=${PM_EP##*:}
H_PORT=$(q node "$WORK/st/h.json" listen_port)
[ "${PM_EP%:*}" = "$WAN" ] || fail "portmap endpoint $PM_EP is not on rtr's WAN address $WAN"
nft_has_port "$EXT_PORT" || fail "no DNAT rule for udp dport $EXT_PORT in rtr"
grep -q "port mapping: mapped ext=$PM_EP" "$WORK/h.err" || fail "h did not log the mapping"
pass "portmap endpoint $PM_EP (local port $H_PORT) listed $(secs "$MAP_MS") s after the join start; rule in rtr"

# --- 3. pub reaches h at the mapping ---------------------------------------------------

step "3. pub lists h direct at the mapped endpoint; overlay pings"
direct() {
	st inet
	[ "$(q peer "$WORK/st/inet.json" h path)" = direct ]
}
wait_for 20 direct || fail "pub does not list h direct within 20 s"
info "pub lists h direct after $(secs $(($(now_ms) - T_JOIN))) s"
wg_ep() { nx inet wg show "${NODE_IF[inet]}" endpoints | awk '{ print $2 }' | head -n 1; }
info "pub's wg endpoint for h before any data from h: $(wg_ep)"
st h
H4=$(q node "$WORK/st/h.json" overlay_ipv4)
P4=$(q node "$WORK/st/inet.json" overlay_ipv4)
H4=${H4%/*}
P4=${P4%/*}
ping_first h "$P4" 5 || fail "h cannot ping pub at $P4"
ping_first inet "$H4" 5 || fail "pub cannot ping h at $H4"
ping_ok inet "$H4" || fail "pub -> h pings lost"
ping_ok h "$P4" || fail "h -> pub pings lost"
pass "overlay pings pub <-> h ($P4 <-> $H4)"
# pub ranks h's LOCAL endpoint first (mesh/node.c ep_rank); WireGuard roams
# to where h's data comes from: the mapped port, since miniupnpd's mapping
# (its postrouting rule) keeps h's source port on the WAN side.
ep_is_pm() { [ "$(wg_ep)" = "$PM_EP" ]; }
wait_for 3 ep_is_pm || fail "pub's wg endpoint for h is $(wg_ep), not the mapping $PM_EP"
st inet
[ "$(q peer "$WORK/st/inet.json" h endpoint)" = "$PM_EP" ] ||
	fail "pub's status endpoint for h is not $PM_EP"
pass "pub's endpoint for h = $(wg_ep) = portmap endpoint (ext port $EXT_PORT)"

# --- 4. down deletes the mapping ---------------------------------------------------------

step "4. meshd down on h: the mapping is deleted"
t=$(now_ms)
m h down -d "$(ndir h)" &
DOWN_PID=$!
wait_for 3 nft_gone "$EXT_PORT" || fail "rule for udp dport $EXT_PORT still in rtr 3 s after down"
DEL_MS=$(($(now_ms) - t))
wait "$DOWN_PID" || fail "h: down failed"
info "meshd down returned after $(secs $(($(now_ms) - t))) s"
wait_for 5 dead "${NODE_PID[h]}" || fail "h's daemon still runs 5 s after down"
grep -q "port mapping: deleted ext_port=$EXT_PORT" "$WORK/h.err" || fail "h did not log the DELETE"
pass "down: rule gone after $(secs "$DEL_MS") s, daemon exited after $(secs $(($(now_ms) - t))) s"

# pub has no gateway: its port mapping keeps discovering (an operation may be
# in flight on the thread pool); stopping must still be prompt and clean.
step "5. meshd down on pub (no gateway, discovery running)"
t=$(now_ms)
m inet down -d "$(ndir inet)" || fail "pub: down failed"
wait_for 5 dead "${NODE_PID[inet]}" || fail "pub's daemon still runs 5 s after down"
pass "pub down (no mapping) in $(secs $(($(now_ms) - t))) s"

pass "mesh_portmap: mapped in $(secs "$MAP_MS") s, deleted in $(secs "$DEL_MS") s, total $(($(date +%s) - T0)) s"
