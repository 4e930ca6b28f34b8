#!/bin/bash
# mesh_revoke10.sh: revocation in a 10-node mesh (issue 3) must reach every
# member within 10 s.
#
#   ns $PFX-n1 .. $PFX-n10: one meshd node each (interface $(ifname m K), own -d DIR)
#   e0 198.18.0.K/24 --veth-- pK in ns $PFX-lan (bridge br0)
#
# 1. n1 (the only admin) init + up; n2..n10 join with tokens from n1.
# 2. Convergence: every node lists the 9 others with path "direct" (all 45
#    pairs; 40 s bound, timed from the last join).
# 3. `meshd revoke n10` on n1, then measured from the revoke:
#    (a) no member (n1..n9) lists n10 in `meshd status`;
#    (b) no member's `wg show IF peers` holds n10's public key (fail > 10 s);
#    (c) for 5 s after (b), n10 cannot complete a handshake with anyone:
#        `ping -c 3 -W 1` from n10 to every member's overlay IPv4 fails, and
#        n10's `wg show` has no handshake newer than before the revoke (or
#        n10's daemon has stopped itself, as it does when it learns of its
#        revocation).
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup rv 150 "$@"

for t in python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

N=10
MEMBERS="1 2 3 4 5 6 7 8 9"   # everyone but the revoked n10
REV_MAX_S=${RV_REVOKE_MAX_S:-10}
mkdir -p "$WORK/st"

# --- helpers -----------------------------------------------------------------

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

declare -A NODE_PID=() NODE_IF=()
ndir() { printf '%s/%s' "$WORK" "$1"; }

# m NODE ARGS...: meshd ARGS in NODE's namespace; stderr (the CLI's and the
# background daemon's) appended to $WORK/NODE.err.
: "${RV_LOG_LEVEL:=info}"
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL="$RV_LOG_LEVEL" "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}

# track NODE: after up/join returned, record the daemon's PID for cleanup.
track() {
	local n=$1 pid
	pid=$(cat "$(ndir "$n")/meshd.pid" 2>/dev/null) || fail "$n: no meshd.pid after start"
	case $pid in '' | *[!0-9]*) fail "$n: meshd.pid holds '$pid'" ;; esac
	kill -0 "$pid" 2>/dev/null || fail "$n: daemon $pid is not running"
	NODE_PID[$n]=$pid
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$n]}.sock")
}

# st NODE: `status --json` into $WORK/st/NODE.json (empty file on failure).
st() {
	m "$1" status -d "$(ndir "$1")" --json >"$WORK/st/$1.json" 2>/dev/null ||
		: >"$WORK/st/$1.json"
}

cat >"$WORK/rv.py" <<'EOF'
import json, os, sys
def load(d, n):
    try:
        with open(os.path.join(d, n + ".json")) as f:
            return json.load(f)
    except Exception:
        return None
cmd, d = sys.argv[1], sys.argv[2]
if cmd == "conv":            # conv DIR NODES...: each lists the others, path direct
    nodes = sys.argv[3:]
    bad = 0
    for n in nodes:
        j = load(d, n)
        if j is None:
            print(f"{n}: no status"); sys.exit(1)
        peers = {p.get("name"): p for p in j.get("peers", [])}
        bad += sum(o != n and peers.get(o, {}).get("path") != "direct" for o in nodes)
    if bad:
        print(f"{bad // 2 if bad > 1 else 1}+ pairs not direct"); sys.exit(1)
    print("ok")
elif cmd == "node":          # node DIR NODE FIELD (an overlay address loses its /len)
    j = load(d, sys.argv[3])
    v = str(j["node"][sys.argv[4]]) if j else ""
    # Only addresses carry a prefix length: a base64 key may hold "/"
    # anywhere, even first (1 run in 64 failed on split("/")[0]).
    print(v.split("/")[0] if sys.argv[4].startswith("overlay") else v)
elif cmd == "lists":         # lists DIR NODE NAME: exit 0 when NODE lists NAME
    j = load(d, sys.argv[3])
    sys.exit(0 if j is None or any(p.get("name") == sys.argv[4] for p in j["peers"]) else 1)
EOF
py() { python3 "$WORK/rv.py" "$@"; }

ALL_NODES=$(for k in $(seq 1 $N); do printf 'n%s ' "$k"; done)
CONV_WHY=
converged() {
	local n
	for n in $ALL_NODES; do st "$n"; done
	# shellcheck disable=SC2086 # word list
	CONV_WHY=$(py conv "$WORK/st" $ALL_NODES) || return 1
}

