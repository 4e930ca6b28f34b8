# shellcheck shell=bash
# tests/netns/natlab.sh: a NAT lab for meshd's network-namespace tests (issue 4).
# Source it after lib.sh and netns_setup:
#
#   . "$(dirname "$0")/lib.sh"; netns_setup np 300 "$@"
#   . "$(dirname "$0")/natlab.sh"
#   lab_inet                      # ns inet (bridge br0) + ns pub 198.51.100.10
#   lab_router 1 cone             # ns rtr1: WAN w0 198.51.100.1, LAN l0 10.1.0.1/24
#   lab_router 5 symmetric        # masquerade fully-random
#   lab_router 8 cone; lab_router 7 cone behind 8   # double NAT: rtr7's WAN on rtr8's LAN
#   lab_pmp 4                     # miniupnpd (NAT-PMP only) in rtr4
#   lab_host h1 1                 # ns h1: e0 10.1.0.K/24 behind rtr1, default route
#   lab_pub_init                  # pub: meshd init + up (admin, inviter)
#   lab_join h1 a1                # node "a1" joins from ns h1 (dir $WORK/a1)
#   lab_wait 10000 lab_pair a1 a2 198.51.100.2 198.51.100.1 && echo "$WAIT_MS ms"
#   lab_roam h1 1 2; lab_reboot_router 1; lab_loss 1 5
#
#                  ns inet: bridge br0 (no address: a switch, "the internet")
#     +-------------------+---------------+-------------------+
#   pub 198.51.100.10   rtr1 w0 .1      rtr2 w0 .2   ...    rtrN w0 .N   (N < 10)
#   meshd admin         nft masquerade (cone) | masquerade fully-random (symmetric)
#   STUN :3478          input/forward from w0: only ct established,related
#                       (unsolicited packets dropped: a typical home router;
#                       "open" routers accept them on input)
#                       LAN bridge l0 10.N.0.1/24 (no hairpin NAT rule)
#                         +-- hK e0 10.N.0.(10+K)/24, default via 10.N.0.1
#
# No conntrack(8) here: conntrack state is flushed through ctnetlink from a
# small python3 helper (IPCTNL_MSG_CT_DELETE without attributes = flush).
# No sch_netem on this kernel (docs/testing.md): loss is an nft rule
# (numgen random mod 100 < N drop) on a router's WAN, both directions.

LAB_PUB=198.51.100.10
# Results for the calling script (set here, read there).
# shellcheck disable=SC2034
JOIN_MS=0 JOIN_END=0 WAIT_MS=0 LAB_WHY=
declare -A LAB_MODE=()     # router number -> cone|symmetric
declare -A LAB_OPEN=()     # router number -> 1: input accepts unsolicited packets
declare -A LAB_HOST_RTR=() # host ns -> router number it hangs off
declare -A LAB_NODE_NS=()  # meshd node name -> namespace
declare -A LAB_NODE_PID=() # meshd node name -> daemon PID
declare -A LAB_NODE_IF=()  # meshd node name -> interface
LAB_NODES=()               # every node name started (diagnostics)
: "${LAB_LOG_LEVEL:=info}"

lab_now_ms() { echo $(($(date +%s%N) / 1000000)); }
# lab_secs MS -> "1.234"
lab_secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# --- topology -----------------------------------------------------------------

# lab_inet: ns inet with the bridge br0; ns pub (198.51.100.10/24) on it, with
# a STUN responder on :3478 (for miniupnpd or reflexive-address code).
lab_inet() {
	ns_add inet
	ip -n "$(nsname inet)" link add br0 type bridge || fail "bridge br0 in inet"
	ip -n "$(nsname inet)" link set br0 up
	ns_add pub
	veth_add pub e0 inet pp
	ip -n "$(nsname inet)" link set pp master br0
	addr_add pub e0 "$LAB_PUB/24"
	lab_py_write
	bg stun ip netns exec "$(nsname pub)" python3 "$WORK/natlab.py" stun "$LAB_PUB" 3478
	wait_udp_bound pub 3478
}

# lab_rules N: the router's nft ruleset (also what a reboot re-installs).
lab_rules() {
	local n=$1 rnd='' indrop='iifname "w0" drop'
	[ "${LAB_MODE[$n]}" = symmetric ] && rnd=" fully-random"
	[ "${LAB_OPEN[$n]:-0}" = 1 ] && indrop='# open: accepts unsolicited packets'
	nx "rtr$n" nft -f - <<EOF
table ip natlab {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		oifname "w0" masquerade$rnd
	}
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "w0" ct state established,related accept
		$indrop
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "w0" ct state established,related accept
		iifname "w0" ct status dnat counter accept
		iifname "w0" drop
	}
}
EOF
}

