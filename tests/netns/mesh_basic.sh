#!/bin/bash
# mesh_basic.sh: a 6-node mesh built with `meshd init/up/invite/join`, on one LAN.
#
#   ns $PFX-n1 .. $PFX-n6: one meshd node each (interface $(ifname m K), own -d DIR)
#   e0 198.18.0.K/24 2001:db8:18::K/64 --veth-- pK in ns $PFX-lan (bridge br0)
#   ns $PFX-n7 (198.18.0.7): a second, separate mesh "B" (bad-token cases)
#   ns $PFX-j  (198.18.0.8): the joiner of the bad-token cases
#
# 1. n1 init + up; n2..n6 join with tokens from `meshd invite` on n1 (n3 via
#    stdin); each join's wall time is measured.
# 2. Every node lists the 5 others with path "direct" (30 s bound, timed from
#    the last join); all 30 ordered pairs ping over the overlay, IPv4 and IPv6.
# 3. `wg show` in every node's namespace lists 5 peers; `wg set` there takes
#    fwmark only (peer remove and listen-port: EPERM, nothing changes).
# 4. n1 (the inviter, only admin) is SIGKILLed; n2..n6 `down` + `up` and
#    reconverge without it (30 s); n1 comes back with `up` and its peers.
# 5. `meshd revoke n6` on n1: within 10 s nobody lists n6 (status, wg show)
#    and n6 reaches nobody over the overlay; n6 stops and its stored status
#    says "revoked" (text and JSON).
# 6. Bad tokens (malformed, truncated, foreign mesh, expired, used up,
#    unreachable inviter): exit 1, distinct one-line messages, no join DIR
#    left behind, n1's member count unchanged.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup mb 240 "$@"

for t in python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

N=6
ALL="1 2 3 4 5 6"
mkdir -p "$WORK/st"

# --- helpers -----------------------------------------------------------------

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# secs MS: "1.23"
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

declare -A NODE_PID=()   # node short name -> daemon PID (from DIR/meshd.pid)
declare -A NODE_IF=()    # node short name -> interface name

ndir() { printf '%s/%s' "$WORK" "$1"; }

# m NODE ARGS...: run meshd ARGS in NODE's namespace; stderr (the CLI's, and
# the daemon's logs at $MB_LOG_LEVEL, default info) goes to $WORK/NODE.err.
: "${MB_LOG_LEVEL:=info}"
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL="$MB_LOG_LEVEL" "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}

pid_forget() { # pid_forget PID: drop from the cleanup list (it has exited)
	local p keep=()
	for p in "${PID_LIST[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PID_LIST=("${keep[@]}")
}

# track NODE: after up/join returned, record the daemon's PID for cleanup.
track() {
	local n=$1 pid
	pid=$(cat "$(ndir "$n")/meshd.pid" 2>/dev/null) || fail "$n: no $(ndir "$n")/meshd.pid after start"
	case $pid in '' | *[!0-9]*) fail "$n: meshd.pid holds '$pid'" ;; esac
	kill -0 "$pid" 2>/dev/null || fail "$n: daemon $pid from meshd.pid is not running"
	NODE_PID[$n]=$pid
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$n]}.sock")
}

dead() { ! kill -0 "$1" 2>/dev/null; }

# gone NODE: wait (5 s) until the node's daemon has exited, then forget it.
gone() {
	local n=$1 pid=${NODE_PID[$1]:-}
	[ -n "$pid" ] || return 0
	wait_for 5 dead "$pid" || fail "$n: daemon $pid still runs 5 s after it was stopped"
	pid_forget "$pid"
	unset "NODE_PID[$n]"
}

# st NODE: `status --json` into $WORK/st/NODE.json (empty file on failure).
st() {
	m "$1" status -d "$(ndir "$1")" --json >"$WORK/st/$1.json" 2>/dev/null ||
		: >"$WORK/st/$1.json"
}

