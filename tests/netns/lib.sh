# shellcheck shell=bash
# tests/netns/lib.sh: helpers for meshd's network-namespace tests.
#
# Source it from a test script (bash), then call netns_setup TAG LIMIT first:
#
#   . "$(dirname "$0")/lib.sh"
#   netns_setup wi 240          # skip unless root, re-exec under timeout, trap cleanup
#   ns_add a; ns_add b          # namespaces "$PFX-a", "$PFX-b" (lo up)
#   veth_add a a0 b b0          # veth a0 (in a) <-> b0 (in b); never in the root ns
#   addr_add a a0 198.51.100.1/24 2001:db8:1::1/64
#   impl_start a "$(ifname a)" meshd    # or wggo; waits for the UAPI socket
#
# Rules kept here so every test gets them for free (README.md, "Tests"):
#  - every namespace, link and daemon is the test's own; nothing touches the root
#    namespace's links, routes, addresses or firewall;
#  - namespaces carry a per-test prefix (TAG + PID), interface names are unique
#    machine-wide (the UAPI socket directory /var/run/wireguard is shared);
#  - the whole script runs under `timeout`, and the EXIT trap kills only the PIDs
#    this script started and deletes only its own namespaces and sockets;
#  - not root (or MESHD_SKIP_NETNS=1) -> exit 77.
#
# Implementations ("impl"): meshd   = "$MESHD wg -f IFNAME"
#                           wggo    = "wireguard-go -f IFNAME" (LOG_LEVEL=error)

# Every test is a bash script; re-run under bash if sourced from sh.
if [ -z "${BASH_VERSION:-}" ]; then
	echo "lib.sh: needs bash" >&2
	exit 99
fi

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The system python3 (scripts/setup.sh installs it with the packages the
# tests import). A version manager's shim earlier in PATH (pyenv's is on
# this machine) costs ~0.7 s a call idle and seconds under load, against
# ~40 ms: enough to turn a polling loop's 10 s bound into a false failure
# (mesh_basic's revocation loop runs python once per node per pass).
if [ -x /usr/bin/python3 ] && [ "$(command -v python3)" != /usr/bin/python3 ]; then
	PATH=/usr/bin:$PATH
fi
: "${top_srcdir:=$(cd "$LIB_DIR/../.." && pwd)}"
if [ -z "${MESHD:-}" ]; then
	if [ -n "${top_builddir:-}" ] && [ -x "$top_builddir/meshd" ]; then
		MESHD=$top_builddir/meshd
	elif [ -x ./meshd ]; then
		MESHD=$(pwd)/meshd
	else
		MESHD=$top_srcdir/meshd
	fi
fi
export MESHD

WG_SOCK_DIR=/var/run/wireguard

NS_LIST=()        # full names of namespaces we created
PID_LIST=()       # PIDs we started (daemons, background tools)
SOCK_LIST=()      # UAPI sockets of interfaces we created
declare -A IMPL_PID=()   # ifname -> daemon PID
declare -A IMPL_NS=()    # ifname -> short namespace name
declare -A IMPL_KIND=()  # ifname -> meshd|wggo
T0=$(date +%s)

# --- printing ---------------------------------------------------------------

step() { printf '[STEP] %s\n' "$*"; }
info() { printf '       %s\n' "$*"; }
pass() { printf '[PASS] %s\n' "$*"; }
warn() { printf '[WARN] %s\n' "$*"; }

# fail MESSAGE: print diagnostics (daemon logs, wg show) and exit 1.
fail() {
	printf '[FAIL] %s\n' "$*"
	diag_dump
	exit 1
}

skip() {
	printf '[SKIP] %s\n' "$*"
	exit 77
}

# --- setup / cleanup ---------------------------------------------------------

# netns_setup TAG LIMIT_SECONDS [script args...]
# TAG: 1-3 lower-case letters naming the test. Skips when not root, re-executes
# the calling script under `timeout LIMIT`, creates the work dir and the trap.
netns_setup() {
	local tag=$1 limit=$2
	shift 2
	if [ "${MESHD_SKIP_NETNS:-0}" = 1 ]; then
		skip "MESHD_SKIP_NETNS=1"
	fi
	if [ "$(id -u)" != 0 ]; then
		skip "needs root (network namespaces)"
	fi
	local t
	for t in ip timeout wg; do
		command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
	done
	if [ -z "${NETNS_UNDER_TIMEOUT:-}" ]; then
		export NETNS_UNDER_TIMEOUT=1
		# timeout signals the whole process group: the trap below cleans up.
		exec timeout -k 15 "$limit" bash "$0" "$@"
	fi
	case $tag in
	[a-z] | [a-z][a-z] | [a-z][a-z][a-z]) ;;
	*) echo "netns_setup: bad tag '$tag'" >&2; exit 99 ;;
	esac
	TAG=$tag
	# Namespace prefix and interface-name stem: unique per running test.
	PFX="md$TAG$$"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshd-netns-$TAG.XXXXXX")
	# fd 9 keeps the script's own stdout: a trap can fire while a redirection
	# such as `nx NS ping ... >/dev/null` is in effect, and its report and the
	# cleanup must not vanish with it.
	exec 9>&1
	trap netns_cleanup EXIT
	# shellcheck disable=SC2064 # expand $limit now
	trap "exec 1>&9 2>&9; echo '[FAIL] interrupted by SIGTERM (time limit ${limit}s?)'; exit 124" TERM
	trap 'exec 1>&9 2>&9; echo "[FAIL] interrupted"; exit 130' INT HUP
	info "prefix $PFX, work dir $WORK, limit ${limit}s, MESHD=$MESHD"
}

