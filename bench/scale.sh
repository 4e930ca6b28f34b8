#!/bin/bash
# bench/scale.sh: how a mesh of N members on one flat LAN behaves (N default 50).
#
#   ns $PFX-lan: bridge br0
#   ns $PFX-nK (K = 1..N): e0 198.18.X.Y/15 --veth-- pK (in lan, on br0);
#                          one meshd node, interface $(ifname m K), own -d DIR
#
# Neighbour entries: the kernel's ARP table is ONE table for all namespaces,
# and its limit (net.ipv4.neigh.default.gc_thresh3, 1024 by default) can only
# be raised from the root namespace, which tests must not touch. N members on
# one LAN need N*(N-1) entries: past ~32 members the table overflows ("arp_cache:
# neighbor table overflow!" in dmesg), datagrams to unresolved neighbours are
# dropped, and joins fail and pairs go relayed for reasons that have nothing
# to do with meshd (and every other test on the machine suffers too). So by
# default every member gets PERMANENT entries for all the others, which the
# kernel exempts from that limit; SCALE_STATIC_NEIGH=0 shows the overflow.
#
# 1. n1 `meshd init` + `up`; n2..nN each join with a fresh `meshd invite`
#    token from n1, one after the other. Every join is timed; a failed join
#    is counted with its message and the run goes on.
# 2. Convergence: time from the last join until every member lists every
#    other joined member with path "direct" (bound SCALE_CONV_MAX_S, default
#    300 s). At the end: ordered pairs direct / relay / none / missing.
# 2b. Pings: SCALE_PING_PAIRS (default 10) sample pairs ping each other's
#    overlay IPv4 and IPv6 address; RTTs, and the pair's path afterwards.
# 2c. Metrics: n1 runs with --metrics 127.0.0.1:9100; /metrics, / and
#    /status.json are fetched SCALE_SCRAPES times each (time, size), and
#    /metrics is parsed with prometheus_client (one sample per peer).
# 3. Idle cost per member over SCALE_IDLE_S (default 10 s): UDP datagrams/s
#    in and out from the namespace's /proc/net/snmp, daemon CPU % from
#    /proc/PID/stat, RSS from /proc/PID/status and anonymous memory (the
#    daemon's own, without shared library pages) from smaps_rollup (min /
#    median / max).
# 4. Revocation: `meshd revoke` of the last joined member on n1; time until
#    no other member's status lists it (bound 60 s).
#
# Usage (as root, after building):
#   MESHD=$PWD/build/meshd bash bench/scale.sh [N]
# Environment: SCALE_LOG_LEVEL (default info: daemon logs in $WORK/nK.err),
# SCALE_CONV_MAX_S, SCALE_IDLE_S, SCALE_PING_PAIRS, SCALE_STATIC_NEIGH (default 1, see above),
# SCALE_MAPS=1 (log the first member's RSS by mapping: libraries, heap, anonymous),
# SCALE_SAVE_DIR=DIR (copy the logs and last
# statuses there at the end), KEEP_WORK=1 (keep the work dir on failure).
# The machine-readable summary is the RESULT line at the end.
set -eu
N=${1:-50}
case $N in '' | *[!0-9]*) echo "usage: $0 [N >= 2]" >&2; exit 2 ;; esac
[ "$N" -ge 2 ] && [ "$N" -le 1000 ] || { echo "N must be 2..1000" >&2; exit 2; }
CONV_MAX_S=${SCALE_CONV_MAX_S:-300}
IDLE_S=${SCALE_IDLE_S:-10}
REV_MAX_S=60

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$BENCH_DIR/.." && pwd)}"
if [ -z "${MESHD:-}" ] && [ -x "$top_srcdir/build/meshd" ]; then
	MESHD=$top_srcdir/build/meshd
fi
# shellcheck source=tests/netns/lib.sh
. "$top_srcdir/tests/netns/lib.sh"
# joins (at most ~11 s each when they fail), convergence, idle, revoke, margin
netns_setup sc $((120 + N * 12 + CONV_MAX_S + IDLE_S + REV_MAX_S)) "$N"

for t in python3 awk; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"
mkdir -p "$WORK/st"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

declare -A NODE_PID=() NODE_IF=()
ndir() { printf '%s/%s' "$WORK" "$1"; }