cat >"$WORK/mesh.py" <<'EOF'
import json, sys, os
st = sys.argv[2]
def load(n):
    try:
        with open(os.path.join(st, n + ".json")) as f:
            return json.load(f)
    except Exception as e:
        return None
cmd = sys.argv[1]
if cmd == "conv":            # conv DIR NODES...: each lists the others, path direct
    nodes = sys.argv[3:]
    for n in nodes:
        j = load(n)
        if j is None:
            print(f"{n}: no status"); sys.exit(1)
        peers = {p.get("name"): p for p in j.get("peers", [])}
        for o in nodes:
            if o == n:
                continue
            if o not in peers:
                print(f"{n} does not list {o}"); sys.exit(1)
            if peers[o].get("path") != "direct":
                print(f"{n} -> {o}: path {peers[o].get('path')}"); sys.exit(1)
    print("ok")
elif cmd == "node":          # node DIR NODE FIELD
    j = load(sys.argv[3])
    print(j["node"][sys.argv[4]] if j else "")
elif cmd == "npeers":        # npeers DIR NODE: count of peers
    j = load(sys.argv[3])
    print(len(j["peers"]) if j else -1)
elif cmd == "lists":         # lists DIR NODE NAME: exit 0 when NODE lists NAME
    j = load(sys.argv[3])
    sys.exit(0 if j and any(p.get("name") == sys.argv[4] for p in j["peers"]) else 1)
elif cmd == "pin":           # pin TOKEN: the mesh pin (hex) of a token
    import base64
    t = sys.argv[2].strip()[6:]
    b = base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
    print(b[1:17].hex())
elif cmd == "repin":         # repin TOKEN PINHEX: the token with another pin, checksum redone
    import base64, hashlib
    t = sys.argv[2].strip()[6:]
    b = base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
    def ck(body):
        return hashlib.blake2b(body, key=b"meshd token checksum v1", digest_size=16).digest()[:4]
    if ck(b[:-4]) != b[-4:]:
        print("checksum-mismatch"); sys.exit(1)
    body = b[:1] + bytes.fromhex(sys.argv[3]) + b[17:-4]
    print("meshd-" + base64.urlsafe_b64encode(body + ck(body)).decode().rstrip("="))
EOF
py() { python3 "$WORK/mesh.py" "$@"; }

# converged NODES...: statuses of NODES fresh, each lists the others direct.
CONV_WHY=
converged() {
	local n
	for n in "$@"; do st "$n"; done
	CONV_WHY=$(py conv "$WORK/st" "$@") || return 1
}

# wait_conv SECS LABEL T0 NODES...: poll until converged; print the time since T0.
wait_conv() {
	local secs=$1 label=$2 t0=$3 end ms
	shift 3
	end=$(($(now_ms) + secs * 1000))
	until converged "$@"; do
		[ "$(now_ms)" -ge "$end" ] && fail "$label: not converged after ${secs} s ($CONV_WHY)"
		sleep 0.2
	done
	ms=$(($(now_ms) - t0))
	pass "$label: $(secs "$ms") s"
	LAST_MS=$ms
}

