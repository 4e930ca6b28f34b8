#!/bin/bash
# privs.sh: a running meshd keeps only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE,
# and the mesh still does everything that needs them afterwards.
#
#   ns $PFX-lan: bridge br0
#     n1  e0 198.18.0.1/24   init --mesh-name pv, up --hosts-file WORK/n1.hosts
#     n2  e0 198.18.0.2/24   join; later advertises 10.2.0.0/24 (10.2.0.1 on lo)
#     n3  e0 198.18.0.3/24   join; later revoked
#   ns $PFX-wg: `meshd wg -f` (plain WireGuard mode)
#
# 1. Every daemon thread (/proc/PID/task/*/status): CapEff = CapPrm = CapBnd =
#    0x1400 (NET_BIND_SERVICE 10, NET_ADMIN 12; no NET_RAW: nothing uses raw
#    sockets or SO_BINDTODEVICE), CapInh = CapAmb = 0, NoNewPrivs 1, uid 0.
# 2. After the drop: overlay pings between all pairs; n1's hosts file (root,
#    0644, written only after the drop, so without CAP_DAC_OVERRIDE) names
#    n2.pv and n3.pv; DNS on n1's overlay IPv4:53 answers n3.pv.
# 3. n2 `set --advertise-routes 10.2.0.0/24`, n1 `routes approve`: the route
#    appears in n1's and n3's kernel table (rtnetlink with CAP_NET_ADMIN).
# 4. `meshd revoke n3` on n1: n1 and n2 drop n3 as a WireGuard peer.
# 5. `meshd down` on n1: the daemon exits, the interface goes, the hosts
#    block is removed (other lines kept).
# 6. n2 restarted on a state directory owned by 65534 (mode 0700): root
#    without CAP_DAC_OVERRIDE could not even enter it, so the daemon keeps
#    that one too (CapEff 0x1402) and says so; `down` still cleans up.
# 7. `meshd wg -f`: same sets; `wg set` of fwmark and listen-port 443
#    (SO_MARK needs CAP_NET_ADMIN, port 443 CAP_NET_BIND_SERVICE) works.
# 8. MESHD_DROP_PRIVS=0 keeps the full set (the debugging switch).
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup pv 150 "$@"

for t in python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"
mkdir -p "$WORK/st"

