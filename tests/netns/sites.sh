#!/bin/bash
# sites.sh: subnet routes and names (issue 5): two office sites and a laptop.
#
#                      ns inet: bridge br0 (198.51.100.0/24)
#          .1 /              .2 |                  \ .3
#   ns gwa (meshd, admin)   ns gwb (meshd)        ns lp (meshd, laptop, no LAN)
#   br1 10.1.0.1/24         br1 10.2.0.1/24
#       fd00:a::1/64            fd00:b::1/64
#    /          \               |
#  ns ha1       ns ha2        ns hb1
#  10.1.0.11    10.1.0.12     10.2.0.11
#  fd00:a::11   fd00:a::12    fd00:b::11      (default routes via their gateway)
#
# gwa: init --mesh-name corp --prefix 10.99.0.0/16, up --advertise-routes
# 10.1.0.0/24,fd00:a::/64; gwb and lp join (lp with --hosts-file FILE in the
# work dir); gwb advertises with `set`; lp (no forwarding) gets its warning.
# Forwarding is enabled inside gwa and gwb only.
#  1. `up --advertise-routes` of a prefix inside the overlay is refused.
#  2. Before approval: `routes` shows the prefixes advertised, not approved,
#     none installed; ha1 cannot reach hb1.
#  3. Four approvals on gwa: within 10 s ha1 <-> hb1 over IPv4 and IPv6; ha2
#     too; the laptop reaches both LANs. An overlapping approval is refused.
#  4. DNS on gwa's overlay IPv4:53 (asked from lp, through the tunnel):
#     gwb.corp A/AAAA = gwb's overlay addresses, nosuch.corp NXDOMAIN (with the SOA),
#     example.com REFUSED. lp's hosts file names gwa.corp and gwb.corp.
#  5. 64 MiB ha1 -> hb1 over TCP, sha256 checked, the MSS seen by ha1 clamped
#     to fit the tunnel; prints Mbit/s.
#  6. deny 10.2.0.0/24: gone from gwa's and lp's kernel tables within 10 s,
#     ha1 no longer reaches hb1 over IPv4. gwb withdraws (`set ... none`):
#     fd00:b::/64 goes too. gwb re-advertises, then is revoked: nothing of
#     gwb's (routes, allowed IPs) stays installed anywhere.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup sr 200 "$@"

for t in python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"
mkdir -p "$WORK/st"

# --- helpers -----------------------------------------------------------------

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

declare -A NODE_IF=() NODE_PID=()
NODES="gwa gwb lp"
ndir() { printf '%s/%s' "$WORK" "$1"; }

# m NODE ARGS...: meshd ARGS in NODE's namespace; stderr (the CLI's and the
# background daemon's) appended to $WORK/NODE.err.
: "${SR_LOG_LEVEL:=info}"
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL="$SR_LOG_LEVEL" "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}

# mc NODE ARGS...: like m, but stdout and stderr to $WORK/last.out/.err only.
mc() {
	local n=$1
	shift
	nx "$n" "$MESHD" "$@" >"$WORK/last.out" 2>"$WORK/last.err" 9>&-
}

track() {
	local n=$1 pid
	pid=$(cat "$(ndir "$n")/meshd.pid" 2>/dev/null) || fail "$n: no meshd.pid after start"
	case $pid in '' | *[!0-9]*) fail "$n: meshd.pid holds '$pid'" ;; esac
	kill -0 "$pid" 2>/dev/null || fail "$n: daemon $pid is not running"
	NODE_PID[$n]=$pid
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$n]}.sock")
}

st() {
	m "$1" status -d "$(ndir "$1")" --json >"$WORK/st/$1.json" 2>/dev/null ||
		: >"$WORK/st/$1.json"
}
rt() {
	m "$1" routes -d "$(ndir "$1")" --json >"$WORK/st/$1.routes.json" 2>/dev/null ||
		: >"$WORK/st/$1.routes.json"
}

cat >"$WORK/sr.py" <<'EOF'
import hashlib, json, os, random, socket, struct, sys, time

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return None