diag_dump() {
	local n dev
	set +e
	for n in $ALL_NODES; do
		dev=${NODE_IF[$n]:-}
		echo "----- $n (if ${dev:-?}, pid ${NODE_PID[$n]:-none}) -----"
		if [ -n "$dev" ] && [ -S "$WG_SOCK_DIR/$dev.sock" ]; then
			nx "$n" wg show "$dev" latest-handshakes 2>&1 | sed 's/^/    hs| /'
		fi
		if [ -d "$(ndir "$n")" ]; then
			timeout 3 ip netns exec "$(nsname "$n")" "$MESHD" status -d "$(ndir "$n")" 2>&1 |
				sed 's/^/    status| /'
		fi
		if [ -s "$WORK/$n.err" ]; then
			echo "    CLI/daemon stderr (last 15 lines):"
			tail -n 15 "$WORK/$n.err" | sed 's/^/    | /'
		fi
	done
	set -e
}

# --- topology ------------------------------------------------------------------

step "topology: $N nodes on one bridge (ns lan)"
ns_add lan
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
for k in $(seq 1 $N); do
	ns_add "n$k"
	veth_add "n$k" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	addr_add "n$k" e0 "198.18.0.$k/24"
	NODE_IF[n$k]=$(ifname m "$k")
done

# --- 1. init, up, joins ------------------------------------------------------------

step "1. n1: init + up; n2..n$N join with tokens from n1"
t=$(now_ms)
m n1 init -d "$(ndir n1)" --name n1 >/dev/null || fail "n1: meshd init failed"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" >/dev/null || fail "n1: meshd up failed"
track n1
for k in $(seq 2 $N); do
	tok=$(m n1 invite -d "$(ndir n1)") || fail "invite for n$k failed"
	m "n$k" join "$tok" -d "$(ndir "n$k")" --name "n$k" -i "${NODE_IF[n$k]}" >/dev/null ||
		fail "n$k: join failed"
	track "n$k"
done
T_LAST_JOIN=$(now_ms)
pass "init, up and $((N - 1)) joins: $(secs $((T_LAST_JOIN - t))) s"

# --- 2. convergence ------------------------------------------------------------------

step "2. convergence: every node lists the $((N - 1)) others, path direct"
wait_for 40 converged || fail "not converged 40 s after the last join ($CONV_WHY)"
CONV_MS=$(($(now_ms) - T_LAST_JOIN))
pass "all 45 pairs direct: $(secs "$CONV_MS") s after the last join"

declare -A OV4=()
for k in $(seq 1 $N); do
	OV4[n$k]=$(py node "$WORK/st" "n$k" overlay_ipv4)
	[ -n "${OV4[n$k]}" ] || fail "n$k: no overlay IPv4 in status"
done
N10_KEY=$(py node "$WORK/st" n10 public_key)
[ -n "$N10_KEY" ] || fail "n10: no public key in status"
for k in $MEMBERS; do
	ping_first n10 "${OV4[n$k]}" 5 || fail "n10 cannot ping n$k before the revoke"
done
pass "n10 pings the 9 others before the revoke"
# n10's latest handshake with each peer, before the revoke
nx n10 wg show "${NODE_IF[n10]}" latest-handshakes >"$WORK/hs0" ||
	fail "wg show on n10 failed"

# --- 3. revoke n10 --------------------------------------------------------------------

step "3. revoke n10 on n1"
# Per member, ms after the revoke at which its status stopped listing n10 (a)
# and its `wg show` stopped having n10's key (b).
declare -A GONE_ST=() GONE_WG=()
# probe K: one member's two checks into $WORK/g.K: "ST WG MS" (1 = n10 still
# there; MS = ms after the revoke when the checks were done: an upper bound).
probe() {
	local k=$1 s=0 w=0
	if [ -z "${GONE_ST[$k]:-}" ]; then
		st "n$k"
		py lists "$WORK/st" "n$k" n10 && s=1
	fi
	if [ -z "${GONE_WG[$k]:-}" ]; then
		nx "n$k" wg show "${NODE_IF[n$k]}" peers | grep -qF "$N10_KEY" && w=1
	fi
	echo "$s $w $(($(now_ms) - T_REV))" >"$WORK/g.$k"
}
# all_gone: probe the members in parallel (so that no one is seen late just
# for being polled last); record the first time each check came back clean.
all_gone() {
	local k ms s w left=0
	for k in $MEMBERS; do probe "$k" & done
	wait
	for k in $MEMBERS; do
		read -r s w ms <"$WORK/g.$k"
		[ "$s" = 0 ] && [ -z "${GONE_ST[$k]:-}" ] && GONE_ST[$k]=$ms
		[ "$w" = 0 ] && [ -z "${GONE_WG[$k]:-}" ] && GONE_WG[$k]=$ms
		[ -n "${GONE_ST[$k]:-}" ] && [ -n "${GONE_WG[$k]:-}" ] || left=$((left + 1))
	done
	[ "$left" = 0 ]
}
times() { # times ARRAY: "n1 0.52 n2 ..." (99.99 = not yet)
	local -n a=$1
	local k
	for k in $MEMBERS; do printf 'n%s %s ' "$k" "$(secs "${a[$k]:-99990}")"; done
}
maxof() {
	local -n a=$1
	local k mx=0
	for k in $MEMBERS; do
		[ "${a[$k]}" -gt "$mx" ] && mx=${a[$k]}
	done
	echo "$mx"
}