# lab_router N cone|symmetric [open] [behind M]: ns rtrN, LAN bridge l0
# 10.N.0.1/24, forwarding, NAT mode. WAN w0: 198.51.100.N/24 on inet's
# bridge, or with "behind M" 10.M.0.(100+N)/24 on rtrM's LAN (double NAT;
# default route via 10.M.0.1). "open": the router itself accepts unsolicited
# packets on w0 (docs/testing.md: an early punch then lands on the router and
# spoils the mapping); default: dropped. Forwarded packets from w0 pass only
# when established/related or DNATed (port mappings, lab_pmp).
lab_router() {
	local n=$1 mode=$2 r="rtr$1" up=''
	shift 2
	case $mode in cone | symmetric) ;; *) fail "lab_router: mode '$mode'" ;; esac
	LAB_OPEN[$n]=0
	while [ $# -gt 0 ]; do
		case $1 in
		open) LAB_OPEN[$n]=1 ;;
		behind) up=$2; shift ;;
		*) fail "lab_router: '$1'" ;;
		esac
		shift
	done
	if [ "$n" -lt 1 ] || [ "$n" -gt 9 ]; then fail "lab_router: N must be 1..9"; fi
	LAB_MODE[$n]=$mode
	ns_add "$r"
	if [ -n "$up" ]; then
		veth_add "$r" w0 "rtr$up" "r$n"
		ip -n "$(nsname "rtr$up")" link set "r$n" master l0
		addr_add "$r" w0 "10.$up.0.$((100 + n))/24"
		ip -n "$(nsname "$r")" route add default via "10.$up.0.1" || fail "route in $r"
	else
		veth_add "$r" w0 inet "r$n"
		ip -n "$(nsname inet)" link set "r$n" master br0
		addr_add "$r" w0 "198.51.100.$n/24"
	fi
	ip -n "$(nsname "$r")" link add l0 type bridge || fail "bridge l0 in $r"
	ip -n "$(nsname "$r")" link set l0 up
	addr_add "$r" l0 "10.$n.0.1/24"
	nx "$r" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
	lab_rules "$n" || fail "nft rules in $r"
}

# lab_pmp N: miniupnpd in rtrN, NAT-PMP only (enable_upnp=no; HTTP port pinned
# all the same), external address learnt by STUN from pub's responder (a
# reserved WAN address is refused otherwise: docs/testing.md). Its nft tables
# are created here (Debian's miniupnpd-nftables does not); its postrouting
# chain runs before lab_rules' masquerade so mapped ports keep their number.
# Sets LAB_PMP_PID (also in PID_LIST through bg) and LAB_PMP_LOG.
lab_pmp() {
	local n=$1 r="rtr$1"
	nx "$r" nft -f - <<'EOF2' || return 1
table inet miniupnpd {
	chain forward {
		type filter hook forward priority 0; policy accept;
		jump forward_miniupnpd
	}
	chain forward_miniupnpd {
	}
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}
	chain postrouting {
		type nat hook postrouting priority 99; policy accept;
		jump postrouting_miniupnpd
	}
	chain prerouting_miniupnpd {
	}
	chain postrouting_miniupnpd {
	}
}
EOF2
	cat >"$WORK/pmp$n.conf" <<EOF2