: "${SCALE_LOG_LEVEL:=info}"
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL="$SCALE_LOG_LEVEL" "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
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

# addr K: member K's LAN address in 198.18.0.0/15 (up to 250 per /24).
addr() { printf '198.18.%d.%d' $(($1 / 250)) $(($1 % 250 + 1)); }

cat >"$WORK/sc.py" <<'EOF'
import json, os, sys
def load(d, n):
    try:
        with open(os.path.join(d, n + ".json")) as f:
            return json.load(f)
    except Exception:
        return None
cmd, d = sys.argv[1], sys.argv[2]
if cmd == "pairs":   # pairs DIR NODES...: "direct relay none missing nostatus"
    nodes = sys.argv[3:]
    c = {"direct": 0, "relay": 0, "none": 0, "missing": 0, "nostatus": 0}
    for n in nodes:
        j = load(d, n)
        if j is None:
            c["nostatus"] += 1
            continue
        peers = {p.get("name"): p for p in j.get("peers", [])}
        for o in nodes:
            if o == n:
                continue
            p = peers.get(o)
            if p is None:
                c["missing"] += 1
            elif p.get("path") == "direct":
                c["direct"] += 1
            elif p.get("path") == "relay":
                c["relay"] += 1
            else:
                c["none"] += 1
    print(c["direct"], c["relay"], c["none"], c["missing"], c["nostatus"])
elif cmd == "listing":  # listing DIR NAME NODES...: the NODES that list NAME
    left = []               # (no status counts as listing)
    for n in sys.argv[4:]:
        j = load(d, n)
        if j is None or any(p.get("name") == sys.argv[3] for p in j["peers"]):
            left.append(n)
    print(" ".join(left))
elif cmd == "ips":  # ips DIR NODE NAME: "overlay_ipv4 overlay_ipv6" of NAME in NODE's status
    j = load(d, sys.argv[3]) or {}
    p = [x for x in j.get("peers", []) if x.get("name") == sys.argv[4]]
    print(p[0].get("overlay_ipv4") or "-", p[0].get("overlay_ipv6") or "-",
          p[0].get("path") or "-") if p else print("- - -")