netns_cleanup() {
	local rc=$? p ns s
	trap - EXIT TERM INT HUP
	set +e
	exec 1>&9 2>&9
	for p in "${PID_LIST[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for _ in $(seq 1 30); do
		s=0
		for p in "${PID_LIST[@]}"; do
			kill -0 "$p" 2>/dev/null && s=1
		done
		[ "$s" = 0 ] && break
		sleep 0.1
	done
	for p in "${PID_LIST[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	[ "${#PID_LIST[@]}" -gt 0 ] && wait "${PID_LIST[@]}" 2>/dev/null
	for ns in "${NS_LIST[@]}"; do
		# Anything still running inside our own namespaces was started by us
		# (e.g. under a tool that made its own process group): stop it too.
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	for s in "${SOCK_LIST[@]}"; do
		rm -f "$s"
	done
	if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
		if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "${KEEP_WORK:-}" ]; then
			info "work dir kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	info "cleanup done after $(($(date +%s) - T0))s (exit $rc)"
	exit "$rc"
}

# --- namespaces and links ------------------------------------------------------

# nsname SHORT -> full namespace name
nsname() { printf '%s-%s' "$PFX" "$1"; }

# ns_add SHORT: create namespace "$PFX-SHORT" with lo up.
ns_add() {
	local n
	n=$(nsname "$1")
	ip netns add "$n" || fail "ip netns add $n"
	NS_LIST+=("$n")
	ip -n "$n" link set lo up
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1 || true
}

# nx SHORT CMD...: run CMD inside namespace SHORT.
nx() {
	local n
	n=$(nsname "$1")
	shift
	ip netns exec "$n" "$@"
}

# veth_add NS1 IF1 NS2 IF2: veth pair created directly inside NS1 with its peer
# moved straight into NS2 (no end ever lives in the root namespace); both up.
veth_add() {
	local n1 n2
	n1=$(nsname "$1")
	n2=$(nsname "$3")
	ip -n "$n1" link add "$2" type veth peer name "$4" netns "$n2" ||
		fail "veth $1/$2 <-> $3/$4"
	ip -n "$n1" link set "$2" up
	ip -n "$n2" link set "$4" up
}

# addr_add NS IF CIDR...: IPv4 and IPv6 addresses (IPv6 with nodad).
addr_add() {
	local n=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		case $a in
		*:*) ip -n "$(nsname "$n")" -6 addr add "$a" dev "$dev" nodad ||
			fail "addr $a on $n/$dev" ;;
		*) ip -n "$(nsname "$n")" addr add "$a" dev "$dev" ||
			fail "addr $a on $n/$dev" ;;
		esac
	done
}

# --- WireGuard implementations ------------------------------------------------

# ifname SHORT [N]: interface name unique machine-wide: wg + tag + pid + short
# (+ N), at most 15 characters.
ifname() {
	local s="wg$TAG$$$1${2:-}"
	if [ "${#s}" -gt 15 ]; then
		s="wg${TAG}$(($$ % 100000))$1${2:-}"
	fi
	printf '%s' "${s:0:15}"
}

# impl_ok KIND: 0 when KIND can be started at all.
impl_ok() {
	case $1 in
	meshd) [ -x "$MESHD" ] ;;
	wggo) command -v wireguard-go >/dev/null 2>&1 ;;
	*) return 1 ;;
	esac
}

