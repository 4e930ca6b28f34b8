#!/bin/bash
# daemon_hard.sh: the daemon's own hygiene, in the lab of natlab.sh:
#
#   inet bridge: pub 198.51.100.10 (admin, inviter)
#                px  198.51.100.20 (node wpad, joins with the token in argv)
#
# 1. `meshd join TOKEN`: the daemon's /proc/PID/cmdline no longer holds the
#    token (nor its secret part). Before it, joins whose node could not
#    start (interface taken, TCP entry port taken) fail without using up
#    the one-use invite that join then uses.
# 2. --hosts-file: fully qualified names only; a member called "wpad" does
#    not get a bare "wpad" line. With --hosts-file-short the bare names are
#    there (opt-in).
# 3. SIGHUP to a foreground `up -f --hosts-file` stops it cleanly within 5 s:
#    the hosts block and the pid file are gone, exit status 0. Before it:
#    without a default route, UPnP discovery puts no raw miniupnpc
#    "sendto" lines on the daemon's stderr. A hosts file
#    that is a bind mount (a container's /etc/hosts) is written in place
#    and its block removed at down.
# 4. A join whose node fails to start afterwards (a route inside the overlay,
#    known only once joined) says the node is stored and `meshd up` starts it.
# 5. An `up --advertise-routes` whose start fails later (its TCP entry port
#    is taken) leaves the stored routes as they were: the next plain `up`
#    advertises the old list.
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

# Before the one-use invite goes to wpad: joins whose node could not start
# (its interface name served by pub's daemon, or held by the veth e0; its
# TCP entry port taken) are refused before the inviter is asked, so they
# write nothing and leave the invite unused for the join below.
# shellcheck disable=SC2317 # called through wait_for
held() { [ -e "$WORK/tcp_held" ]; }
nx px python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8443)); s.listen(1); open(sys.argv[1], "w").close(); time.sleep(60)' \
	"$WORK/tcp_held" &