elif cmd == "stats":  # stats V...: "min median max"
    v = sorted(float(x) for x in sys.argv[3:])
    if not v:
        print("- - -")
    else:
        print("%g %g %g" % (v[0], v[len(v) // 2], v[-1]))
EOF
# one interpreter, found once (a pyenv shim costs a second per call under load)
PY=$(python3 -c 'import sys; print(sys.executable)')
py() { "$PY" "$WORK/sc.py" "$@"; }

# st NODE: `status --json` into $WORK/st/NODE.json (empty on failure).
st() {
	timeout 5 ip netns exec "$(nsname "$1")" "$MESHD" status -d "$(ndir "$1")" --json \
		>"$WORK/st/$1.json" 2>/dev/null 9>&- || : >"$WORK/st/$1.json"
}
# st_all NODES...: statuses, 8 at a time (the daemons answer in parallel).
st_all() {
	local n i=0
	for n in "$@"; do
		st "$n" &
		i=$((i + 1))
		[ $((i % 8)) = 0 ] && wait
	done
	wait
}

diag_dump() {
	local n
	set +e
	for n in ${JOINED:-n1}; do
		if [ -s "$WORK/$n.err" ]; then
			echo "----- $n (pid ${NODE_PID[$n]:-none}) stderr, last 5 lines -----"
			tail -n 5 "$WORK/$n.err" | sed 's/^/    | /'
		fi
	done
	set -e
}

# --- topology ------------------------------------------------------------------

step "topology: $N members on one bridge (ns lan), 198.18.0.0/15"
ns_add lan
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
for k in $(seq 1 "$N"); do
	ns_add "n$k"
	veth_add "n$k" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	addr_add "n$k" e0 "$(addr "$k")/15"
	NODE_IF[n$k]=$(ifname m "$k")
done
if [ "${SCALE_STATIC_NEIGH:-1}" = 1 ]; then
	declare -A MAC=()
	for k in $(seq 1 "$N"); do
		MAC[$k]=$(nx "n$k" cat /sys/class/net/e0/address)
	done
	for k in $(seq 1 "$N"); do
		for o in $(seq 1 "$N"); do
			[ "$o" = "$k" ] && continue
			printf 'neigh replace %s lladdr %s dev e0 nud permanent\n' "$(addr "$o")" "${MAC[$o]}"
		done >"$WORK/neigh.$k"
		ip -n "$(nsname "n$k")" -batch "$WORK/neigh.$k" || fail "static neighbours for n$k"
	done
	info "static ARP entries: $((N * (N - 1))) (SCALE_STATIC_NEIGH=0 to go without)"
else
	warn "no static ARP entries: past ~32 members the shared kernel ARP table overflows"
fi
info "topology ready after $(($(date +%s) - T0)) s"

# --- 1. joins ------------------------------------------------------------------------

step "1. n1: init + up; n2..n$N join with fresh tokens from n1"
m n1 init -d "$(ndir n1)" --name n1 >/dev/null || fail "n1: meshd init failed"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" --metrics 127.0.0.1:9100 >/dev/null || fail "n1: meshd up failed"
track n1
JOINED="n1"
JOIN_OK=0 JOIN_FAIL=0 FIRST_FAIL=
JOIN_MS=()
T_JOINS=$(now_ms)
for k in $(seq 2 "$N"); do
	tok=$(m n1 invite -d "$(ndir n1)") || fail "invite for n$k failed"
	t=$(now_ms)
	if m "n$k" join "$tok" -d "$(ndir "n$k")" --name "n$k" -i "${NODE_IF[n$k]}" >/dev/null; then
		ms=$(($(now_ms) - t))
		track "n$k"
		JOINED="$JOINED n$k"
		JOIN_OK=$((JOIN_OK + 1))
		JOIN_MS+=("$ms")
		info "n$k joined in $(secs "$ms") s"
	else
		ms=$(($(now_ms) - t))
		JOIN_FAIL=$((JOIN_FAIL + 1))
		[ -n "$FIRST_FAIL" ] || FIRST_FAIL=n$k
		warn "n$k: join failed after $(secs "$ms") s: $(grep -v '^\[' "$WORK/n$k.err" | tail -n 1)"
	fi
done
T_LAST_JOIN=$(now_ms)
read -r JMIN JMED JMAX <<<"$(py stats - "${JOIN_MS[@]}")"
pass "joins: $JOIN_OK ok, $JOIN_FAIL failed (first failure: ${FIRST_FAIL:-none}); join time s min/median/max: $(awk -v a="$JMIN" -v b="$JMED" -v c="$JMAX" 'BEGIN { printf "%.2f %.2f %.2f", a / 1000, b / 1000, c / 1000 }'); all joins $(secs $((T_LAST_JOIN - T_JOINS))) s"

# --- 2. convergence --------------------------------------------------------------------

# shellcheck disable=SC2086 # word lists below
set -- $JOINED
NJ=$#
PAIRS=$((NJ * (NJ - 1)))
step "2. convergence: $NJ members, $PAIRS ordered pairs must be direct (bound $CONV_MAX_S s)"
CONV_MS=
last_report=0
while :; do
	st_all "$@"
	read -r D R X M S <<<"$(py pairs "$WORK/st" "$@")"
	el=$(($(now_ms) - T_LAST_JOIN))
	if [ "$D" = "$PAIRS" ]; then
		CONV_MS=$el
		break
	fi
	if [ $((el - last_report)) -ge 10000 ]; then
		info "$(secs "$el") s: direct $D relay $R none $X missing $M (no status: $S)"
		last_report=$el
	fi
	[ "$el" -ge $((CONV_MAX_S * 1000)) ] && break
	sleep 1
done
if [ -n "$CONV_MS" ]; then
	pass "converged: all $PAIRS pairs direct $(secs "$CONV_MS") s after the last join"
else
	warn "not converged after $CONV_MAX_S s: direct $D relay $R none $X missing $M (of $PAIRS)"
fi
PAIRS_DIRECT=$D PAIRS_RELAY=$R PAIRS_NONE=$X PAIRS_MISSING=$M

# --- 2b. pings --------------------------------------------------------------------------

# PING_PAIRS sample pairs (a, b) with a != b spread over the members; each
# pings b's overlay IPv4 and IPv6 address (one echo, 2 s wait, one retry),
# then the pair's path in a's status is read again: traffic must go direct.
PING_PAIRS=${SCALE_PING_PAIRS:-10}
step "2b. pings over the tunnels: $PING_PAIRS sample pairs, IPv4 and IPv6"
PING4_OK=0 PING6_OK=0 PING_N=0 PING_DIRECT=0 PING_RTT=()
for i in $(seq 0 $((PING_PAIRS - 1))); do
	[ "$NJ" -ge 2 ] || break
	a=$((i * 7 % NJ + 1)) b=$(((i * 13 + NJ / 2) % NJ + 1))
	[ "$a" = "$b" ] && b=$((b % NJ + 1))
	eval "na=\${$a} nb=\${$b}"
	st "$na"
	read -r ip4 ip6 _ <<<"$(py ips "$WORK/st" "$na" "$nb")"
	PING_N=$((PING_N + 1))
	for fam in 4 6; do
		ip=$ip4
		[ "$fam" = 6 ] && ip=$ip6
		[ "$ip" != - ] || { warn "$na: no overlay IPv$fam for $nb"; continue; }
		out=$(nx "$na" ping -"$fam" -n -c1 -W2 "$ip" 2>&1) ||
			out=$(nx "$na" ping -"$fam" -n -c1 -W2 "$ip" 2>&1) ||
			{ warn "$na -> $nb ($ip): no reply"; continue; }
		if [ "$fam" = 4 ]; then PING4_OK=$((PING4_OK + 1)); else PING6_OK=$((PING6_OK + 1)); fi
		PING_RTT+=("$(sed -n 's/.*time=\([0-9.]*\).*/\1/p' <<<"$out")")
	done
	st "$na"
	read -r _ _ path <<<"$(py ips "$WORK/st" "$na" "$nb")"
	if [ "$path" = direct ]; then PING_DIRECT=$((PING_DIRECT + 1)); fi
done
read -r PMIN PMED PMAX <<<"$(py stats - "${PING_RTT[@]}")"
pass "pings: IPv4 $PING4_OK/$PING_N, IPv6 $PING6_OK/$PING_N replied; RTT ms min/median/max $PMIN $PMED $PMAX; $PING_DIRECT/$PING_N pairs direct after the pings"

# --- 2c. metrics scrape ------------------------------------------------------------------

# n1 serves --metrics on its namespace's loopback. Each target is fetched
# SCALE_SCRAPES times (default 5) with curl (time_total: connect to close);
# /metrics must parse with prometheus_client and hold one rx sample per peer.
SCRAPES=${SCALE_SCRAPES:-5}
step "2c. metrics scrape at n1 with $((NJ - 1)) peers: /metrics, / and /status.json, $SCRAPES times each"
SCRAPE_MS_MED=- SCRAPE_MS_MAX=- SCRAPE_BYTES=- PAGE_MS_MED=- PAGE_BYTES=- JSON_MS_MED=- JSON_BYTES=- SCRAPE_PEERS=-
if command -v curl >/dev/null 2>&1; then
	for tgt in metrics page status.json; do
		path=/$tgt
		[ "$tgt" = page ] && path=/
		TT=()
		for _ in $(seq 1 "$SCRAPES"); do
			tt=$(nx n1 curl -sS --max-time 5 -o "$WORK/scrape.$tgt" -w '%{time_total}' \
				"http://127.0.0.1:9100$path") || { warn "GET $path failed"; continue; }
			TT+=("$(awk -v t="$tt" 'BEGIN { printf "%d", t * 1000000 }')")
		done
		read -r _ med max <<<"$(py stats - "${TT[@]}")"
		bytes=$(wc -c <"$WORK/scrape.$tgt" 2>/dev/null || echo 0)
		med_ms=$(awk -v u="$med" 'BEGIN { printf "%.2f", u / 1000 }')
		max_ms=$(awk -v u="$max" 'BEGIN { printf "%.2f", u / 1000 }')
		info "GET $path: ${#TT[@]}/$SCRAPES ok, ms median $med_ms max $max_ms, $bytes bytes"
		case $tgt in
		metrics) SCRAPE_MS_MED=$med_ms SCRAPE_MS_MAX=$max_ms SCRAPE_BYTES=$bytes ;;
		page) PAGE_MS_MED=$med_ms PAGE_BYTES=$bytes ;;
		status.json) JSON_MS_MED=$med_ms JSON_BYTES=$bytes ;;
		esac
	done
	for p in /usr/bin/python3 python3; do
		if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then
			SCRAPE_PEERS=$("$p" - "$WORK/scrape.metrics" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    n += sum(1 for s in f.samples if s.name == "meshd_peer_rx_bytes_total")
print(n)
PYEOF
) || SCRAPE_PEERS=parse-error
			break
		fi
	done
	if [ "$SCRAPE_PEERS" = $((NJ - 1)) ]; then
		pass "/metrics parsed by prometheus_client: $SCRAPE_PEERS peer samples; scrape $SCRAPE_MS_MED ms, $SCRAPE_BYTES bytes"
	else
		warn "/metrics: $SCRAPE_PEERS peer samples parsed, want $((NJ - 1))"
	fi