# ping_all NODES...: every ordered pair pings the other's overlay IPv4 and IPv6.
declare -A OV4=() OV6=()
ping_all() {
	local a b n=0 lost=0
	for a in "$@"; do
		st "$a"
		OV4[$a]=$(py node "$WORK/st" "$a" overlay_ipv4)
		OV6[$a]=$(py node "$WORK/st" "$a" overlay_ipv6)
		OV4[$a]=${OV4[$a]%/*}
		OV6[$a]=${OV6[$a]%/*}
		if [ -z "${OV4[$a]}" ] || [ -z "${OV6[$a]}" ]; then
			fail "$a: no overlay address in status"
		fi
	done
	for a in "$@"; do
		for b in "$@"; do
			[ "$a" = "$b" ] && continue
			for dst in "${OV4[$b]}" "${OV6[$b]}"; do
				n=$((n + 1))
				if ! nx "$a" ping -n -q -c1 -W2 "$dst" >/dev/null 2>&1; then
					lost=$((lost + 1))
					warn "$a -> $b ($dst): first ping lost, retrying"
					nx "$a" ping -n -q -c1 -W2 "$dst" >/dev/null 2>&1 ||
						fail "$a cannot ping $b at $dst over the overlay"
				fi
			done
		done
	done
	pass "$n overlay pings among $* ($lost retried)"
}

# wg_peers NODE: peer count of `wg show IF peers` in NODE's namespace.
wg_peers() {
	nx "$1" wg show "${NODE_IF[$1]}" peers | grep -c . || true
}

# Diagnostics on failure: the status of each node and its CLI stderr.
diag_dump() {
	local n dev f
	set +e
	for n in n1 n2 n3 n4 n5 n6 n7 j; do
		dev=${NODE_IF[$n]:-}
		echo "----- $n (if ${dev:-?}, pid ${NODE_PID[$n]:-none}) -----"
		if [ -n "$dev" ] && [ -S "$WG_SOCK_DIR/$dev.sock" ]; then
			nx "$n" wg show "$dev" 2>&1 | sed 's/^/    /'
		fi
		if [ -d "$(ndir "$n")" ]; then
			timeout 3 ip netns exec "$(nsname "$n")" "$MESHD" status -d "$(ndir "$n")" 2>&1 | sed 's/^/    status| /'
			for f in "$(ndir "$n")"/*.log; do
				[ -f "$f" ] || continue
				echo "    $(basename "$f") (last 20 lines):"
				tail -n 20 "$f" | sed 's/^/    | /'
			done
		fi
		if [ -s "$WORK/$n.err" ]; then
			echo "    CLI/daemon stderr (last 20 lines):"
			tail -n 20 "$WORK/$n.err" | sed 's/^/    | /'
		fi
	done
}

# --- topology ------------------------------------------------------------------

step "topology: $N nodes + 2 spare namespaces on one bridge (ns lan)"
ns_add lan
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
for k in $ALL 7 8; do
	n=n$k
	[ "$k" = 8 ] && n=j
	ns_add "$n"
	veth_add "$n" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	addr_add "$n" e0 "198.18.0.$k/24" "2001:db8:18::$k/64"
	NODE_IF[$n]=$(ifname m "$k")
done

# --- 1. init, up, joins ------------------------------------------------------------

step "1. n1: init + up; n2..n6 join with tokens from n1"
t=$(now_ms)
m n1 init -d "$(ndir n1)" --name n1 >/dev/null || fail "n1: meshd init failed"
info "init n1: $(secs $(($(now_ms) - t))) s"
t=$(now_ms)
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" >>"$WORK/n1.out" || fail "n1: meshd up failed"
info "up n1: $(secs $(($(now_ms) - t))) s"
track n1

declare -A JOIN_MS=()
TOK_USED=
for k in 2 3 4 5 6; do
	n=n$k
	tok=$(m n1 invite -d "$(ndir n1)" --uses 1) || fail "invite for $n failed"
	[ -n "$tok" ] || fail "invite for $n printed nothing"
	[ "$k" = 2 ] && TOK_USED=$tok
	[ "$k" = 2 ] && info "token (${#tok} chars): $tok"
	t=$(now_ms)
	if [ "$k" = 3 ]; then
		printf '%s\n' "$tok" | m "$n" join - -d "$(ndir "$n")" --name "$n" -i "${NODE_IF[$n]}" >>"$WORK/$n.out" ||
			fail "$n: join (token on stdin) failed"
	else
		m "$n" join "$tok" -d "$(ndir "$n")" --name "$n" -i "${NODE_IF[$n]}" >>"$WORK/$n.out" ||
			fail "$n: join failed"
	fi
	JOIN_MS[$n]=$(($(now_ms) - t))
	info "join $n: $(secs "${JOIN_MS[$n]}") s$([ "$k" = 3 ] && echo ' (token on stdin)')"
	track "$n"
done
T_LAST_JOIN=$(now_ms)
# the running daemon made them (control request), not the CLI on its store
c=$(grep -c 'control: invite created' "$WORK/n1.err" || true)
[ "$c" = 5 ] || fail "n1's log shows $c invites made by the daemon, want 5"
pass "5 joins: $(for k in 2 3 4 5 6; do printf '%s ' "$(secs "${JOIN_MS[n$k]}")"; done)s"

# --- 2. convergence ------------------------------------------------------------------

step "2. convergence: every node lists the 5 others, path direct"
wait_conv 30 "mesh converged (all 15 pairs direct)" "$T_LAST_JOIN" n1 n2 n3 n4 n5 n6
CONV1_MS=$LAST_MS
ping_all n1 n2 n3 n4 n5 n6

# --- 3. wg show ----------------------------------------------------------------------

step "3. wg show in each namespace lists 5 peers; wg set takes only fwmark"
for k in $ALL; do
	c=$(wg_peers "n$k")
	[ "$c" = 5 ] || fail "wg show ${NODE_IF[n$k]} in n$k: $c peers, want 5"
done
pass "wg show: 5 peers on each of the 6 nodes"
# The mesh owns a node's peers, key and port: `wg set` may change fwmark
# only; removing a member's peer behind the mesh's back is refused (it
# would stay "direct" in status with no way through).
peer2=$(nx n2 wg show "${NODE_IF[n2]}" public-key)
if nx n1 wg set "${NODE_IF[n1]}" peer "$peer2" remove 2>"$WORK/wgset.err"; then
	fail "wg set peer remove on a mesh interface was accepted"
fi
grep -q 'Operation not permitted' "$WORK/wgset.err" ||
	fail "wg set peer remove: '$(cat "$WORK/wgset.err")', want Operation not permitted"
! nx n1 wg set "${NODE_IF[n1]}" listen-port 4000 2>/dev/null ||
	fail "wg set listen-port on a mesh interface was accepted"
nx n1 wg set "${NODE_IF[n1]}" fwmark 0x42 || fail "wg set fwmark on a mesh interface failed"
[ "$(nx n1 wg show "${NODE_IF[n1]}" fwmark)" = 0x42 ] || fail "fwmark 0x42 not set"
nx n1 wg set "${NODE_IF[n1]}" fwmark 0 || fail "wg set fwmark 0 failed"
[ "$(wg_peers n1)" = 5 ] || fail "n1 lost a peer to a refused wg set"
[ "$(nx n1 wg show "${NODE_IF[n1]}" listen-port)" = 51820 ] || fail "n1's port moved"
ping_ok n1 "${OV4[n2]}" || fail "n1 no longer pings n2 after the refused wg set"
pass "wg set on a mesh interface: peer remove and listen-port refused (EPERM), fwmark taken"

# Bad control-socket requests get one "error: ..." line each, the daemon
# stays up and still answers (the socket is local and 0600, but a confused
# script must not hurt the node).
step "3b. bad control-socket requests on n2"
python3 - "$(ndir n2)/meshd.sock" <<'PYEOF' || fail "control socket: bad requests not refused cleanly"
import socket, sys
path = sys.argv[1]
def ask(data, shut=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode(errors="replace")
cases = [b"bogus\n", b"x" * 300 + b"\n", b"status\x00json\n", b"revoke\n",
         b"revoke n3 n4\n", b"routes approve\n", b"routes approve n3 999.1.2.3/8\n",
         b"set advertise-routes 0.0.0.0/0\n", b"status", b"\n", bytes(range(1, 200)) + b"\n"]
for c in cases:
    a = ask(c)
    if not a.startswith("error: "):
        print("request %r: answer %r" % (c[:40], a[:80]))
        sys.exit(1)
if not ask(b"status json\n").startswith("ok"):
    sys.exit(1)
PYEOF
m n2 status -d "$(ndir n2)" >/dev/null || fail "n2 no longer answers after bad requests"
pass "11 bad control requests: an error line each; n2 still answers"

# --- 4. lose the inviter, restart the rest ------------------------------------------------

step "4. SIGKILL n1 (inviter, only admin); down + up n2..n6"
kill -KILL "${NODE_PID[n1]}"
gone n1
for k in 2 3 4 5 6; do
	m "n$k" down -d "$(ndir "n$k")" || fail "n$k: meshd down failed"
	gone "n$k"
done
t=$(now_ms)
for k in 2 3 4 5 6; do
	m "n$k" up -d "$(ndir "n$k")" -i "${NODE_IF[n$k]}" >>"$WORK/n$k.out" || fail "n$k: meshd up (restart) failed"
	track "n$k"
done
info "up n2..n6: $(secs $(($(now_ms) - t))) s"
wait_conv 30 "n2..n6 reconverged without n1 (10 pairs direct)" "$t" n2 n3 n4 n5 n6
RECONV_MS=$LAST_MS
ping_all n2 n3 n4 n5 n6

# n1 down: status shows the stored state (exit 1, "running": false). (The
# offline invite is covered by cli_usage.sh.)
rc=0
m n1 status -d "$(ndir n1)" --json >"$WORK/st/n1-off.json" || rc=$?
[ "$rc" = 1 ] || fail "n1 stopped: status --json exit $rc, want 1"
python3 - "$WORK/st/n1-off.json" <<'PYEOF' || fail "n1 stopped: status --json is not the stored state"
import json, sys
j = json.load(open(sys.argv[1]))
peers = j["peers"]
ok = (j["running"] is False and j["node"]["name"] == "n1" and len(peers) == 5 and
      all(p["path"] == "none" and p["latest_handshake"] == 0 and p["endpoint"] for p in peers))
sys.exit(0 if ok else 1)
PYEOF
m n1 status -d "$(ndir n1)" >"$WORK/st/n1-off.txt" || true
grep -q '^status: *not running' "$WORK/st/n1-off.txt" || fail "n1 stopped: status table not marked"
pass "n1 stopped: status shows its stored state (5 members, paths none)"

t=$(now_ms)
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" >>"$WORK/n1.out" || fail "n1: meshd up after SIGKILL failed"
track n1
st n1
c=$(py npeers "$WORK/st" n1)
[ "$c" = 5 ] || fail "n1 after SIGKILL: $c peers in status, want 5"
wait_conv 30 "n1 back after SIGKILL, mesh converged again" "$t" n1 n2 n3 n4 n5 n6
BACK_MS=$LAST_MS

# --- 5. revoke n6 ----------------------------------------------------------------------------

step "5. revoke n6 from n1"
st n6
N6_KEY=$(py node "$WORK/st" n6 public_key)
N6_V4=$(py node "$WORK/st" n6 overlay_ipv4)
N6_V4=${N6_V4%/*}
[ -n "$N6_KEY" ] || fail "n6: no public key in status"
# Per node, the time (ms after the revoke) at which its status stopped listing
# n6 and at which its `wg show` stopped having n6's key.
declare -A REV_ST=() REV_WG=()
no_n6() {
	local k done=0 ms
	for k in 1 2 3 4 5; do
		ms=$(($(now_ms) - t))
		if [ -z "${REV_ST[$k]:-}" ]; then
			st "n$k"
			py lists "$WORK/st" "n$k" n6 || REV_ST[$k]=$ms
		fi
		if [ -z "${REV_WG[$k]:-}" ] &&
			! nx "n$k" wg show "${NODE_IF[n$k]}" peers | grep -qF "$N6_KEY"; then
			REV_WG[$k]=$ms
		fi
		[ -n "${REV_ST[$k]:-}" ] && [ -n "${REV_WG[$k]:-}" ] && done=$((done + 1))
	done
	[ "$done" = 5 ]
}
rev_times() {
	local k
	for k in 1 2 3 4 5; do
		printf 'n%s %s/%s ' "$k" "$(secs "${REV_ST[$k]:-99999}")" "$(secs "${REV_WG[$k]:-99999}")"
	done
}
t=$(now_ms)
m n1 revoke n6 -d "$(ndir n1)" >/dev/null || fail "meshd revoke n6 failed"
REV_MAX_S=${MB_REVOKE_MAX_S:-10}
late=
until no_n6; do
	if [ -z "$late" ] && [ "$(now_ms)" -ge $((t + 5000)) ]; then
		late=$(nx n1 wg show "${NODE_IF[n1]}" allowed-ips | grep -F "$N6_KEY" || true)
		[ -z "$late" ] || info "n6 on n1 5 s after the revoke: wg allowed-ips: ${late#* }"
		late=1
	fi
	[ "$(now_ms)" -ge $((t + REV_MAX_S * 1000)) ] &&
		fail "revocation: not done after $REV_MAX_S s (status/wg s; 99.99 = not yet): $(rev_times)"
	sleep 0.2
done
REVOKE_MS=0
for k in 1 2 3 4 5; do
	for v in "${REV_ST[$k]}" "${REV_WG[$k]}"; do
		if [ "$v" -gt "$REVOKE_MS" ]; then REVOKE_MS=$v; fi
	done
done
[ "$REVOKE_MS" -le $((REV_MAX_S * 1000)) ] || fail "revocation took $(secs "$REVOKE_MS") s (status/wg s): $(rev_times)"
info "gone from status/wg show, s after the revoke: $(rev_times)"
pass "revocation of n6 reached n1..n5 (status and wg show): $(secs "$REVOKE_MS") s"
for k in 1 2 3 4 5; do
	! nx n6 ping -n -q -c1 -W1 "${OV4[n$k]}" >/dev/null 2>&1 || fail "revoked n6 still pings n$k"
done
! nx n1 ping -n -q -c1 -W1 "$N6_V4" >/dev/null 2>&1 || fail "n1 still pings revoked n6"
pass "n6 reaches nobody over the overlay"
# n6 stops itself; its stored status then says it was revoked (and still
# shows its key), instead of an empty node that looks merely stopped.
n6_stopped() { [ ! -e "$(ndir n6)/meshd.pid" ]; }
wait_for 10 n6_stopped || fail "revoked n6 still runs 10 s after the revoke"
rc=0
nx n6 "$MESHD" status -d "$(ndir n6)" >"$WORK/n6.status" 2>/dev/null 9>&- || rc=$?
[ "$rc" = 1 ] || fail "revoked n6: status exit $rc, want 1"
head -n 1 "$WORK/n6.status" | grep -q '^status: *revoked ' ||
	fail "revoked n6: status does not say revoked: $(head -n 3 "$WORK/n6.status")"
grep -q "^public key: $N6_KEY\$" "$WORK/n6.status" ||
	fail "revoked n6: status lost its key: $(grep '^public key' "$WORK/n6.status")"
nx n6 "$MESHD" status -d "$(ndir n6)" --json 2>/dev/null 9>&- |
	python3 -c 'import json, sys; n = json.load(sys.stdin)["node"]; sys.exit(0 if n["revoked"] is True else 1)' ||
	fail "revoked n6: status --json lacks \"revoked\": true"
pass "revoked n6 stopped; its stored status says revoked (text and JSON)"

# --- 6. bad tokens ---------------------------------------------------------------------------

step "6. bad tokens, joined from ns j with fresh -d each time"
st n1
MEMBERS=$(py npeers "$WORK/st" n1)
info "n1 lists $MEMBERS peers"

# Mesh B on n7: a second, separate mesh. Two of its tokens: one re-pinned to
# mesh A with a valid checksum (a token claiming mesh A whose endpoint is a
# node of another mesh: "foreign"), one used while B is down (unreachable).
m n7 init -d "$(ndir n7)" --name b1 >/dev/null || fail "n7: init (mesh B) failed"
m n7 up -d "$(ndir n7)" -i "${NODE_IF[n7]}" >>"$WORK/n7.out" || fail "n7: up (mesh B) failed"
track n7
TOK_B1=$(m n7 invite -d "$(ndir n7)") || fail "n7: invite failed"
TOK_B2=$(m n7 invite -d "$(ndir n7)") || fail "n7: invite failed"
TOK_A=$(m n1 invite -d "$(ndir n1)") || fail "n1: invite failed"
TOK_FOREIGN=$(py repin "$TOK_B1" "$(py pin "$TOK_A")") || fail "re-pinning a token: $TOK_FOREIGN"
TOK_EXP=$(m n1 invite -d "$(ndir n1)" --ttl 1s) || fail "n1: invite --ttl 1s failed"
TOK_HALF=${TOK_A:0:$((${#TOK_A} / 2))}
sleep 2

declare -A MSG=()
CASES="malformed truncated foreign expired used-up unreachable"
i=0
for c in $CASES; do
	i=$((i + 1))
	case $c in
	malformed) tok=hello ;;
	truncated) tok=$TOK_HALF ;;
	foreign) tok=$TOK_FOREIGN ;;
	expired) tok=$TOK_EXP ;;
	used-up) tok=$TOK_USED ;;
	unreachable)
		m n7 down -d "$(ndir n7)" || fail "n7: down failed"
		gone n7
		tok=$TOK_B2
		;;
	esac
	d="$WORK/bad-$c"
	t=$(now_ms)
	rc=0
	timeout 20 ip netns exec "$(nsname j)" "$MESHD" join "$tok" -d "$d" --name "bad$i" \
		-i "$(ifname x "$i")" >"$WORK/bad-$c.out" 2>"$WORK/bad-$c.err" 9>&- || rc=$?
	ms=$(($(now_ms) - t))
	msg=$(cat "$WORK/bad-$c.err")
	info "join ($c): exit $rc in $(secs "$ms") s: $msg"
	if [ "$rc" = 0 ]; then
		[ -f "$d/meshd.pid" ] && { PID_LIST+=("$(cat "$d/meshd.pid")"); }
		fail "join with a $c token succeeded"
	fi
	[ "$rc" = 1 ] || fail "join ($c): exit $rc, want 1"
	[ -n "$msg" ] || fail "join ($c): no message on stderr"
	[ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] || warn "join ($c): message is not one line"
	if [ -e "$d" ] && [ -n "$(find "$d" -mindepth 1)" ]; then
		fail "join ($c) left $d behind: $(find "$d" -mindepth 1 | tr '\n' ' ')"
	fi
	if [ "$c" = unreachable ] && [ "$ms" -gt 13000 ]; then
		fail "join ($c) took $(secs "$ms") s, want about 10"
	fi
	if [ "$c" = foreign ] && [ "$ms" -gt 3000 ]; then
		fail "join ($c) took $(secs "$ms") s: the other mesh's inviter should answer at once"
	fi
	st n1
	[ "$(py npeers "$WORK/st" n1)" = "$MEMBERS" ] || fail "join ($c) changed n1's peers"
	MSG[$c]=$msg
	[ "$c" = unreachable ] && UNREACH_MS=$ms
done
# Every case has its own message; a foreign token is answered at once by
# the other mesh's inviter (JOIN_ERR other-mesh), not by a timeout.
for a in $CASES; do
	for b in $CASES; do
		[ "$a" \< "$b" ] || continue
		[ "${MSG[$a]}" != "${MSG[$b]}" ] || fail "cases $a and $b give the same message: ${MSG[$a]}"
	done
done
pass "6 bad tokens: exit 1, distinct messages, nothing left behind, n1 unchanged"

step "summary"
printf '[SUMMARY] joins %ss; converged %s s after the last join; reconverged without n1 %s s; n1 back %s s; revoke %s s; unreachable join %s s; total %s s\n' \
	"$(for k in 2 3 4 5 6; do printf '%s/' "$(secs "${JOIN_MS[n$k]}")"; done | sed 's,/$,,')" \
	"$(secs "$CONV1_MS")" "$(secs "$RECONV_MS")" "$(secs "$BACK_MS")" "$(secs "$REVOKE_MS")" \
	"$(secs "$UNREACH_MS")" "$(($(date +%s) - T0))"