def dns(server, name, qtype):
    """One query over UDP; prints 'RCODE addr...' (A/AAAA answers), then
    'SOA' for an SOA in the authority section (a negative answer's)."""
    qt = {"A": 1, "AAAA": 28}[qtype]
    qid = random.randrange(65536)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack("!HH", qt, 1)
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    r = None
    for _ in range(3):
        s.sendto(q, (server, 53))
        try:
            r = s.recv(4096)
        except socket.timeout:
            continue
        if len(r) >= 12 and struct.unpack("!H", r[:2])[0] == qid:
            break
        r = None
    if r is None:
        print("TIMEOUT")
        return 1
    _, flags, qd, an, ns, _ = struct.unpack("!HHHHHH", r[:12])
    rcode = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(
        flags & 0xF, str(flags & 0xF))
    off = 12
    def skip_name(off):
        while True:
            l = r[off]
            if l == 0:
                return off + 1
            if l & 0xC0 == 0xC0:
                return off + 2
            off += 1 + l
    for _ in range(qd):
        off = skip_name(off) + 4
    out = []
    for _ in range(an):
        off = skip_name(off)
        t, _, _, rdlen = struct.unpack("!HHIH", r[off:off + 10])
        off += 10
        rd = r[off:off + rdlen]
        off += rdlen
        if t == 1 and rdlen == 4:
            out.append(socket.inet_ntop(socket.AF_INET, rd))
        elif t == 28 and rdlen == 16:
            out.append(socket.inet_ntop(socket.AF_INET6, rd))
    for _ in range(ns):
        off = skip_name(off)
        t, _, _, rdlen = struct.unpack("!HHIH", r[off:off + 10])
        off += 10 + rdlen
        if t == 6:
            out.append("SOA")
    print(" ".join([rcode] + out))
    return 0

def sink(host, port, outfile):
    """Accept one TCP connection, hash all it sends, answer 'HEX COUNT'."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    ls.settimeout(90)
    c, _ = ls.accept()
    c.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.sendall(f"{h.hexdigest()} {n}\n".encode())
    c.close()
    with open(outfile, "w") as f:
        f.write(f"{h.hexdigest()} {n}\n")
    return 0

def send(host, port, mib):
    """Send MIB MiB of random data; check the sink's hash; print the rate."""
    deadline = time.time() + 5
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(60)
        try:
            s.connect((host, port))
            break
        except OSError:
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    mss = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    h, n = hashlib.sha256(), 0
    t0 = time.monotonic()
    for _ in range(mib):
        b = os.urandom(1 << 20)
        h.update(b)
        s.sendall(b)
        n += len(b)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while not reply.endswith(b"\n"):
        b = s.recv(256)
        if not b:
            break
        reply += b
    dt = time.monotonic() - t0
    s.close()
    want = f"{h.hexdigest()} {n}"
    got = reply.decode(errors="replace").strip()
    print(f"bytes={n} secs={dt:.2f} mbit={n * 8 / dt / 1e6:.1f} mss={mss} "
          f"sha256={'ok' if got == want else 'MISMATCH(' + got + ' vs ' + want + ')'}")
    return 0 if got == want else 1

def conv(stdir, nodes):
    for n in nodes:
        j = load(os.path.join(stdir, n + ".json"))
        if j is None:
            print(f"{n}: no status"); return 1
        peers = {p.get("name"): p for p in j.get("peers", [])}
        for o in nodes:
            if o != n and o not in peers:
                print(f"{n} does not list {o}"); return 1
            if o != n and peers[o].get("path") != "direct":
                print(f"{n} -> {o}: path {peers[o].get('path')}"); return 1
    print("ok")
    return 0

def routes(path, node, field):
    j = load(path)
    if j is None:
        print("NOJSON"); return 1
    for x in j.get("nodes", []):
        if x.get("name") == node:
            print(" ".join(sorted(x.get(field, []))))
            return 0
    print("")
    return 0

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "dns":
    sys.exit(dns(a[0], a[1], a[2]))
elif cmd == "sink":
    sys.exit(sink(a[0], int(a[1]), a[2]))
elif cmd == "send":
    sys.exit(send(a[0], int(a[1]), int(a[2])))
elif cmd == "conv":
    sys.exit(conv(a[0], a[1:]))
elif cmd == "node":            # node FILE FIELD
    j = load(a[0])
    v = str(j["node"][a[1]]) if j else ""
    # Only overlay addresses carry a /len; a base64 key may start with "/".
    print(v.split("/")[0] if a[1].startswith("overlay") else v)
elif cmd == "routes":          # routes FILE NODE advertised|approved|installed
    sys.exit(routes(a[0], a[1], a[2]))
EOF
py() { python3 "$WORK/sr.py" "$@"; }

CONV_WHY=
converged() {
	local n
	for n in $NODES; do st "$n"; done
	# shellcheck disable=SC2086 # word list
	CONV_WHY=$(py conv "$WORK/st" $NODES) || return 1
}