else
	warn "curl not installed: no scrape"
fi

# --- 3. idle cost ------------------------------------------------------------------------

step "3. idle cost per member over $IDLE_S s"
# udp NODE: "InDatagrams OutDatagrams" of the node's namespace.
udp() {
	nx "$1" awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $2, $5; exit }' /proc/net/snmp
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
declare -A IN0=() OUT0=() CPU0=()
for n in "$@"; do
	read -r IN0[$n] OUT0[$n] <<<"$(udp "$n")"
	CPU0[$n]=$(cpu_ticks "${NODE_PID[$n]}")
done
t0=$(now_ms)
sleep "$IDLE_S"
el=$(($(now_ms) - t0))
HZ=$(getconf CLK_TCK)
INS=() OUTS=() CPUS=() RSS=() ANON=()
for n in "$@"; do
	read -r i o <<<"$(udp "$n")"
	c=$(cpu_ticks "${NODE_PID[$n]}")
	INS+=("$(awk -v a="$i" -v b="${IN0[$n]}" -v t="$el" 'BEGIN { printf "%.1f", (a - b) * 1000 / t }')")
	OUTS+=("$(awk -v a="$o" -v b="${OUT0[$n]}" -v t="$el" 'BEGIN { printf "%.1f", (a - b) * 1000 / t }')")
	CPUS+=("$(awk -v a="$c" -v b="${CPU0[$n]}" -v t="$el" -v hz="$HZ" 'BEGIN { printf "%.2f", (a - b) * 100000 / hz / t }')")
	RSS+=("$(awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/${NODE_PID[$n]}/status")")
	# the daemon's own memory: RSS less the (shared) library pages
	ANON+=("$(awk '$1 == "Anonymous:" { print $2 }' "/proc/${NODE_PID[$n]}/smaps_rollup")")