# impl_start NS IFNAME KIND: start a userspace WireGuard daemon for IFNAME in NS
# (foreground, our child), record its PID, wait (5 s) for its UAPI socket.
impl_start() {
	local n=$1 dev=$2 kind=$3 log pid sock
	log="$WORK/$dev.$kind.log"
	sock="$WG_SOCK_DIR/$dev.sock"
	[ -e "$sock" ] && fail "$sock exists already (name clash)"
	impl_ok "$kind" || fail "implementation '$kind' not available (MESHD=$MESHD)"
	SOCK_LIST+=("$sock")
	case $kind in
	meshd)
		ip netns exec "$(nsname "$n")" "$MESHD" wg -f "$dev" >"$log" 2>&1 9>&- &
		pid=$!
		;;
	wggo)
		ip netns exec "$(nsname "$n")" env LOG_LEVEL="${WGGO_LOG_LEVEL:-error}" \
			wireguard-go -f "$dev" >"$log" 2>&1 9>&- &
		pid=$!
		;;
	esac
	PID_LIST+=("$pid")
	IMPL_PID[$dev]=$pid
	IMPL_NS[$dev]=$n
	IMPL_KIND[$dev]=$kind
	wait_for 5 sock_or_dead "$sock" "$pid" || true
	if ! kill -0 "$pid" 2>/dev/null; then
		local st=0
		wait "$pid" || st=$?
		fail "$kind for $dev in $n exited (status $st) without serving $sock"
	fi
	[ -S "$sock" ] || fail "$kind for $dev in $n: no UAPI socket $sock after 5 s"
	wait_for 5 ip -n "$(nsname "$n")" link show "$dev" >/dev/null 2>&1 ||
		fail "$kind: interface $dev not in namespace $n"
}

# sock_or_dead SOCK PID: 0 once SOCK exists or PID has exited.
sock_or_dead() {
	[ -S "$1" ] || ! kill -0 "$2" 2>/dev/null
}