# field NODE OWNER FIELD: OWNER's FIELD in NODE's `routes --json`.
field() {
	rt "$1"
	py routes "$WORK/st/$1.routes.json" "$2" "$3"
}

# kroute NODE PREFIX: 0 when NODE's kernel routing table holds PREFIX.
kroute() {
	local fam=-4
	case $2 in *:*) fam=-6 ;; esac
	nx "$1" ip "$fam" route show | grep -q "^$2 "
}
no_kroute() { ! kroute "$@"; }
# no_kroute_all PREFIX NODES...: none of NODES holds PREFIX.
no_kroute_all() {
	local p=$1 n
	shift
	for n in "$@"; do kroute "$n" "$p" && return 1; done
	return 0
}
unreachable() { ! ping_ok "$1" "$2" 1; }

# timed SECS LABEL CMD...: wait for CMD; pass with the time taken, or fail.
timed() {
	local secs=$1 label=$2 t
	shift 2
	t=$(now_ms)
	wait_for "$secs" "$@" || fail "$label: not within $secs s"
	pass "$label: $(secs $(($(now_ms) - t))) s"
}

diag_dump() {
	local n dev
	set +e
	for n in $NODES; do
		dev=${NODE_IF[$n]:-}
		echo "----- $n (if ${dev:-?}, pid ${NODE_PID[$n]:-none}) -----"
		if [ -d "$(ndir "$n")" ]; then
			timeout 3 ip netns exec "$(nsname "$n")" "$MESHD" routes -d "$(ndir "$n")" 2>&1 |
				sed 's/^/    routes| /'
		fi
		nx "$n" ip route show 2>&1 | sed 's/^/    ip4| /'
		nx "$n" ip -6 route show 2>&1 | grep -v '^fe80' | sed 's/^/    ip6| /'
		if [ -n "$dev" ] && [ -S "$WG_SOCK_DIR/$dev.sock" ]; then
			nx "$n" wg show "$dev" allowed-ips 2>&1 | sed 's/^/    wg| /'
		fi
		if [ -s "$WORK/$n.err" ]; then
			echo "    CLI/daemon stderr (last 25 lines):"
			tail -n 25 "$WORK/$n.err" | sed 's/^/    | /'
		fi
	done
	set -e
}

# --- topology ------------------------------------------------------------------

step "topology: inet bridge; sites A (gwa, ha1, ha2) and B (gwb, hb1); laptop lp"
ns_add inet
ip -n "$(nsname inet)" link add br0 type bridge
ip -n "$(nsname inet)" link set br0 up
k=0
for n in gwa gwb lp; do
	k=$((k + 1))
	ns_add "$n"
	veth_add "$n" e0 inet "p$k"
	ip -n "$(nsname inet)" link set "p$k" master br0
	addr_add "$n" e0 "198.51.100.$k/24"
	NODE_IF[$n]=$(ifname m "$k")
done
# site LANs: a bridge in the gateway, one veth per host
lan_host() { # lan_host GW HOST V4 V6 GW4 GW6
	ns_add "$2"
	veth_add "$2" e0 "$1" "v$2"
	ip -n "$(nsname "$1")" link set "v$2" master br1
	addr_add "$2" e0 "$3/24" "$4/64"
	ip -n "$(nsname "$2")" route add default via "$5"
	ip -n "$(nsname "$2")" -6 route add default via "$6"
}
for g in a b; do
	ip -n "$(nsname "gw$g")" link add br1 type bridge
	ip -n "$(nsname "gw$g")" link set br1 up
	k=1
	[ "$g" = b ] && k=2
	addr_add "gw$g" br1 "10.$k.0.1/24" "fd00:$g::1/64"
	nx "gw$g" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null ||
		fail "gw$g: cannot enable forwarding"
done
lan_host gwa ha1 10.1.0.11 fd00:a::11 10.1.0.1 fd00:a::1
lan_host gwa ha2 10.1.0.12 fd00:a::12 10.1.0.1 fd00:a::1
lan_host gwb hb1 10.2.0.11 fd00:b::11 10.2.0.1 fd00:b::1
ping_ok ha1 10.1.0.1 1 || fail "ha1 cannot reach its gateway"
ping_ok hb1 fd00:b::1 1 || fail "hb1 cannot reach its gateway over IPv6"

# --- the mesh --------------------------------------------------------------------