done
if [ "${SCALE_MAPS:-0}" = 1 ]; then
	# where the first member's RSS lies, by mapping (kB; [anon]: no file)
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]"; sub(/.*\//, "", name) }
	     $1 == "Rss:" { rss[name] += $2 }
	     END { for (n in rss) if (rss[n] > 0) printf "%d %s\n", rss[n], n }' \
		"/proc/${NODE_PID[$1]}/smaps" | sort -rn | head -12 |
		while read -r kb name; do info "RSS by mapping ($1): $kb kB $name"; done
fi
read -r IMIN IMED IMAX <<<"$(py stats - "${INS[@]}")"
read -r OMIN OMED OMAX <<<"$(py stats - "${OUTS[@]}")"
read -r CMIN CMED CMAX <<<"$(py stats - "${CPUS[@]}")"
read -r RMIN RMED RMAX <<<"$(py stats - "${RSS[@]}")"
read -r AMIN AMED AMAX <<<"$(py stats - "${ANON[@]}")"
info "UDP datagrams/s in  min/median/max: $IMIN $IMED $IMAX"
info "UDP datagrams/s out min/median/max: $OMIN $OMED $OMAX"
info "daemon CPU %        min/median/max: $CMIN $CMED $CMAX"
info "RSS MB              min/median/max: $RMIN $RMED $RMAX"
info "anonymous KB        min/median/max: $AMIN $AMED $AMAX"
pass "idle cost measured over $(secs "$el") s"

# --- 4. revocation -----------------------------------------------------------------------