T_REV=$(now_ms)
m n1 revoke n10 -d "$(ndir n1)" >/dev/null || fail "meshd revoke n10 failed"
until all_gone; do
	[ "$(now_ms)" -ge $((T_REV + REV_MAX_S * 1000)) ] &&
		fail "not gone after $REV_MAX_S s; status: $(times GONE_ST); wg: $(times GONE_WG)"
	sleep 0.1
done
T_B=$(now_ms)
ST_MS=$(maxof GONE_ST)
WG_MS=$(maxof GONE_WG)
info "gone from status (s): $(times GONE_ST)"
info "gone from wg peers (s): $(times GONE_WG)"
[ "$WG_MS" -le $((REV_MAX_S * 1000)) ] || fail "gone from every wg peer list after $(secs "$WG_MS") s > $REV_MAX_S s"
pass "n10 gone from every member's status in $(secs "$ST_MS") s, from every wg peer list in $(secs "$WG_MS") s"

# --- (c) n10 is cut off ------------------------------------------------------------------

step "(c) n10 tries every member for 5 s after (b)"
# Nine `ping -c 3 -W 1` at once (about 3 s), in rounds until 5 s have passed.
end=$((T_B + 5000))
rounds=0
while [ "$(now_ms)" -lt "$end" ]; do
	rounds=$((rounds + 1))
	pp=()
	for k in $MEMBERS; do
		nx n10 ping -n -q -c 3 -W 1 "${OV4[n$k]}" >"$WORK/ping.n$k" 2>&1 9>&- &
		pp+=("$!")
	done
	for k in $MEMBERS; do
		p=${pp[0]}
		pp=("${pp[@]:1}")
		if wait "$p"; then
			fail "revoked n10 still pings n$k (${OV4[n$k]}): $(grep -m1 received "$WORK/ping.n$k")"
		fi
	done
	sleep 0.2   # ping fails at once when n10's interface is gone
done
pass "n10 pinged each of the 9 members for $(secs $(($(now_ms) - T_B))) s ($rounds rounds): no reply"
info "n10's last ping to n1: $(grep -m1 -E 'received|connect|unreachable' "$WORK/ping.n1" || true)"

N10_STOPPED=no
if ! kill -0 "${NODE_PID[n10]}" 2>/dev/null; then
	N10_STOPPED=yes
	keep=()   # it has exited: its PID must not be signalled at cleanup
	for p in "${PID_LIST[@]}"; do [ "$p" = "${NODE_PID[n10]}" ] || keep+=("$p"); done
	PID_LIST=("${keep[@]}")
	info "n10's daemon has stopped itself: $(grep -m1 -i revoked "$WORK/n10.err" || echo '(no log line)')"
elif nx n10 wg show "${NODE_IF[n10]}" latest-handshakes >"$WORK/hs1" 2>/dev/null; then
	T_B_S=$((T_B / 1000))
	while read -r key h; do
		h0=$(awk -v k="$key" '$1 == k { print $2 }' "$WORK/hs0")
		[ "$h" -le "${h0:-0}" ] && continue
		# One during the 3 s farewell window (between the revoke and (b)) is
		# by design; one after every member dropped n10 is not.
		if [ "$h" -ge "$T_B_S" ]; then
			fail "n10 completed a handshake with $key at $h, after every member dropped it"
		fi
		warn "n10: handshake with $key at $h (between the revoke and (b): farewell window)"
	done <"$WORK/hs1"
	info "n10's daemon still runs; no handshake newer than before the revoke"
else
	N10_STOPPED=yes
	info "n10's interface is gone"
fi
pass "n10 cut off (daemon stopped itself: $N10_STOPPED)"

step "summary"
printf '[SUMMARY] %s nodes: converged %s s; revoke: gone from status %s s, from every wg peer list %s s; n10 cut off (stopped itself: %s); total %s s\n' \
	"$N" "$(secs "$CONV_MS")" "$(secs "$ST_MS")" "$(secs "$WG_MS")" "$N10_STOPPED" "$(($(date +%s) - T0))"