step "1. gwa: init --mesh-name corp; up refuses an overlay prefix; up --advertise-routes"
m gwa init -d "$(ndir gwa)" --name gwa --mesh-name corp --prefix 10.99.0.0/16 >/dev/null ||
	fail "gwa: init failed"
rc=0
mc gwa up -d "$(ndir gwa)" -i "${NODE_IF[gwa]}" --advertise-routes 10.1.0.0/24,10.99.7.0/24 || rc=$?
[ "$rc" = 1 ] || fail "up with a prefix inside the overlay: exit $rc, want 1"
grep -q "overlaps the mesh's overlay prefix 10.99.0.0/16" "$WORK/last.err" ||
	fail "up with an overlay prefix: message '$(cat "$WORK/last.err")'"
[ -e "$(ndir gwa)/meshd.pid" ] && fail "refused up left a daemon"
pass "up --advertise-routes 10.99.7.0/24 refused: $(cat "$WORK/last.err")"
m gwa up -d "$(ndir gwa)" -i "${NODE_IF[gwa]}" --advertise-routes 10.1.0.0/24,fd00:a::/64 \
	>/dev/null || fail "gwa: up failed"
track gwa

for n in gwb lp; do
	tok=$(nx gwa env MESHD_INVITE_ENDPOINTS=198.51.100.1:51820 "$MESHD" invite \
		-d "$(ndir gwa)" 2>>"$WORK/gwa.err") || fail "invite for $n failed"
	hf=()
	[ "$n" = lp ] && hf=(--hosts-file "$WORK/lp.hosts")
	m "$n" join "$tok" -d "$(ndir "$n")" --name "$n" -i "${NODE_IF[$n]}" "${hf[@]}" \
		>/dev/null || fail "$n: join failed"
	track "$n"
done
t=$(now_ms)
wait_for 30 converged || fail "gwa, gwb, lp not converged after 30 s ($CONV_WHY)"
pass "gwa, gwb, lp converged (direct paths): $(secs $(($(now_ms) - t))) s"
mc gwb set -d "$(ndir gwb)" --advertise-routes 10.2.0.0/24,fd00:b::/64 ||
	fail "gwb: set --advertise-routes failed: $(cat "$WORK/last.err")"
[ -s "$WORK/last.err" ] && fail "gwb (forwarding on): set warned: $(cat "$WORK/last.err")"
# The laptop forwards nothing: `set` must say so, as `up` does (the
# background daemon's own log goes nowhere), and still advertise.
mc lp set -d "$(ndir lp)" --advertise-routes 10.9.0.0/24 ||
	fail "lp: set --advertise-routes 10.9.0.0/24 failed: $(cat "$WORK/last.err")"
grep -q '^meshd: warning: forwarding is off: .*sysctl -w net.ipv4.ip_forward=1' \
	"$WORK/last.err" || fail "lp (forwarding off): set gave no warning: '$(cat "$WORK/last.err")'"
grep -q 'net.ipv6' "$WORK/last.err" && fail "lp: IPv6 forwarding warning for an IPv4 list"
pass "set --advertise-routes with forwarding off: $(cat "$WORK/last.err")"
mc lp set -d "$(ndir lp)" --advertise-routes none || fail "lp: set none failed"

# --- 2. before approval ------------------------------------------------------------

step "2. advertised, not approved: nothing installed, no LAN-to-LAN traffic"
adv_seen() { [ "$(field gwa gwb advertised)" = "10.2.0.0/24 fd00:b::/64" ]; }
timed 10 "gwa sees gwb's advertisement" adv_seen
[ "$(field gwa gwa advertised)" = "10.1.0.0/24 fd00:a::/64" ] ||
	fail "gwa's own advertised routes: '$(field gwa gwa advertised)'"
for o in gwa gwb; do
	a=$(field gwa "$o" approved)
	[ -z "$a" ] || fail "$o: approved before any approval: '$a'"
done
a=$(field lp gwb installed)
[ -z "$a" ] || fail "lp installed gwb's routes before approval: '$a'"
kroute lp 10.2.0.0/24 && fail "lp: kernel route 10.2.0.0/24 before approval"
unreachable ha1 10.2.0.11 || fail "ha1 reaches hb1 before approval"
pass "routes lists 4 advertised, 0 approved; ha1 cannot reach hb1"

# --- 3. approve ------------------------------------------------------------------------