HOLD=$!
PID_LIST+=("$HOLD")
wait_for 10 held || fail "the TCP port holder did not start"
for bad in "-i ${LAB_NODE_IF[pub]}|already served by a running daemon" \
	"-i e0|an interface of another type has that name" \
	"-i ${LAB_NODE_IF[wpad]} --tcp-port 8443|cannot listen on TCP port 8443: Address already in use"; do
	args=${bad%%|*}
	want=${bad#*|}
	: >"$WORK/pre.err"
	# shellcheck disable=SC2086 # args is a word list
	if nx px "$MESHD" join "$TOK" -d "$(lab_dir wpad)" --name wpad $args \
		>/dev/null 2>"$WORK/pre.err" 9>&-; then
		fail "join $args: succeeded"
	fi
	grep -q "$want.*; nothing was joined" "$WORK/pre.err" ||
		fail "join $args: want '$want; nothing was joined', got: $(cat "$WORK/pre.err")"
	[ ! -e "$(lab_dir wpad)" ] || fail "join $args: wrote $(lab_dir wpad)"
done
kill "$HOLD" 2>/dev/null
pass "3 joins that could not start refused before the inviter is asked, nothing written"

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
: >"$WORK/fg.err"
nx px env LOG_LEVEL=debug "$MESHD" up -f -d "$(lab_dir wpad)" -i "${LAB_NODE_IF[wpad]}" \
	--hosts-file "$WORK/px.hosts" 2>>"$WORK/fg.err" 9>&- &
FG=$!
PID_LIST+=("$FG")
SOCK_LIST+=("$WG_SOCK_DIR/${LAB_NODE_IF[wpad]}.sock")
# shellcheck disable=SC2317 # called through wait_for
fg_ready() { grep -q 'BEGIN meshd' "$WORK/px.hosts" && [ -e "$(lab_dir wpad)/meshd.pid" ]; }
wait_for 20 fg_ready || fail "foreground wpad: no hosts block or pid file"
# px has no default route, so no route for SSDP's multicast either: UPnP
# discovery says "no gateway" without miniupnpc's raw "sendto: Network is
# unreachable" lines on the daemon's stderr
# shellcheck disable=SC2317 # called through wait_for
upnp_tried() { grep -q 'port mapping: no upnp gateway' "$WORK/fg.err"; }
wait_for 20 upnp_tried || fail "foreground wpad: no UPnP discovery within 20 s"
! grep -q 'sendto' "$WORK/fg.err" ||
	fail "raw miniupnpc noise on stderr: $(grep -m 1 sendto "$WORK/fg.err")"
FGPID=$(cat "$(lab_dir wpad)/meshd.pid")
kill -HUP "$FGPID"
wait_for 5 lab_dead "$FGPID" || fail "foreground wpad still running 5 s after SIGHUP"
rc=0
wait "$FG" || rc=$?
[ "$rc" = 0 ] || fail "foreground wpad exited $rc after SIGHUP"
! grep -q 'BEGIN meshd' "$WORK/px.hosts" || fail "SIGHUP left the hosts block behind: $(cat "$WORK/px.hosts")"
[ ! -e "$(lab_dir wpad)/meshd.pid" ] || fail "SIGHUP left the pid file behind"
grep -q 'shutting down (SIGHUP)' "$WORK/fg.err" || fail "no 'shutting down (SIGHUP)' in the log"
cat "$WORK/fg.err" >>"$WORK/wpad.err"
pass "SIGHUP: exit 0, hosts block and pid file removed; no raw UPnP noise without a default route"

# A container's /etc/hosts is a bind mount: it cannot be renamed over
# (EBUSY), so the block is written in place, and removed at down.
command -v unshare >/dev/null 2>&1 || skip "'unshare' not installed"
printf '127.0.0.1 localhost\n' >"$WORK/bound.hosts"
printf 'mount point\n' >"$WORK/mnt.hosts"
nx px unshare -m --propagation private sh -c \
	'mount --bind "$1" "$2" && exec "$3" up -d "$4" -i "$5" --hosts-file="$2"' sh \
	"$WORK/bound.hosts" "$WORK/mnt.hosts" "$MESHD" "$(lab_dir wpad)" "${LAB_NODE_IF[wpad]}" \
	2>>"$WORK/wpad.err" 9>&- || fail "wpad: up with a bind-mounted hosts file failed"
lab_track wpad || fail "wpad: no daemon after up (bind-mounted hosts file)"
# shellcheck disable=SC2317 # called through wait_for
bound_named() { grep -Eq '[[:space:]]pub\.corp([[:space:]]|$)' "$WORK/bound.hosts"; }
wait_for 10 bound_named ||
	fail "bind-mounted hosts file not written: $(cat "$WORK/bound.hosts"); $(tail -n 3 "$WORK/wpad.err")"
grep -q '^127.0.0.1 localhost$' "$WORK/bound.hosts" || fail "bind-mounted hosts file lost its lines"
lab_m px wpad down -d "$(lab_dir wpad)" >/dev/null || fail "wpad: down failed"
! grep -q 'BEGIN meshd' "$WORK/bound.hosts" ||
	fail "down left the block in the bind-mounted hosts file: $(cat "$WORK/bound.hosts")"
[ "$(cat "$WORK/mnt.hosts")" = "mount point" ] || fail "the mount point's own file was changed"
pass "hosts file that is a mount point (a container's /etc/hosts): written in place, removed at down"

step "4. a join whose node then fails to start says the node is stored and how to start it"
# The overlay prefix is known only once joined: advertising a route inside
# it passes every check before the join and fails the start after it.
OV=$(lab_m pub pub status --json -d "$(lab_dir pub)" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["node"]["overlay_ipv4"])') ||
	fail "pub: no overlay address"
BAD=${OV%.*.*}.9.0/24
LAB_NODE_NS[late]=px
LAB_NODE_IF[late]=$(ifname late)
LAB_NODES+=(late)
TOK=$(lab_m pub pub invite -d "$(lab_dir pub)" --uses 1) || fail "invite failed"
: >"$WORK/late.out"
if nx px "$MESHD" join "$TOK" -d "$(lab_dir late)" --name late -i "${LAB_NODE_IF[late]}" \
	--advertise-routes "$BAD" >"$WORK/late.out" 2>"$WORK/late.err" 9>&-; then
	fail "join --advertise-routes $BAD (inside the overlay): succeeded"
fi
grep -q "^joined mesh 'corp' as 'late'" "$WORK/late.out" || fail "join: no 'joined' line"
grep -q "overlaps the mesh overlay prefix" "$WORK/late.err" ||
	fail "join: no reason given: $(cat "$WORK/late.err")"
grep -qF "the node has joined and is stored in $(lab_dir late); once that is fixed, 'meshd up -d $(lab_dir late)' starts it" \
	"$WORK/late.err" || fail "join: no hint that the node is stored: $(cat "$WORK/late.err")"
lab_m px late up -d "$(lab_dir late)" >/dev/null || fail "late: up after the failed start failed"
lab_track late || fail "late: no daemon after up"
pass "failed start after the join: reason, then where the node is and 'meshd up' starts it"

step "5. up --advertise-routes whose start fails later: the stored routes stay"
# late's advertised list, as its running daemon reports it
# shellcheck disable=SC2317 # called below
late_adv() {
	lab_m px late routes --json -d "$(lab_dir late)" | python3 -c 'import json, sys
for n in json.load(sys.stdin)["nodes"]:
    if n["name"] == "late":
        print(",".join(n["advertised"]))'
}
lab_m px late set -d "$(lab_dir late)" --advertise-routes 10.50.0.0/24 >/dev/null ||
	fail "late: set --advertise-routes failed"
[ "$(late_adv)" = 10.50.0.0/24 ] || fail "late advertises '$(late_adv)', want 10.50.0.0/24"
LPID=${LAB_NODE_PID[late]}
lab_m px late down -d "$(lab_dir late)" >/dev/null || fail "late: down failed"
wait_for 10 lab_dead "$LPID" || fail "late did not stop after down"
# (8444: step 1's holder of 8443 may still be there.) The holder writes
# its own pid, the one to kill (nx's pid is not python's).
rm -f "$WORK/tcp_held"
# (its shell's "Terminated" notice goes to hold5.err, with python's errors)
{ nx px python3 -c 'import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8444)); s.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(os.getpid())); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)' "$WORK/tcp_held"; } 2>"$WORK/hold5.err" &
BG=$!
PID_LIST+=("$BG")
wait_for 10 held || fail "the TCP port holder did not start: $(cat "$WORK/hold5.err")"
HOLD=$(cat "$WORK/tcp_held")
PID_LIST+=("$HOLD")
# the TCP entry starts after the node is opened: the routes were signed
# and stored by then before the fix
rc=0
nx px "$MESHD" up -d "$(lab_dir late)" -i "${LAB_NODE_IF[late]}" \
	--advertise-routes 10.60.0.0/24 --tcp-port 8444 >/dev/null 2>"$WORK/late5.err" 9>&- || rc=$?
kill "$HOLD" 2>/dev/null
wait "$BG" 2>/dev/null || :
[ "$rc" = 1 ] || fail "up --advertise-routes with port 8444 taken: exit $rc, want 1"
grep -q "cannot listen on TCP port 8444" "$WORK/late5.err" ||
	fail "up with port 8444 taken: $(cat "$WORK/late5.err")"
lab_m px late up -d "$(lab_dir late)" -i "${LAB_NODE_IF[late]}" >/dev/null ||
	fail "late: plain up after the failed one failed"
lab_track late || fail "late: no daemon after the plain up"
[ "$(late_adv)" = 10.50.0.0/24 ] ||
	fail "after a failed up --advertise-routes 10.60.0.0/24, late advertises '$(late_adv)'"
pass "a failed up --advertise-routes 10.60.0.0/24 left the stored 10.50.0.0/24"
exit 0
