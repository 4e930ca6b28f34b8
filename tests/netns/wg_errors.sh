#!/bin/bash
# wg_errors.sh: `meshd wg` fails clearly and cleans up after itself.
#
#   ns $PFX-e   (one namespace, no links: only the daemon's own TUN devices)
#
# The contract (issue: "errors are one clear line on stderr and exit 1; usage
# errors exit 2; exits cleanly on SIGINT/SIGTERM and removes its socket"):
#   usage errors                      -> exit 2
#   bad interface names               -> exit 1, one line naming the value
#   interface already served          -> exit 1, one line, first daemon unharmed
#   name held by another interface    -> exit 1, one line
#   no permission (uid nobody)        -> exit 1, one line
#   UDP port in use (wg set)          -> wg reports EADDRINUSE, nothing changes
#   background mode                   -> returns 0 once up; SIGTERM removes socket + link
#   foreground SIGINT                 -> socket and interface removed
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup we 120 "$@"

ns_add e

# expect_fail WANT_STATUS PATTERN CMD...: CMD (run in ns e) exits WANT_STATUS,
# writes exactly one line on stderr, and that line matches PATTERN.
expect_fail() {
	local want=$1 pat=$2 st=0 err lines
	shift 2
	err="$WORK/err.$RANDOM"
	nx e "$@" >/dev/null 2>"$err" </dev/null || st=$?
	lines=$(wc -l <"$err")
	if [ "$st" != "$want" ]; then
		fail "'$*': exit $st, want $want (stderr: $(head -c 300 "$err"))"
	fi
	if [ "$want" = 1 ] && [ "$lines" != 1 ]; then
		fail "'$*': $lines lines on stderr, want exactly 1: $(head -c 300 "$err")"
	fi
	if ! grep -qE -- "$pat" "$err"; then
		fail "'$*': stderr does not match /$pat/: $(head -c 300 "$err")"
	fi
	info "exit $st: $(head -n 1 "$err")"
}

step "usage errors exit 2"
expect_fail 2 "usage|Usage" "$MESHD"
expect_fail 2 "usage|Usage|unknown" "$MESHD" no-such-command
expect_fail 2 "usage|Usage" "$MESHD" wg
expect_fail 2 "usage|Usage|option" "$MESHD" wg --no-such-flag x
pass "usage errors"

step "bad interface names exit 1 with one line naming the value"
expect_fail 1 "bad/name" "$MESHD" wg -f bad/name
expect_fail 1 "0123456789abcdef" "$MESHD" wg -f 0123456789abcdef
expect_fail 1 "two words|name" "$MESHD" wg -f "two words"
pass "bad names refused"

dev=$(ifname e 1)
sock="$WG_SOCK_DIR/$dev.sock"

step "an interface already served by a running daemon is refused"
impl_start e "$dev" meshd
expect_fail 1 "$dev" "$MESHD" wg -f "$dev"
impl_alive "$dev" || fail "the first daemon died when a second one tried $dev"
[ -S "$sock" ] || fail "the first daemon's socket $sock disappeared"
nx e wg show "$dev" >/dev/null || fail "wg show $dev fails after the refused start"
pass "second daemon refused, first one unharmed"

step "a busy UDP port is refused by wg set and changes nothing"
nx e wg set "$dev" listen-port 51001 || fail "wg set listen-port 51001"
nx e nc -u -l -p 51002 >/dev/null 2>&1 &
ncpid=$!
PID_LIST+=("$ncpid")
wait_for 5 sh -c "ip netns exec $(nsname e) ss -uln | grep -q ':51002 '" ||
	fail "nc did not bind UDP 51002"
st=0
nx e wg set "$dev" listen-port 51002 2>"$WORK/wgset.err" || st=$?
[ "$st" != 0 ] || fail "wg set listen-port on a busy port succeeded"
grep -qi "in use" "$WORK/wgset.err" || fail "wg set error is not 'in use': $(cat "$WORK/wgset.err")"
port=$(nx e wg show "$dev" listen-port)
[ "$port" = 51001 ] || fail "listen port changed to '$port' after a failed set"
info "wg set: $(head -n 1 "$WORK/wgset.err"); port still $port"
kill "$ncpid" 2>/dev/null || true
wait "$ncpid" 2>/dev/null || true
pass "busy port refused atomically"

step "foreground SIGINT removes the socket and the interface"
pid=${IMPL_PID[$dev]}
kill -INT "$pid"
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon still running 5 s after SIGINT"
st=0
wait "$pid" || st=$?
[ "$st" = 0 ] || fail "daemon exit status $st after SIGINT, want 0"
unset "IMPL_PID[$dev]"
[ ! -e "$sock" ] || fail "socket $sock left behind after SIGINT"
! nx e ip link show "$dev" >/dev/null 2>&1 || fail "interface $dev left behind after SIGINT"
pass "clean stop on SIGINT"

step "a name held by another kind of interface is refused"
held=$(ifname h 2)
# both ends of the veth stay inside ns e (no dummy module on these kernels)
nx e ip link add "$held" type veth peer name "${held:0:13}p" || fail "ip link add veth $held"
expect_fail 1 "$held" "$MESHD" wg -f "$held"
[ ! -e "$WG_SOCK_DIR/$held.sock" ] || fail "a socket was left for the refused $held"
pass "name clash refused"

step "no permission: as uid nobody"
nob=$(ifname n 3)
expect_fail 1 "$nob" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$MESHD" wg -f "$nob"
pass "unprivileged start refused"

step "background mode returns once up; SIGTERM cleans up"
bgdev=$(ifname b 4)
bgsock="$WG_SOCK_DIR/$bgdev.sock"
SOCK_LIST+=("$bgsock")
st=0
nx e "$MESHD" wg "$bgdev" </dev/null >"$WORK/bg.out" 2>&1 || st=$?
[ "$st" = 0 ] || fail "background start exit $st: $(cat "$WORK/bg.out")"
[ -S "$bgsock" ] || fail "background start returned before $bgsock existed"
nx e ip link show "$bgdev" >/dev/null 2>&1 || fail "background start returned before $bgdev existed"
# The daemon is ours (we started it): find it among our namespace's processes
# by the interface name on its command line, never by program name machine-wide.
bgpid=""
for p in $(ip netns pids "$(nsname e)"); do
	if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q " wg $bgdev"; then
		bgpid=$p
	fi
done
[ -n "$bgpid" ] || fail "no background daemon process in the namespace"
PID_LIST+=("$bgpid")
kill -TERM "$bgpid"
wait_for 5 sh -c "! kill -0 $bgpid 2>/dev/null" || fail "background daemon still running after SIGTERM"
[ ! -e "$bgsock" ] || fail "socket $bgsock left behind after SIGTERM"
! nx e ip link show "$bgdev" >/dev/null 2>&1 || fail "interface $bgdev left behind after SIGTERM"
pass "background start and SIGTERM stop"

pass "wg_errors: all checks passed"