step "3. approve the four prefixes on gwa"
t=$(now_ms)
for a in "gwa 10.1.0.0/24" "gwa fd00:a::/64" "gwb 10.2.0.0/24" "gwb fd00:b::/64"; do
	# shellcheck disable=SC2086 # NODE CIDR
	mc gwa routes approve $a -d "$(ndir gwa)" || fail "routes approve $a failed: $(cat "$WORK/last.err")"
	[ ! -s "$WORK/last.err" ] || fail "routes approve $a (advertised): '$(cat "$WORK/last.err")'"
done
both_ways() {
	ping_ok ha1 10.2.0.11 1 && ping_ok ha1 fd00:b::11 1 &&
		ping_ok hb1 10.1.0.11 1 && ping_ok hb1 fd00:a::11 1
}
wait_for 10 both_ways || fail "ha1 <-> hb1 (IPv4, IPv6) not within 10 s of the approvals"
pass "ha1 <-> hb1 over IPv4 and IPv6: $(secs $(($(now_ms) - t))) s after the first approval"
if ! ping_ok ha2 10.2.0.11 || ! ping_ok ha2 fd00:b::11; then
	fail "ha2 cannot reach hb1"
fi
for d in 10.1.0.11 fd00:a::11 10.2.0.11 fd00:b::11; do
	ping_first lp "$d" 5 || fail "lp cannot reach $d"
done
pass "ha2 reaches hb1; the laptop reaches both LANs (IPv4, IPv6)"
[ "$(field lp gwb installed)" = "10.2.0.0/24 fd00:b::/64" ] ||
	fail "lp: gwb installed '$(field lp gwb installed)'"
rc=0
mc gwa routes approve lp 10.1.0.0/25 -d "$(ndir gwa)" || rc=$?
[ "$rc" = 1 ] || fail "approve lp 10.1.0.0/25 (overlaps gwa's 10.1.0.0/24): exit $rc, want 1"
grep -q "10.1.0.0/24" "$WORK/last.err" ||
	fail "overlapping approval: message does not name 10.1.0.0/24: '$(cat "$WORK/last.err")'"
pass "overlapping approval refused: $(cat "$WORK/last.err")"
# approving a prefix the member does not advertise is valid (it is
# installed once advertised), and the admin is told so
mc gwa routes approve gwb 10.3.0.0/24 -d "$(ndir gwa)" ||
	fail "approve gwb 10.3.0.0/24 (not advertised): $(cat "$WORK/last.err")"
grep -q "^meshd: note: 'gwb' does not advertise 10.3.0.0/24" "$WORK/last.err" ||
	fail "approve of a prefix gwb does not advertise: no note: '$(cat "$WORK/last.err")'"
mc gwa routes deny gwb 10.3.0.0/24 -d "$(ndir gwa)" ||
	fail "deny gwb 10.3.0.0/24: $(cat "$WORK/last.err")"
pass "approving a prefix gwb does not advertise: accepted with a note"

# --- 4. names -----------------------------------------------------------------------

step "4. DNS on gwa's overlay address (asked from lp through the tunnel)"
st gwa
st gwb
GWA4=$(py node "$WORK/st/gwa.json" overlay_ipv4)
GWB4=$(py node "$WORK/st/gwb.json" overlay_ipv4)
GWB6=$(py node "$WORK/st/gwb.json" overlay_ipv6)
if [ -z "$GWA4" ] || [ -z "$GWB4" ] || [ -z "$GWB6" ]; then
	fail "no overlay addresses in status"
fi
dnsq() { nx lp python3 "$WORK/sr.py" dns "$GWA4" "$1" "$2"; }
r=$(dnsq gwb.corp A)
[ "$r" = "NOERROR $GWB4" ] || fail "gwb.corp A: '$r', want 'NOERROR $GWB4'"
r=$(dnsq gwb.corp AAAA)
[ "$r" = "NOERROR $GWB6" ] || fail "gwb.corp AAAA: '$r', want 'NOERROR $GWB6'"
r=$(dnsq nosuch.corp A)
[ "$r" = "NXDOMAIN SOA" ] || fail "nosuch.corp: '$r', want NXDOMAIN with the zone's SOA"
r=$(dnsq example.com A)
[ "$r" = REFUSED ] || fail "example.com: '$r', want REFUSED"
pass "gwb.corp -> $GWB4 $GWB6; nosuch.corp NXDOMAIN (with the SOA); example.com REFUSED"
hosts_ok() {
	grep -Eq "^${GWB4}[[:space:]]+gwb\.corp([[:space:]]|\$)" "$WORK/lp.hosts" &&
		grep -Eq "^${GWB6}[[:space:]]+gwb\.corp([[:space:]]|\$)" "$WORK/lp.hosts" &&
		grep -Eq "^${GWA4}[[:space:]]+gwa\.corp([[:space:]]|\$)" "$WORK/lp.hosts"
}
wait_for 5 hosts_ok || fail "lp's --hosts-file lacks gwa.corp/gwb.corp: $(cat "$WORK/lp.hosts" 2>&1)"
pass "lp's --hosts-file $WORK/lp.hosts names gwa.corp and gwb.corp"

