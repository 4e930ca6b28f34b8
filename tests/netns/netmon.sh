#!/bin/bash
# netmon.sh: the daemon reacts to network changes at once (issue 4, roaming).
#
#   ns $PFX-n: one meshd node (init + up, no peers), logs at info
#     e0 --veth-- e1 (ns $PFX-x, only so that e0 has a peer and is up)
#
# 1. An address added to e0 (IPv4, then IPv6): within 1 s the daemon logs
#    "network changed: rescanning" and `meshd status --json` lists it as a
#    local endpoint.
# 2. The address deleted: gone from the endpoints within 1 s.
# 3. A route added to the main table: exactly one coalesced rescan.
#    A route of ours (protocol 77) or a non-default one in another table: none.
# 4. Nothing changes for 3 s (and until the daemon has run past one periodic
#    10 s scan): no rescan is logged.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup nm 60 "$@"

command -v python3 >/dev/null 2>&1 || skip "'python3' not installed"
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

DIR="$WORK/n"
IF=$(ifname n)
LOG="$WORK/n.err"
MSG="network changed: rescanning"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

m() { nx n env LOG_LEVEL=info "$MESHD" "$@" 2>>"$LOG" 9>&-; }

# rescans: how many coalesced changes the daemon has logged so far.
rescans() { grep -c "$MSG" "$LOG" || true; }
more_rescans() { [ "$(rescans)" -gt "$1" ]; }

cat >"$WORK/ep.py" <<'PY'
import json, sys
j = json.load(sys.stdin)
for e in j["node"].get("endpoints", []):
    if e.get("source") == "local":
        print(e.get("addr", ""))
PY
# endpoints: the node's local endpoints, one "addr:port" per line.
endpoints() {
	m status -d "$DIR" --json 2>/dev/null | python3 "$WORK/ep.py" 2>/dev/null
}
has_ep() { endpoints | grep -qxF "$1"; }
no_ep() { ! has_ep "$1"; }

# within MS CMD...: poll CMD every 20 ms for up to MS; prints the time taken.
within() {
	local ms=$1 t0 t
	shift
	t0=$(now_ms)
	while :; do
		t=$(($(now_ms) - t0))
		if "$@"; then
			info "after ${t} ms"
			return 0
		fi
		[ "$t" -ge "$ms" ] && return 1
		sleep 0.02
	done
}

# quiet_for MS: wait until no rescan has been logged for MS ms (a burst,
# coalesced every NETMON_SETTLE_MS = 50 ms, is over), at most 5 s. A fixed
# sleep here raced a slow daemon on a loaded machine.
quiet_for() {
	local ms=$1 n c t_last end
	n=$(rescans)
	t_last=$(now_ms)
	end=$((t_last + 5000))
	while :; do
		sleep 0.05
		c=$(rescans)
		if [ "$c" != "$n" ]; then
			n=$c
			t_last=$(now_ms)
		fi
		[ $(($(now_ms) - t_last)) -ge "$ms" ] && return 0
		[ "$(now_ms)" -ge "$end" ] && fail "rescans still logged 5 s on ($n in all)"
	done
}

ns_add n
ns_add x
veth_add n e0 x e1

step "0. init + up (no peers)"
m init -d "$DIR" --name solo >/dev/null || fail "meshd init failed"
m up -d "$DIR" -i "$IF" >>"$WORK/n.out" || fail "meshd up failed"
PID=$(cat "$DIR/meshd.pid" 2>/dev/null) || fail "no $DIR/meshd.pid"
PID_LIST+=("$PID")
SOCK_LIST+=("$WG_SOCK_DIR/$IF.sock")
T_UP=$(now_ms)
PORT=$(m status -d "$DIR" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"]["listen_port"])') ||
	fail "no status"
info "interface $IF, UDP port $PORT, pid $PID"
quiet_for 300	# start-up events (our own TUN, if any) are over
n0=$(rescans)

step "1. address added: rescan logged and endpoint listed within 1 s"
ip -n "$(nsname n)" addr add 198.18.77.1/24 dev e0 || fail "addr add"
within 1000 more_rescans "$n0" || fail "no '$MSG' within 1 s of adding 198.18.77.1"
within 1000 has_ep "198.18.77.1:$PORT" ||
	fail "198.18.77.1:$PORT not a local endpoint within 1 s: $(endpoints | tr '\n' ' ')"
n1=$(rescans)
ip -n "$(nsname n)" -6 addr add 2001:db8:77::1/64 dev e0 nodad || fail "addr add v6"
within 1000 more_rescans "$n1" || fail "no '$MSG' within 1 s of adding 2001:db8:77::1"
within 1000 has_ep "[2001:db8:77::1]:$PORT" ||
	fail "[2001:db8:77::1]:$PORT not a local endpoint within 1 s: $(endpoints | tr '\n' ' ')"
pass "addresses announced: $(endpoints | tr '\n' ' ')"

step "2. address deleted: endpoint gone within 1 s"
n2=$(rescans)
ip -n "$(nsname n)" addr del 198.18.77.1/24 dev e0 || fail "addr del"
within 1000 no_ep "198.18.77.1:$PORT" || fail "198.18.77.1:$PORT still listed 1 s after deletion"
within 1000 more_rescans "$n2" || fail "no '$MSG' after deleting the address"
pass "address withdrawn"

step "3. route added to the main table: one coalesced rescan"
quiet_for 300	# the deletion's burst is over
n3=$(rescans)
# One ip process for both, so they really come together: two `ip` runs can
# be more than the 50 ms settle window apart on a loaded machine.
printf '%s\n' "route add 2001:db8:99::/64 via 2001:db8:77::2 dev e0" \
    "route add 203.0.113.0/24 dev e0" | ip -n "$(nsname n)" -batch - ||
	fail "route add (v6 and v4)"
within 1000 more_rescans "$n3" || fail "no '$MSG' within 1 s of adding routes"
quiet_for 500	# a second rescan for the same burst would come by now
c=$(($(rescans) - n3))
[ "$c" = 1 ] || fail "two routes added together gave $c rescans, want 1"
pass "one rescan for two routes"

step "3b. ignored: a route of ours (proto 77), a non-default route in table 100"
quiet_for 300
n3=$(rescans)
ip -n "$(nsname n)" route add 203.0.114.0/24 dev e0 proto 77 || fail "route add proto 77"
ip -n "$(nsname n)" route add 203.0.115.0/24 dev e0 table 100 || fail "route add table 100"
sleep 0.5	# an absence: nothing to wait for but time (10 settle periods)
c=$(($(rescans) - n3))
[ "$c" = 0 ] || fail "ignored routes gave $c rescans, want 0"
pass "no rescan"

step "4. nothing changes: no rescan for 3 s and over one periodic scan"
n4=$(rescans)
sleep 3
up=$(($(now_ms) - T_UP))
[ "$up" -lt 11000 ] && sleep "$(((11000 - up + 999) / 1000))"
c=$(($(rescans) - n4))
[ "$c" = 0 ] || fail "$c rescans logged while nothing changed"
kill -0 "$PID" 2>/dev/null || fail "daemon $PID exited"
pass "quiet: daemon up $(($(now_ms) - T_UP)) ms, $(rescans) rescans logged in all ($n0 at start-up)"