ext_ifname=w0
listening_ip=l0
http_port=5556
enable_natpmp=yes
enable_upnp=no
secure_mode=yes
system_uptime=no
ext_perform_stun=yes
ext_stun_host=$LAB_PUB
ext_stun_port=3478
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=forward_miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d0$((10 + n))
allow 1024-65535 10.$n.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF2
	bg "pmp$n" ip netns exec "$(nsname "$r")" miniupnpd -4 -d -f "$WORK/pmp$n.conf" \
		-P "$WORK/pmp$n.pid"
	LAB_PMP_PID=$BG_PID
	# shellcheck disable=SC2034 # read by the caller
	LAB_PMP_LOG=$WORK/pmp$n.out
	wait_for 5 lab_pmp_ready "$n" || return 1
	! grep -q 'restrictive\|firewall filters\|STUN failed' "$LAB_PMP_LOG"
}
lab_pmp_ready() {
	kill -0 "$LAB_PMP_PID" 2>/dev/null || return 1
	nx "rtr$1" ss -lun 2>/dev/null | grep -q ':5351 '
}
# lab_dnat_count N: new connections from rtrN's WAN let in through a DNAT
# (port mapping) so far.
lab_dnat_count() {
	nx "rtr$1" nft list chain ip natlab forward 2>/dev/null |
		awk '/ct status dnat/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
# lab_hold_out N HOST: rtrN lets no new connection from HOST out of its WAN
# (replies in connections opened from outside still pass), so that after a
# conntrack flush the next connection must come in from outside; lab_release
# N undoes it.
lab_hold_out() {
	nx "rtr$1" nft insert rule ip natlab forward oifname w0 ip saddr "$(lab_host_addr "$2" "$1")" \
		ct state new counter drop comment '"lab_hold"'
}
lab_release() {
	local h
	h=$(nx "rtr$1" nft -a list chain ip natlab forward 2>/dev/null |
		sed -n 's/.*"lab_hold".*# handle \([0-9]*\).*/\1/p' | head -n 1)
	[ -z "$h" ] || nx "rtr$1" nft delete rule ip natlab forward handle "$h"
}
# lab_pmp_has N PORT: miniupnpd's DNAT rule for udp dport PORT in rtrN.
lab_pmp_has() {
	nx "rtr$1" nft list chain inet miniupnpd prerouting_miniupnpd 2>/dev/null |
		grep -qE "dport $2( |\$)"
}

# lab_host_addr HOST N -> 10.N.0.(10+K) for host hK
lab_host_addr() {
	local k=${1#h}
	printf '10.%s.0.%s' "$2" $((10 + k))
}

# lab_attach HOST N: veth HOST/e0 <-> rtrN/HOST (a port of l0), address, route.
lab_attach() {
	local h=$1 n=$2
	veth_add "$h" e0 "rtr$n" "$h"
	ip -n "$(nsname "rtr$n")" link set "$h" master l0 || return 1
	addr_add "$h" e0 "$(lab_host_addr "$h" "$n")/24"
	ip -n "$(nsname "$h")" route add default via "10.$n.0.1" || return 1
	LAB_HOST_RTR[$h]=$n
}

# lab_host HOST N: ns HOST (named hK, K a number) behind router N.
lab_host() {
	ns_add "$1"
	lab_attach "$1" "$2" || fail "attach $1 to rtr$2"
}

# lab_roam HOST FROM TO: the uplink moves: HOST's veth to rtrFROM is deleted,
# a new one to rtrTO created, re-addressed (10.TO.0.x), default route via TO.
lab_roam() {
	local h=$1 from=$2 to=$3
	[ "${LAB_HOST_RTR[$h]:-}" = "$from" ] || fail "lab_roam: $h is not behind rtr$from"
	ip -n "$(nsname "$h")" link del e0 || return 1
	lab_attach "$h" "$to"
}

# lab_loss N PCT: drop PCT % of the packets in each direction on rtrN's WAN
# (0 removes the rule).
lab_loss() {
	local n=$1 p=$2 m
	nx "rtr$n" nft delete table ip natloss 2>/dev/null || true
	[ "$p" -gt 0 ] || return 0
	m="numgen random mod 100 < $p "
	[ "$p" -lt 100 ] || m=
	nx "rtr$n" nft -f - <<EOF
table ip natloss {
	chain in {
		type filter hook prerouting priority -400; policy accept;
		iifname "w0" ${m}counter drop
	}
	chain out {
		type filter hook postrouting priority 400; policy accept;
		oifname "w0" ${m}counter drop
	}
}
EOF
}

# lab_loss_count N: packets dropped so far by lab_loss on rtrN.
lab_loss_count() {
	nx "rtr$1" nft list table ip natloss 2>/dev/null |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}

# lab_ct_count N: conntrack entries in rtrN (IPv4).
lab_ct_count() { nx "rtr$1" python3 "$WORK/natlab.py" ctcount; }

# lab_ct_dump N [PATTERN]: rtrN's UDP conntrack entries (NAT mappings) matching
# PATTERN (an extended regex; default all), indented, at most 40 lines.
lab_ct_dump() {
	echo "    --- rtr$1 UDP conntrack entries${2:+ matching $2}:"
	nx "rtr$1" cat /proc/net/nf_conntrack 2>/dev/null | grep '^ipv4 .* udp ' |
		grep -E "${2:-.}" | sed 's/^ipv4 *2 udp *17 //; s/^/    | /' | head -n 40
}

# lab_ct_flush N: forget every conntrack entry (NAT mapping) of rtrN.
lab_ct_flush() { nx "rtr$1" python3 "$WORK/natlab.py" ctflush; }

# lab_reboot_router N: what a reboot does to the NAT: the ruleset is flushed
# and re-installed, and every conntrack entry (every mapping) is forgotten.
lab_reboot_router() {
	local n=$1
	nx "rtr$n" nft flush ruleset || return 1
	lab_ct_flush "$n" || return 1
	lab_rules "$n"
}

# --- python helper: STUN responder, ctnetlink, status queries -------------------

lab_py_write() {
	cat >"$WORK/natlab.py" <<'EOF'
import json, os, socket, struct, sys

def stun(host, port):
    # RFC 5389 Binding responder; CHANGE-REQUEST ignored (docs/testing.md).
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, int(port)))
    cookie = 0x2112A442
    while True:
        d, (ip, p) = s.recvfrom(2048)
        if len(d) < 20 or struct.unpack("!H", d[:2])[0] != 0x0001:
            continue
        a = socket.inet_aton(ip)
        mapped = struct.pack("!HHBBH", 0x0001, 8, 0, 1, p) + a
        xa = struct.pack("!I", struct.unpack("!I", a)[0] ^ cookie)
        xor = struct.pack("!HHBBH", 0x0020, 8, 0, 1, p ^ (cookie >> 16)) + xa
        attrs = mapped + xor
        s.sendto(struct.pack("!HH", 0x0101, len(attrs)) + d[4:20] + attrs, (ip, p))

def ctnl(msgtype, flags):
    # NETLINK_NETFILTER (12), subsystem CTNETLINK (1)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    s.bind((0, 0))
    hdr = struct.pack("=LHHLL", 20, (1 << 8) | msgtype, 1 | flags, 1, 0)
    s.send(hdr + struct.pack("=BBH", socket.AF_INET, 0, 0))
    n, err = 0, 0
    while True:
        buf = s.recv(65536)
        off = 0
        while off + 16 <= len(buf):
            ln, ty, fl, sq, pid = struct.unpack_from("=LHHLL", buf, off)
            if ty == 2:                         # NLMSG_ERROR
                err = struct.unpack_from("=i", buf, off + 16)[0]
                return n, err
            if ty == 3:                         # NLMSG_DONE
                return n, err
            n += 1
            off += (ln + 3) & ~3
            if ln == 0:
                return n, err

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return None

def peer(j, name):
    for p in (j or {}).get("peers", []):
        if p.get("name") == name:
            return p
    return None

def ep_host(ep):
    if not ep:
        return ""
    if ep.startswith("["):
        return ep[1:ep.index("]")]
    return ep.rsplit(":", 1)[0]

cmd = sys.argv[1]
if cmd == "stun":
    stun(sys.argv[2], sys.argv[3])
elif cmd == "ctflush":
    n, err = ctnl(2, 4)                         # IPCTNL_MSG_CT_DELETE, ACK
    if err:
        print("ctnetlink flush: error %d" % err, file=sys.stderr); sys.exit(1)
elif cmd == "ctcount":
    n, err = ctnl(1, 0x300)                     # IPCTNL_MSG_CT_GET, DUMP
    print(n)
elif cmd == "peer":                             # peer FILE NAME FIELD
    p = peer(load(sys.argv[2]), sys.argv[3])
    if p is None:
        sys.exit(1)
    v = p.get(sys.argv[4])
    print("" if v is None else v)
elif cmd == "node":                             # node FILE FIELD
    j = load(sys.argv[2])
    if not j:
        sys.exit(1)
    print(j["node"].get(sys.argv[3], ""))
elif cmd == "portmap":                          # portmap FILE: our portmap endpoint
    j = load(sys.argv[2])
    for e in (j or {}).get("node", {}).get("endpoints", []):
        if e.get("source") == "portmap":
            print(e["addr"]); sys.exit(0)
    sys.exit(1)
elif cmd == "endpoints":                        # endpoints FILE: addr(source) ...
    j = load(sys.argv[2])
    if not j:
        sys.exit(1)
    print(" ".join("%s(%s)" % (e["addr"], e["source"]) for e in j["node"]["endpoints"]))
elif cmd == "direct":                           # direct FILE NAME [IPPREFIX]
    p = peer(load(sys.argv[2]), sys.argv[3])
    if p is None:
        print("%s not listed" % sys.argv[3]); sys.exit(1)
    if p.get("path") != "direct":
        print("path %s endpoint %s" % (p.get("path"), p.get("endpoint"))); sys.exit(1)
    h, w = ep_host(p.get("endpoint")), sys.argv[4] if len(sys.argv) > 4 else ""
    if w and not (h.startswith(w) if w.endswith(".") else h == w):
        print("direct at %s, want %s" % (p.get("endpoint"), sys.argv[4])); sys.exit(1)
    print("direct %s" % p.get("endpoint"))
elif cmd == "cands":                            # cands FILE: per peer, its candidates
    j = load(sys.argv[2])
    for p in (j or {}).get("peers", []):
        c = " ".join("%s(%s%s%s %d/%d/%d)" % (e["addr"], e["source"],
                     ",usable" if e.get("usable") else "", ",active" if e.get("active") else "",
                     e.get("sent", 0), e.get("acked", 0), e.get("lost", 0))
                     for e in p.get("candidates", []))
        print("%s: %s; denied %s, punches held %s; sent/acked/lost: %s" % (
            p["name"], p.get("path"), p.get("probes_denied"), p.get("punches_held"), c or "-"))
elif cmd == "path":                             # path FILE NAME: "path endpoint via"
    p = peer(load(sys.argv[2]), sys.argv[3])
    if p is None:
        print("unlisted - -"); sys.exit(0)
    print("%s %s %s" % (p.get("path"), p.get("endpoint"), p.get("via")))
elif cmd == "gap":                              # gap PINGOUT: longest hole in icmp_seq
    import re
    seqs = sorted({int(m.group(1)) for m in
                   re.finditer(r"icmp_seq=(\d+) ", open(sys.argv[2]).read())})
    if not seqs:
        print("-1 0 0"); sys.exit(0)
    worst, prev = 0, seqs[0]
    for s in seqs[1:]:
        worst = max(worst, s - prev - 1)
        prev = s
    # longest missing run, replies, last seq answered
    print(worst, len(seqs), seqs[-1])
EOF
}
lab_q() { python3 "$WORK/natlab.py" "$@"; }

