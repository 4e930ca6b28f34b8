#!/bin/bash
# daemon_hard.sh: the daemon's own hygiene, in the lab of natlab.sh:
#
#   inet bridge: pub 198.51.100.10 (admin, inviter)
#                px  198.51.100.20 (node wpad, joins with the token in argv)
#
# 1. `meshd join TOKEN`: the daemon's /proc/PID/cmdline no longer holds the
#    token (nor its secret part).
# 2. --hosts-file: fully qualified names only; a member called "wpad" does
#    not get a bare "wpad" line. With --hosts-file-short the bare names are
#    there (opt-in).
# 3. SIGHUP to a foreground `up -f --hosts-file` stops it cleanly within 5 s:
#    the hosts block and the pid file are gone, exit status 0.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup dh 120 "$@"
# shellcheck source=tests/netns/natlab.sh
. "$(dirname "$0")/natlab.sh"

command -v python3 >/dev/null 2>&1 || skip "'python3' not installed"
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

step "lab: inet + pub + px"
lab_inet
ns_add px
veth_add px e0 inet px
ip -n "$(nsname inet)" link set px master br0
addr_add px e0 198.51.100.20/24
printf '127.0.0.1 localhost\n' >"$WORK/pub.hosts"
printf '127.0.0.1 localhost\n' >"$WORK/px.hosts"
LAB_NODE_NS[pub]=pub
LAB_NODE_IF[pub]=$(ifname pub)
LAB_NODES+=(pub)
lab_m pub pub init -d "$(lab_dir pub)" --name pub --mesh-name corp >/dev/null ||
	fail "pub: init failed"

step "1. join with the token in argv: not in /proc/PID/cmdline"
LAB_NODE_NS[wpad]=px
LAB_NODE_IF[wpad]=$(ifname wpad)
LAB_NODES+=(wpad)
# pub is not running yet: start it in the background (plain up)
lab_m pub pub up -d "$(lab_dir pub)" -i "${LAB_NODE_IF[pub]}" \
	--hosts-file "$WORK/pub.hosts" --hosts-file-short >/dev/null || fail "pub: up failed"
lab_track pub || fail "pub: daemon not running after up"
TOK=$(lab_m pub pub invite -d "$(lab_dir pub)" --uses 1) || fail "invite failed"
lab_m px wpad join "$TOK" -d "$(lab_dir wpad)" --name wpad -i "${LAB_NODE_IF[wpad]}" \
	--hosts-file "$WORK/px.hosts" >/dev/null || fail "wpad: join failed"
lab_track wpad || fail "wpad: no daemon after join"
WPID=${LAB_NODE_PID[wpad]}
tr '\0' ' ' <"/proc/$WPID/cmdline" >"$WORK/cmdline"
info "wpad's cmdline: $(cat "$WORK/cmdline")"
# the token's longest base64url run (its secret is part of it)
SECRET=$(printf '%s' "$TOK" | tr -c 'A-Za-z0-9_-' '\n' | awk 'length > m { m = length; s = $0 } END { print s }')
[ "${#SECRET}" -ge 16 ] || fail "cannot find the token's body in '$TOK'"
if grep -qF -- "$SECRET" "$WORK/cmdline"; then
	fail "the invite token is still in /proc/$WPID/cmdline"
fi
pass "the token (${#TOK} characters) is not in /proc/$WPID/cmdline"

step "2. hosts files: FQDN only by default, bare names with --hosts-file-short"
# shellcheck disable=SC2317 # called through wait_for
both_named() {
	grep -Eq '[[:space:]]wpad\.corp([[:space:]]|$)' "$WORK/px.hosts" &&
		grep -Eq '[[:space:]]pub\.corp([[:space:]]|$)' "$WORK/px.hosts" &&
		grep -Eq '[[:space:]]wpad\.corp([[:space:]]|$)' "$WORK/pub.hosts"
}
wait_for 20 both_named || fail "hosts files lack the members: $(cat "$WORK/px.hosts" "$WORK/pub.hosts")"
if grep -Eq '[[:space:]](wpad|pub)([[:space:]]|$)' "$WORK/px.hosts"; then
	fail "default hosts block has bare names: $(cat "$WORK/px.hosts")"
fi
pass "wpad's hosts file: wpad.corp and pub.corp, no bare 'wpad' or 'pub'"
grep -Eq '[[:space:]]wpad\.corp[[:space:]]+wpad([[:space:]]|$)' "$WORK/pub.hosts" ||
	fail "--hosts-file-short: no bare 'wpad' in $(cat "$WORK/pub.hosts")"
pass "pub (--hosts-file-short) has the bare names as asked"

step "3. SIGHUP to a foreground run: clean stop"
lab_m px wpad down -d "$(lab_dir wpad)" >/dev/null || fail "wpad: down failed"
wait_for 10 lab_dead "$WPID" || fail "wpad did not stop after down"
! grep -q 'BEGIN meshd' "$WORK/px.hosts" || fail "down left the hosts block behind"
nx px env LOG_LEVEL=info "$MESHD" up -f -d "$(lab_dir wpad)" -i "${LAB_NODE_IF[wpad]}" \
	--hosts-file "$WORK/px.hosts" 2>>"$WORK/wpad.err" 9>&- &
FG=$!
PID_LIST+=("$FG")
SOCK_LIST+=("$WG_SOCK_DIR/${LAB_NODE_IF[wpad]}.sock")
# shellcheck disable=SC2317 # called through wait_for
fg_ready() { grep -q 'BEGIN meshd' "$WORK/px.hosts" && [ -e "$(lab_dir wpad)/meshd.pid" ]; }
wait_for 20 fg_ready || fail "foreground wpad: no hosts block or pid file"
FGPID=$(cat "$(lab_dir wpad)/meshd.pid")
kill -HUP "$FGPID"
wait_for 5 lab_dead "$FGPID" || fail "foreground wpad still running 5 s after SIGHUP"
rc=0
wait "$FG" || rc=$?
[ "$rc" = 0 ] || fail "foreground wpad exited $rc after SIGHUP"
! grep -q 'BEGIN meshd' "$WORK/px.hosts" || fail "SIGHUP left the hosts block behind: $(cat "$WORK/px.hosts")"
[ ! -e "$(lab_dir wpad)/meshd.pid" ] || fail "SIGHUP left the pid file behind"
grep -q 'shutting down (SIGHUP)' "$WORK/wpad.err" || fail "no 'shutting down (SIGHUP)' in the log"
pass "SIGHUP: exit 0, hosts block and pid file removed"
exit 0