VICTIM=${!#}
step "4. revoke $VICTIM on n1; time until no member lists it"
MEMBERS=()
for n in "$@"; do [ "$n" = "$VICTIM" ] || MEMBERS+=("$n"); done
REV_MS= POLL1_MS=
T_REV=$(now_ms)
if [ "$VICTIM" = n1 ]; then
	warn "nobody joined: no revocation"
elif m n1 revoke "$VICTIM" -d "$(ndir n1)" >/dev/null; then
	# each round polls only the members still listing the victim, so the
	# rounds shrink and the bound tightens; the first round's length (all
	# members polled once) is the resolution of the measurement
	LEFT=("${MEMBERS[@]}") POLL1_MS=
	while :; do
		t=$(now_ms)
		st_all "${LEFT[@]}"
		read -r -a LEFT <<<"$(py listing "$WORK/st" "$VICTIM" "${LEFT[@]}")"
		el=$(($(now_ms) - T_REV))
		[ -n "$POLL1_MS" ] || { POLL1_MS=$(($(now_ms) - t)); info "first poll round ($el ms after the revoke) took $POLL1_MS ms; ${#LEFT[@]} of ${#MEMBERS[@]} still listed $VICTIM"; }
		if [ "${#LEFT[@]}" = 0 ]; then
			REV_MS=$el
			break
		fi
		[ "$el" -ge $((REV_MAX_S * 1000)) ] && break
		sleep 0.2
	done
	if [ -n "$REV_MS" ]; then
		pass "$VICTIM gone from all ${#MEMBERS[@]} statuses within $(secs "$REV_MS") s (upper bound: polling, first round took $(secs "$POLL1_MS") s)"
	else
		warn "$VICTIM still listed by ${#LEFT[@]} members after $REV_MAX_S s: ${LEFT[*]:0:10}"
	fi
else
	warn "meshd revoke $VICTIM failed"
fi

if [ -n "${SCALE_SAVE_DIR:-}" ]; then
	mkdir -p "$SCALE_SAVE_DIR"
	cp -r "$WORK"/*.err "$WORK/st" "$SCALE_SAVE_DIR"/ 2>/dev/null || true
	info "logs and statuses copied to $SCALE_SAVE_DIR"
fi

step "summary"
printf 'RESULT scale n=%s static_neigh=%s joins_ok=%s joins_failed=%s first_fail=%s join_s_median=%s join_s_max=%s conv_s=%s pairs=%s direct=%s relay=%s none=%s missing=%s udp_in_s_median=%s udp_in_s_max=%s udp_out_s_median=%s udp_out_s_max=%s cpu_pct_median=%s cpu_pct_max=%s rss_mb_median=%s rss_mb_max=%s anon_kb_median=%s anon_kb_max=%s ping4_ok=%s ping6_ok=%s ping_pairs=%s ping_direct=%s ping_ms_median=%s scrape_ms_median=%s scrape_ms_max=%s scrape_bytes=%s scrape_peers=%s page_ms_median=%s page_bytes=%s json_ms_median=%s json_bytes=%s revoke_s=%s revoke_poll1_s=%s total_s=%s\n' \
	"$N" "${SCALE_STATIC_NEIGH:-1}" "$JOIN_OK" "$JOIN_FAIL" "${FIRST_FAIL:-none}" \
	"$(awk -v a="$JMED" 'BEGIN { printf "%.2f", a / 1000 }')" \
	"$(awk -v a="$JMAX" 'BEGIN { printf "%.2f", a / 1000 }')" \
	"${CONV_MS:+$(secs "$CONV_MS")}" "$PAIRS" "$PAIRS_DIRECT" "$PAIRS_RELAY" "$PAIRS_NONE" \
	"$PAIRS_MISSING" "$IMED" "$IMAX" "$OMED" "$OMAX" "$CMED" "$CMAX" "$RMED" "$RMAX" "$AMED" "$AMAX" \
	"$PING4_OK" "$PING6_OK" "$PING_N" "$PING_DIRECT" "$PMED" \
	"$SCRAPE_MS_MED" "$SCRAPE_MS_MAX" "$SCRAPE_BYTES" "$SCRAPE_PEERS" "$PAGE_MS_MED" "$PAGE_BYTES" \
	"$JSON_MS_MED" "$JSON_BYTES" \
	"${REV_MS:+$(secs "$REV_MS")}" "${POLL1_MS:+$(secs "$POLL1_MS")}" "$(($(date +%s) - T0))"