# --- meshd nodes ------------------------------------------------------------------

lab_dir() { printf '%s/%s' "$WORK" "$1"; }

# lab_m NS NODE ARGS...: meshd ARGS in NS; CLI and daemon stderr -> $WORK/NODE.err
lab_m() {
	local ns=$1 node=$2
	shift 2
	nx "$ns" env LOG_LEVEL="$LAB_LOG_LEVEL" LOG_TIME=1 "$MESHD" "$@" 2>>"$WORK/$node.err" 9>&-
}

lab_track() {
	local node=$1 pid
	pid=$(cat "$(lab_dir "$node")/meshd.pid" 2>/dev/null) || return 1
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	kill -0 "$pid" 2>/dev/null || return 1
	LAB_NODE_PID[$node]=$pid
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${LAB_NODE_IF[$node]}.sock")
}

# lab_pub_init: node "pub" in ns pub: init + up (the mesh's admin and inviter).
lab_pub_init() {
	LAB_NODE_NS[pub]=pub
	LAB_NODE_IF[pub]=$(ifname pub)
	LAB_NODES+=(pub)
	lab_m pub pub init -d "$(lab_dir pub)" --name pub >/dev/null || fail "pub: init failed"
	lab_m pub pub up -d "$(lab_dir pub)" -i "${LAB_NODE_IF[pub]}" >/dev/null || fail "pub: up failed"
	lab_track pub || fail "pub: daemon not running after up"
}