# --- 5. bulk ---------------------------------------------------------------------------

step "5. 64 MiB ha1 -> hb1 over TCP (LAN MTU 1500, tunnel MTU 1420)"
nx hb1 python3 "$WORK/sr.py" sink 10.2.0.11 5001 "$WORK/sink.txt" >"$WORK/sink.out" 2>&1 9>&- &
SINK=$!
PID_LIST+=("$SINK")
out=$(nx ha1 timeout 90 python3 "$WORK/sr.py" send 10.2.0.11 5001 64 9>&-) ||
	fail "bulk transfer failed: $out $(cat "$WORK/sink.out")"
wait "$SINK" || fail "sink failed: $(cat "$WORK/sink.out")"
info "$out"
case $out in *sha256=ok*) ;; *) fail "bulk transfer: $out" ;; esac
mss=${out##*mss=}
mss=${mss%% *}
[ "$mss" -le 1380 ] || fail "ha1's MSS is $mss: not clamped to the tunnel (1420 - 40)"
mbit=${out#*mbit=}
pass "64 MiB ha1 -> hb1, sha256 ok, ${mbit%% *} Mbit/s, MSS $mss"

# --- 6. deny, withdraw, revoke --------------------------------------------------------

step "6. deny gwb 10.2.0.0/24; gwb withdraws; gwb re-advertises; revoke gwb"
m gwa routes deny gwb 10.2.0.0/24 -d "$(ndir gwa)" >/dev/null || fail "routes deny failed"
timed 10 "10.2.0.0/24 gone from gwa's and lp's kernel tables" no_kroute_all 10.2.0.0/24 gwa lp
unreachable ha1 10.2.0.11 || fail "ha1 still reaches hb1 over IPv4 after the deny"
ping_ok ha1 fd00:b::11 1 || fail "ha1 lost IPv6 to hb1 (only IPv4 was denied)"
pass "ha1 cannot reach 10.2.0.11; IPv6 still works"

m gwb set -d "$(ndir gwb)" --advertise-routes none >/dev/null || fail "gwb: set none failed"
timed 10 "fd00:b::/64 gone from gwa's and lp's kernel tables" no_kroute_all fd00:b::/64 gwa lp
unreachable ha1 fd00:b::11 || fail "ha1 still reaches hb1 over IPv6 after the withdrawal"

m gwb set -d "$(ndir gwb)" --advertise-routes 10.2.0.0/24,fd00:b::/64 >/dev/null ||
	fail "gwb: re-advertise failed"
timed 10 "fd00:b::/64 (still approved) back on lp" kroute lp fd00:b::/64
kroute lp 10.2.0.0/24 && fail "lp: denied 10.2.0.0/24 came back with the re-advertisement"

GWBKEY=$(nx gwb wg show "${NODE_IF[gwb]}" public-key 2>/dev/null || true)
m gwa revoke gwb -d "$(ndir gwa)" >/dev/null || fail "revoke gwb failed"
nothing_of_gwb() {
	local n
	for n in gwa lp; do
		kroute "$n" 10.2.0.0/24 && return 1
		kroute "$n" fd00:b::/64 && return 1
		nx "$n" wg show "${NODE_IF[$n]}" allowed-ips | grep -Eq "fd00:b:|10\.2\.0\.|$GWB4/|$GWB6/" &&
			return 1
		if [ -n "$GWBKEY" ] && nx "$n" wg show "${NODE_IF[$n]}" peers | grep -qF "$GWBKEY"; then
			return 1
		fi
	done
	return 0
}
timed 10 "revoked gwb: no route, allowed IP or peer of gwb on gwa and lp" nothing_of_gwb
unreachable ha1 fd00:b::11 || fail "ha1 reaches hb1 after gwb's revocation"
ping_ok lp 10.1.0.11 1 || fail "lp lost site A after gwb's revocation"
pass "site A still reachable from the laptop"

step "done in $(($(date +%s) - T0)) s"