# impl_stop IFNAME: stop the daemon serving IFNAME (TERM, then KILL after 3 s).
impl_stop() {
	local dev=$1 pid
	pid=${IMPL_PID[$dev]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$WG_SOCK_DIR/$dev.sock"
	unset "IMPL_PID[$dev]"
}

# impl_alive IFNAME: 0 when its daemon still runs.
impl_alive() {
	local pid=${IMPL_PID[$1]:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# meshd_wg_works: 0 when "$MESHD wg -f" serves a UAPI socket in a scratch
# namespace (used to decide what to run before meshd wg is implemented).
meshd_wg_works() {
	local n dev pid ok=1 sock
	[ -x "$MESHD" ] || return 1
	n="${PFX}-probe"
	dev="wgp$$"
	sock="$WG_SOCK_DIR/$dev.sock"
	ip netns add "$n" || return 1
	NS_LIST+=("$n")
	SOCK_LIST+=("$sock")
	ip netns exec "$n" "$MESHD" wg -f "$dev" >"$WORK/probe.log" 2>&1 &
	pid=$!
	PID_LIST+=("$pid")
	wait_for 3 test -S "$sock" && ok=0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$sock"
	ip netns del "$n" 2>/dev/null || true
	return $ok
}

# key_new NAME: writes $WORK/NAME.key and $WORK/NAME.pub; prints the public key.
key_new() {
	(umask 077 && wg genkey >"$WORK/$1.key")
	wg pubkey <"$WORK/$1.key" >"$WORK/$1.pub"
	cat "$WORK/$1.pub"
}

# wgset NS IFNAME ARGS...: `wg set IFNAME ARGS...` run inside NS.
wgset() {
	local n=$1
	shift
	nx "$n" wg set "$@" || fail "wg set $* (in $n)"
}

# wgshow NS IFNAME [FIELD]: `wg show IFNAME [FIELD]` inside NS.
wgshow() {
	local n=$1
	shift
	nx "$n" wg show "$@"
}

# link_up NS IFNAME CIDR...: addresses on a WireGuard interface, then up.
link_up() {
	local n=$1 dev=$2
	shift 2
	addr_add "$n" "$dev" "$@"
	ip -n "$(nsname "$n")" link set "$dev" up || fail "link $dev up"
}

# peer_field NS IFNAME FIELD: the FIELD column of `wg show IFNAME FIELD` for
# the (single) peer, e.g. latest-handshakes -> epoch seconds, transfer -> "rx tx".
peer_field() {
	wgshow "$1" "$2" "$3" | awk 'NR==1 { $1 = ""; sub(/^ /, ""); print }'
}

# --- waiting and traffic ------------------------------------------------------

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
	local secs=$1 end
	shift
	end=$(($(date +%s%N) / 1000000 + secs * 1000))
	while :; do
		"$@" && return 0
		[ $(($(date +%s%N) / 1000000)) -ge "$end" ] && return 1
		sleep 0.1
	done
}

# ping_replies FILE N: 0 once FILE (a running ping's output) holds N replies;
# for waiting until background traffic flows before changing the network.
ping_replies() {
	local n
	n=$(grep -c 'bytes from' "$1" 2>/dev/null)
	[ "${n:-0}" -ge "$2" ]
}

# ping_ok NS DEST [COUNT]: COUNT (default 3) pings with 0.2 s spacing, 1 s
# wait; success when all replies come back.
ping_ok() {
	local n=$1 dst=$2 c=${3:-3}
	nx "$n" ping -q -n -c "$c" -i 0.2 -W 1 "$dst" >/dev/null 2>&1
}

# ping_first NS DEST SECS: ping until the first reply, up to SECS (handshake).
ping_first() {
	local n=$1 dst=$2 secs=$3
	wait_for "$secs" nx "$n" ping -q -n -c 1 -W 1 "$dst" >/dev/null 2>&1
}

# bg NAME CMD...: run CMD in the background, output to $WORK/NAME.out, record
# its PID in BG_PID (and in the cleanup list).
bg() {
	local name=$1
	shift
	"$@" >"$WORK/$name.out" 2>&1 9>&- &
	BG_PID=$!
	PID_LIST+=("$BG_PID")
}

# --- diagnostics ----------------------------------------------------------------

diag_dump() {
	local dev n
	set +e
	for dev in "${!IMPL_NS[@]}"; do
		n=${IMPL_NS[$dev]}
		echo "----- $dev (${IMPL_KIND[$dev]}, ns $n, pid ${IMPL_PID[$dev]:-stopped}) -----"
		if [ -S "$WG_SOCK_DIR/$dev.sock" ]; then
			nx "$n" wg show "$dev" 2>&1 | sed 's/^/    /'
		fi
		for f in "$WORK/$dev".*.log; do
			[ -f "$f" ] || continue
			echo "    log $(basename "$f") (last 30 lines):"
			[ -s "$f" ] || echo "    | (empty)"
			tail -n 30 "$f" | sed 's/^/    | /'
		done
	done
	set -e
}

# --- a ready-made tunnel --------------------------------------------------------

# tunnel_up ID IMPL_A IMPL_B: namespaces ID-a and ID-b joined by a veth
# (198.51.100.1/24 <-> .2/24), IMPL_A in ID-a with 100.64.0.1/24 fd00:64::1/64,
# IMPL_B in ID-b with 100.64.0.2/24 fd00:64::2/64, each knowing the other's
# endpoint. No traffic yet. Interface names: $(ifname a ID), $(ifname b ID).
tunnel_up() {
	local id=$1 ia ib ka kb
	ns_add "$id-a"
	ns_add "$id-b"
	veth_add "$id-a" v0 "$id-b" v0
	addr_add "$id-a" v0 198.51.100.1/24
	addr_add "$id-b" v0 198.51.100.2/24
	ia=$(ifname a "$id")
	ib=$(ifname b "$id")
	impl_start "$id-a" "$ia" "$2"
	impl_start "$id-b" "$ib" "$3"
	ka=$(key_new "$id-a")
	kb=$(key_new "$id-b")
	wgset "$id-a" "$ia" private-key "$WORK/$id-a.key" listen-port 51820 \
		peer "$kb" allowed-ips 100.64.0.2/32,fd00:64::2/128 endpoint 198.51.100.2:51820
	wgset "$id-b" "$ib" private-key "$WORK/$id-b.key" listen-port 51820 \
		peer "$ka" allowed-ips 100.64.0.1/32,fd00:64::1/128 endpoint 198.51.100.1:51820
	link_up "$id-a" "$ia" 100.64.0.1/24 fd00:64::1/64
	link_up "$id-b" "$ib" 100.64.0.2/24 fd00:64::2/64
}

# udp_bound NS PORT: 0 once something in namespace NS has bound UDP PORT.
udp_bound() {
	nx "$1" ss -Hlun "sport = :$2" 2>/dev/null | grep -q .
}

# wait_udp_bound NS PORT [SECS]: a helper started in the background (e.g. a
# python3 STUN responder) is ready only once it has bound its port: python
# can take seconds to start on a loaded machine, and what talks to it first
# (miniupnpd's STUN check) gives up after a few seconds.
wait_udp_bound() {
	wait_for "${3:-20}" udp_bound "$1" "$2" || fail "nothing bound UDP port $2 in $1 after ${3:-20} s"
}