WANT=0000000000001400   # CAP_NET_BIND_SERVICE (10) | CAP_NET_ADMIN (12)
declare -A NODE_IF=() NODE_PID=()
ndir() { printf '%s/%s' "$WORK" "$1"; }
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL=info "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}
track() {
	local pid
	pid=$(cat "$(ndir "$1")/meshd.pid" 2>/dev/null) || fail "$1: no meshd.pid"
	case $pid in '' | *[!0-9]*) fail "$1: meshd.pid holds '$pid'" ;; esac
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$1]}.sock")
	NODE_PID[$1]=$pid
}
st() {
	m "$1" status -d "$(ndir "$1")" --json >"$WORK/st/$1.json" 2>/dev/null ||
		: >"$WORK/st/$1.json"
}
ov4() {
	st "$1"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["node"]["overlay_ipv4"].split("/")[0])' \
		"$WORK/st/$1.json" 2>/dev/null || true
}
# caps_ok PID WANT_HEX: every thread of PID has exactly WANT in CapEff, CapPrm
# and CapBnd, nothing inheritable or ambient, NoNewPrivs 1 and uid 0.
# Prints the first mismatch.
caps_ok() {
	local pid=$1 want=$2 f
	for f in /proc/"$pid"/task/*/status; do
		awk -v want="$want" -v f="$f" '
			/^Uid:/ { if ($2 != 0) { print f ": uid " $2; bad = 1 } }
			/^Cap(Eff|Prm|Bnd):/ { if ($2 != want) { print f ": " $1 " " $2 " want " want; bad = 1 } }
			/^Cap(Inh|Amb):/ { if ($2 != "0000000000000000") { print f ": " $1 " " $2; bad = 1 } }
			/^NoNewPrivs:/ { nnp = $2 }
			END { if (nnp != 1) { print f ": NoNewPrivs " nnp; bad = 1 }; exit bad }
		' "$f" || return 1
	done
}
threads() { find /proc/"$1"/task -mindepth 1 -maxdepth 1 | wc -l; }
cat >"$WORK/dns.py" <<'EOF'
import random, socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
qid = random.randrange(65536)
q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(3):
    s.sendto(q, (server, 53))
    try:
        r = s.recv(4096)
    except socket.timeout:
        continue
    if len(r) >= 12 and struct.unpack("!H", r[:2])[0] == qid:
        break
else:
    print("TIMEOUT"); sys.exit(1)
_, flags, qd, an, _, _ = struct.unpack("!HHHHHH", r[:12])
if flags & 0xF or an < 1:
    print("RCODE", flags & 0xF); sys.exit(1)
# the first answer follows the question; the A record's data is its last 4 bytes
off = 12
while r[off]:
    off += 1 + r[off]
off += 5
if r[off] & 0xC0 == 0xC0:
    off += 2
else:
    while r[off]:
        off += 1 + r[off]
    off += 1
typ, _, _, rdlen = struct.unpack("!HHIH", r[off:off + 10])
print(socket.inet_ntoa(r[off + 10:off + 14]) if typ == 1 and rdlen == 4 else "NOTA")
EOF
diag_dump() {
	local n f
	set +e
	for n in n1 n2 n3 wg; do
		for f in "$WORK/$n.err"; do
			[ -s "$f" ] || continue
			echo "    $n: $(basename "$f") (last 20 lines):"
			tail -n 20 "$f" | sed 's/^/    | /'
		done
	done
}

step "topology: n1 n2 n3 on one bridge; n1 with a hosts file (root, 0644)"
ns_add lan
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
for k in 1 2 3; do
	ns_add "n$k"
	veth_add "n$k" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	addr_add "n$k" e0 "198.18.0.$k/24"
	NODE_IF[n$k]=$(ifname n "$k")
done
printf '127.0.0.1\tlocalhost\n192.0.2.9\tkeep.example\n' >"$WORK/n1.hosts"
chmod 0644 "$WORK/n1.hosts"

step "1. n1 init + up; n2, n3 join: capabilities of every daemon thread"
m n1 init -d "$(ndir n1)" --name n1 --mesh-name pv >/dev/null || fail "n1: init"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" --hosts-file "$WORK/n1.hosts" >/dev/null ||
	fail "n1: up"
track n1
for n in n2 n3; do
	tok=$(m n1 invite -d "$(ndir n1)") || fail "n1: invite"
	m "$n" join "$tok" -d "$(ndir "$n")" --name "$n" -i "${NODE_IF[$n]}" >/dev/null ||
		fail "$n: join"
	track "$n"
done
for n in n1 n2 n3; do
	why=$(caps_ok "${NODE_PID[$n]}" "$WANT") || fail "$n: $why"
	pass "$n (pid ${NODE_PID[$n]}, $(threads "${NODE_PID[$n]}") threads): CapEff=CapPrm=CapBnd=$WANT, no inheritable/ambient, NoNewPrivs 1, uid 0"
done
grep -q 'privileges: keeping cap_net_bind_service,cap_net_admin' "$WORK/n1.err" ||
	fail "n1: no 'privileges: keeping ...' log line"

step "2. after the drop: overlay pings, hosts file, DNS on port 53"
for n in n1 n2 n3; do eval "A_$n=\$(ov4 $n)"; done
# shellcheck disable=SC2154 # set by eval above
for pair in "n1 $A_n2" "n1 $A_n3" "n2 $A_n1" "n2 $A_n3" "n3 $A_n1" "n3 $A_n2"; do
	# shellcheck disable=SC2086 # NODE ADDR
	set -- $pair
	[ -n "$2" ] || fail "no overlay address for a peer of $1"
	ping_first "$1" "$2" 20 || fail "$1 cannot ping $2 over the overlay"
done
pass "all 6 ordered pairs ping over the overlay"
hosts_ok() {
	grep -Eq "^${A_n2}[[:space:]]+n2\.pv" "$WORK/n1.hosts" &&
		grep -Eq "^${A_n3}[[:space:]]+n3\.pv" "$WORK/n1.hosts"
}
wait_for 10 hosts_ok || fail "n1's hosts file lacks n2.pv/n3.pv: $(cat "$WORK/n1.hosts")"
mode=$(stat -c '%U %a' "$WORK/n1.hosts")
[ "$mode" = "root 644" ] || fail "hosts file is '$mode', want 'root 644'"
pass "hosts file (root 644) rewritten without CAP_DAC_OVERRIDE: names n2.pv, n3.pv"
r=$(nx n2 python3 "$WORK/dns.py" "$A_n1" n3.pv) || fail "DNS n3.pv at $A_n1:53: '$r'"
[ "$r" = "$A_n3" ] || fail "DNS n3.pv at $A_n1:53: '$r', want $A_n3"
pass "DNS on $A_n1:53 answers n3.pv -> $r"

step "3. n2 advertises 10.2.0.0/24, n1 approves: the route reaches n1 and n3"
addr_add n2 lo 10.2.0.1/24
m n2 set -d "$(ndir n2)" --advertise-routes 10.2.0.0/24 >/dev/null || fail "n2: set --advertise-routes"
kroute() { nx "$1" ip -4 route show | grep -q "^$2 "; }
adv_seen() {
	m n1 routes -d "$(ndir n1)" --json 2>/dev/null | grep -q '10\.2\.0\.0/24'
}
wait_for 10 adv_seen || fail "n1 does not see n2's advertisement"
m n1 routes approve n2 10.2.0.0/24 -d "$(ndir n1)" >/dev/null || fail "n1: routes approve"
wait_for 10 kroute n1 10.2.0.0/24 || fail "n1: no kernel route 10.2.0.0/24 after approval"
wait_for 10 kroute n3 10.2.0.0/24 || fail "n3: no kernel route 10.2.0.0/24 after approval"
ping_first n3 10.2.0.1 10 || fail "n3 cannot reach 10.2.0.1 through the approved route"
pass "10.2.0.0/24 installed on n1 and n3; n3 reaches 10.2.0.1"

step "4. revoke n3 on n1"
PK3=$(nx n3 wg show "${NODE_IF[n3]}" public-key) || fail "n3: wg show"
no_n3() {
	! nx n1 wg show "${NODE_IF[n1]}" peers | grep -qF "$PK3" &&
		! nx n2 wg show "${NODE_IF[n2]}" peers | grep -qF "$PK3"
}
m n1 revoke n3 -d "$(ndir n1)" >/dev/null || fail "n1: revoke n3"
wait_for 10 no_n3 || fail "n3 still a WireGuard peer of n1 or n2 10 s after revoke"
pass "n3 gone from n1's and n2's WireGuard peers"

step "5. meshd down on n1: exit, interface gone, hosts block removed"
m n1 down -d "$(ndir n1)" >/dev/null || fail "n1: down"
dead() { ! kill -0 "$1" 2>/dev/null; }
wait_for 10 dead "${NODE_PID[n1]}" || fail "n1: daemon still runs 10 s after down"
nx n1 ip link show "${NODE_IF[n1]}" >/dev/null 2>&1 && fail "n1: ${NODE_IF[n1]} still exists"
grep -q 'meshd' "$WORK/n1.hosts" && fail "n1: hosts block left behind: $(cat "$WORK/n1.hosts")"
grep -q 'keep.example' "$WORK/n1.hosts" || fail "n1: down lost the other hosts lines"
pass "daemon gone, interface gone, hosts block removed, other lines kept"

step "6. a state directory root does not own: cap_dac_override is kept (logged)"
m n2 down -d "$(ndir n2)" >/dev/null || fail "n2: down"
wait_for 10 dead "${NODE_PID[n2]}" || fail "n2: daemon still runs 10 s after down"
chown -R 65534:65534 "$(ndir n2)"
chmod 0700 "$(ndir n2)"
: >"$WORK/n2.err"
m n2 up -d "$(ndir n2)" -i "${NODE_IF[n2]}" >/dev/null || fail "n2: up in a dir owned by 65534"
track n2
why=$(caps_ok "${NODE_PID[n2]}" 0000000000001402) || fail "n2: $why"
grep -q "keeping cap_dac_override" "$WORK/n2.err" || fail "n2: no warning about cap_dac_override"
m n2 down -d "$(ndir n2)" >/dev/null || fail "n2: down"
wait_for 10 dead "${NODE_PID[n2]}" || fail "n2: daemon still runs 10 s after down"
[ ! -e "$(ndir n2)/meshd.pid" ] || fail "n2: meshd.pid left behind in the 65534-owned dir"
pass "n2: CapEff 0x1402 (+dac_override), warned; down removed its pid file"

step "7. meshd wg -f: same sets; fwmark and listen-port 443 still work"
ns_add wg
WGIF=$(ifname w)
ip netns exec "$(nsname wg)" env LOG_LEVEL=info "$MESHD" wg -f "$WGIF" >>"$WORK/wg.err" 2>&1 9>&- &
WGPID=$!
PID_LIST+=("$WGPID")
SOCK_LIST+=("$WG_SOCK_DIR/$WGIF.sock")
wait_for 5 test -S "$WG_SOCK_DIR/$WGIF.sock" || fail "meshd wg: no UAPI socket"
# the UAPI socket appears just before the drop: wait for it too (bounded)
wait_for 5 caps_ok "$WGPID" "$WANT" >/dev/null || {
	why=$(caps_ok "$WGPID" "$WANT") || fail "meshd wg: $why"
}
key_file=$WORK/wg.key
wg genkey >"$key_file"
nx wg wg set "$WGIF" private-key "$key_file" listen-port 443 fwmark 0x42 ||
	fail "meshd wg: wg set listen-port 443 fwmark 0x42 failed"
[ "$(nx wg wg show "$WGIF" listen-port)" = 443 ] || fail "meshd wg: listen-port not 443"
[ "$(nx wg wg show "$WGIF" fwmark)" = 0x42 ] || fail "meshd wg: fwmark not 0x42"
pass "meshd wg: CapEff=CapPrm=CapBnd=$WANT, NoNewPrivs 1; listen-port 443 and fwmark set"
kill "$WGPID"
wait_for 5 dead "$WGPID" || fail "meshd wg: still running after SIGTERM"

step "8. MESHD_DROP_PRIVS=0 keeps the full set"
ip netns exec "$(nsname wg)" env MESHD_DROP_PRIVS=0 "$MESHD" wg -f "$WGIF" >>"$WORK/wg.err" 2>&1 9>&- &
WGPID=$!
PID_LIST+=("$WGPID")
wait_for 5 test -S "$WG_SOCK_DIR/$WGIF.sock" || fail "meshd wg: no UAPI socket"
eff=$(awk '/^CapEff:/ { print $2 }' /proc/"$WGPID"/status)
[ "$eff" != "$WANT" ] || fail "MESHD_DROP_PRIVS=0: CapEff still $eff"
pass "MESHD_DROP_PRIVS=0: CapEff $eff"
kill "$WGPID"
wait_for 5 dead "$WGPID" || fail "meshd wg: still running after SIGTERM"
exit 0