# lab_join NS NODE [JOIN ARGS...]: invite on pub, `meshd join` in NS as NODE
# (extra arguments passed on, e.g. --port N). Sets JOIN_MS (wall time of the
# join) and JOIN_END (ms timestamp when it returned).
lab_join() {
	local ns=$1 node=$2 tok t
	LAB_NODE_NS[$node]=$ns
	LAB_NODE_IF[$node]=$(ifname "$node")
	LAB_NODES+=("$node")
	tok=$(lab_m pub pub invite -d "$(lab_dir pub)" --uses 1) || { echo "invite for $node failed"; return 1; }
	t=$(lab_now_ms)
	lab_m "$ns" "$node" join "$tok" -d "$(lab_dir "$node")" --name "$node" \
		-i "${LAB_NODE_IF[$node]}" "${@:3}" >/dev/null || { echo "$node: join failed"; return 1; }
	JOIN_END=$(lab_now_ms)
	# shellcheck disable=SC2034 # read by the caller
	JOIN_MS=$((JOIN_END - t))
	lab_track "$node" || { echo "$node: no daemon after join"; return 1; }
}

# lab_stop NODE: meshd down (the daemon must exit within 5 s), then revoke it
# on pub so later runs do not see it.
lab_stop() {
	local node=$1 pid=${LAB_NODE_PID[$1]:-}
	[ -n "$pid" ] || return 0
	lab_m "${LAB_NODE_NS[$node]}" "$node" down -d "$(lab_dir "$node")" >/dev/null 2>&1 || true
	wait_for 5 lab_dead "$pid" || kill -KILL "$pid" 2>/dev/null || true
	unset "LAB_NODE_PID[$node]"
	lab_m pub pub revoke "$node" -d "$(lab_dir pub)" >/dev/null 2>&1 || true
}
lab_dead() { ! kill -0 "$1" 2>/dev/null; }

# lab_st NODE: `status --json` -> $WORK/st/NODE.json (empty on failure).
lab_st() {
	mkdir -p "$WORK/st"
	timeout 5 ip netns exec "$(nsname "${LAB_NODE_NS[$1]}")" "$MESHD" status \
		-d "$(lab_dir "$1")" --json >"$WORK/st/$1.json" 2>/dev/null 9>&- ||
		: >"$WORK/st/$1.json"
}

# lab_ov4 NODE: the node's overlay IPv4 address (no prefix length).
lab_ov4() {
	local a
	lab_st "$1"
	a=$(lab_q node "$WORK/st/$1.json" overlay_ipv4) || return 1
	printf '%s' "${a%/*}"
}

# lab_direct A B [WANT]: A lists B with path direct (endpoint host = WANT, or
# starting with WANT when it ends in "."). Why not: in LAB_WHY.
lab_direct() {
	lab_st "$1"
	# shellcheck disable=SC2034 # read by the caller
	LAB_WHY="$1->$2: $(lab_q direct "$WORK/st/$1.json" "$2" "${3:-}")"
}

# lab_pair A B PREFIX_A_SEES_B PREFIX_B_SEES_A: both directions direct.
lab_pair() {
	lab_direct "$1" "$2" "${3:-}" && lab_direct "$2" "$1" "${4:-}"
}

# lab_path A B: "path endpoint via" of B in A's status.
lab_path() {
	lab_st "$1"
	lab_q path "$WORK/st/$1.json" "$2"
}

# lab_wait LIMIT_MS CMD...: poll CMD (every 0.1 s) until it succeeds; WAIT_MS =
# time since the call (or since LAB_T0 when set); 1 on timeout.
lab_wait() {
	local lim=$1 t0 end
	shift
	t0=${LAB_T0:-$(lab_now_ms)}
	end=$((t0 + lim))
	while :; do
		if "$@"; then
			# shellcheck disable=SC2034 # read by the caller
			WAIT_MS=$(($(lab_now_ms) - t0))
			return 0
		fi
		if [ "$(lab_now_ms)" -ge "$end" ]; then
			# shellcheck disable=SC2034 # read by the caller
			WAIT_MS=$(($(lab_now_ms) - t0))
			return 1
		fi
		sleep 0.1
	done
}

# lab_ping NS DST: one ping, 1 s wait.
lab_ping() { nx "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }

# lab_logs NODE [N]: the last N (default 15) log lines of NODE, indented.
lab_logs() {
	local f="$WORK/$1.err"
	echo "    --- $1 (ns ${LAB_NODE_NS[$1]:-?}) last ${2:-15} log lines:"
	[ -s "$f" ] && tail -n "${2:-15}" "$f" | sed 's/^/    | /'
	lab_st "$1"
	[ -s "$WORK/st/$1.json" ] && echo "    | endpoints: $(lab_q endpoints "$WORK/st/$1.json")" &&
		lab_q cands "$WORK/st/$1.json" | sed 's/^/    | peer /'
	return 0
}

# lab_median N...: the median of the arguments (integers).
lab_median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
