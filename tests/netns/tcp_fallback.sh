#!/bin/bash
# tcp_fallback.sh: a member whose network starts blocking UDP falls back to
# a member's TCP entry, and returns to UDP when UDP works again (D17).
#
#   pub 198.51.100.10 (admin, `--tcp-port 443`), h2 behind rtr2 (cone NAT),
#   h3 behind rtr3 (cone NAT); natlab.sh draws the rest.
#
# 1. pub up with --tcp-port 443; n2 (h2) and n3 (h3) join; every pair direct.
# 2. A ping from n3 to n2 runs (every 0.1 s). rtr3 starts forwarding only
#    DNS (UDP 53) and TCP: everything else UDP is dropped both ways (what
#    hotel and guest networks do). n3 must reach both members again within
#    15 s (about 5 s here) over pub's TCP entry: n3 lists every peer with transport "tcp"
#    (pub direct, n2 relayed by pub), pub lists n3 direct over "tcp". The
#    ping gap is measured (the roam gap), the time to reach the mesh too.
# 3. 10 MB from n3 to n2 over the fallback (TCP to pub, relayed on to n2),
#    and 10 MB from n3 to pub (the connection alone) arrive intact (sha256);
#    throughput measured. During the second, h2 abuses pub's entry (junk,
#    an absurd length, a silent client, 1000 connection attempts): the
#    transfer completes and n3 keeps its connection.
# 4. rtr3 forwards UDP again: n3 is back on UDP (every peer "udp", direct)
#    within 30 s; measured.
# 5. n3 roams mid-ping from rtr3 to rtr4, which drops all UDP but DNS from
#    the start: over TCP again, the ping gap (the roam gap) measured.
# 6. A new machine h5 joins from behind rtr5, which blocks UDP but DNS from
#    the start: `meshd join` gets no UDP answer and joins through the TCP
#    entry its token names; n5 then reaches every member (n2 and n3 relayed
#    by pub) over TCP within 5 s of the join (measured). n5 leaves again.
# 7. n2 leaves (down, revoked): only the entry and n3 remain. rtr4 forwards
#    UDP again: n3 is back on UDP within 30 s (its retry rounds send the
#    first probe to the entry over UDP).
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup tf 300 "$@"
# shellcheck source=tests/netns/natlab.sh
. "$(dirname "$0")/natlab.sh"

for t in python3 ping nft nc sha256sum; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

diag_dump() {
	local n
	set +e
	for n in "${LAB_NODES[@]}"; do
		lab_logs "$n" 25
		timeout 3 ip netns exec "$(nsname "${LAB_NODE_NS[$n]}")" "$MESHD" status \
			-d "$(lab_dir "$n")" 2>&1 | sed 's/^/    st| /'
	done
}

# transports NODE: "name:path:transport ..." of NODE's peers, sorted
transports() {
	lab_st "$1"
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join(sorted("%s:%s:%s" % (p["name"], p["path"], p["transport"]) for p in j["peers"])))' \
		"$WORK/st/$1.json" 2>/dev/null
}
want() { [ "$(transports "$1")" = "$2" ]; }
# block_udp N: rtrN forwards no UDP but DNS, either way (a hotel network)
block_udp() {
	nx "rtr$1" nft -f - <<'EOF'
table inet udpblock {
	chain filt {
		type filter hook forward priority -10; policy accept;
		meta l4proto udp udp dport 53 accept
		meta l4proto udp udp sport 53 accept
		meta l4proto udp drop
	}
}
EOF
}

step "topology: pub, rtr2 + h2, rtr3 + h3, rtr4 and rtr5 + h5 (block UDP but DNS)"
lab_inet
lab_router 2 cone
lab_router 3 cone
lab_router 4 cone
lab_host h2 2
lab_host h3 3
lab_router 5 cone
lab_host h5 5
block_udp 4 || fail "block UDP at rtr4"
block_udp 5 || fail "block UDP at rtr5"

step "1. pub up with --tcp-port 443; n2 and n3 join; all pairs direct"
lab_pub_init
lab_m pub pub set -d "$(lab_dir pub)" --tcp-port 443 >/dev/null || fail "pub: set --tcp-port 443"
lab_join h2 n2 || fail "n2 join"
lab_join h3 n3 || fail "n3 join"
lab_wait 30000 want n3 "n2:direct:udp pub:direct:udp" ||
	fail "n3 not direct to both over UDP: $(transports n3)"
lab_wait 30000 want n2 "n3:direct:udp pub:direct:udp" || fail "n2: $(transports n2)"
OV_N2=$(lab_ov4 n2) || fail "no overlay address for n2"
OV_PUB=$(lab_ov4 pub) || fail "no overlay address for pub"
lab_ping h3 "$OV_N2" || fail "n3 cannot ping n2 over UDP"
pass "3 members, all direct over UDP"

step "2. rtr3 blocks UDP (DNS excepted): n3 falls back to pub's TCP entry"
bg ping3 nx h3 ping -n -i 0.1 -W 1 "$OV_N2"
PING_PID=$BG_PID
wait_for 10 ping_replies "$WORK/ping3.out" 10 || fail "the background ping does not run"
T_BLOCK=$(lab_now_ms)
block_udp 3 || fail "block UDP at rtr3"
LAB_T0=$T_BLOCK
lab_wait 15000 want n3 "n2:relay:tcp pub:direct:tcp" ||
	fail "n3 not over TCP within 15 s: $(transports n3)"
REACH_MS=$WAIT_MS
lab_wait 10000 lab_ping h3 "$OV_N2" || fail "n3 cannot ping n2 over the fallback"
PING_OK_MS=$WAIT_MS
lab_wait 5000 lab_ping h3 "$OV_PUB" || fail "n3 cannot ping pub over the fallback"
unset LAB_T0
[ "$(lab_q peer "$WORK/st/n3.json" pub endpoint)" = "$LAB_PUB:51820" ] ||
	info "n3 reaches pub at $(lab_q peer "$WORK/st/n3.json" pub endpoint)"
lab_wait 5000 want pub "n2:direct:udp n3:direct:tcp" || fail "pub: $(transports pub)"
NREP0=$(grep -c 'bytes from' "$WORK/ping3.out" || true)
wait_for 5 ping_replies "$WORK/ping3.out" $((NREP0 + 5)) || fail "the background ping stopped"
kill "$PING_PID" 2>/dev/null || true
read -r GAP NREP _ <<<"$(lab_q gap "$WORK/ping3.out")"
GAP_MS=$((GAP * 100))
info "fallback: all peers over TCP $(lab_secs "$REACH_MS") s after the block; first ping to n2 at $(lab_secs "$PING_OK_MS") s; ping gap ${GAP_MS} ms ($GAP pings of 0.1 s lost, $NREP replies)"
grep -h "tcp fallback" "$WORK/n3.err" | sed 's/^/       n3| /' | head -n 6
pass "n3 reaches the mesh through pub's TCP entry"

step "3. 10 MB from n3 to n2 over the fallback"
head -c 10485760 /dev/urandom >"$WORK/blob"
SUM=$(sha256sum <"$WORK/blob" | cut -d' ' -f1)
bg recv nx h2 sh -c "nc -l -p 5001 > '$WORK/blob.recv'"
RECV_PID=$BG_PID
wait_for 5 sh -c "ip netns exec '$(nsname h2)' ss -Hltn 'sport = :5001' | grep -q LISTEN" ||
	fail "nc does not listen on n2"
T=$(lab_now_ms)
nx h3 timeout 120 nc -N "$OV_N2" 5001 <"$WORK/blob" || fail "sending 10 MB failed"
wait_for 20 sh -c "! kill -0 $RECV_PID 2>/dev/null" || fail "the receiver did not finish"
EL=$(($(lab_now_ms) - T))
GOT=$(sha256sum <"$WORK/blob.recv" | cut -d' ' -f1)
[ "$GOT" = "$SUM" ] || fail "10 MB corrupted: $(stat -c %s "$WORK/blob.recv") bytes, sha256 $GOT"
MBIT=$(awk -v ms="$EL" 'BEGIN { printf "%.1f", 10485760 * 8 / (ms / 1000) / 1e6 }')
want n3 "n2:relay:tcp pub:direct:tcp" || fail "n3 left the fallback during the transfer: $(transports n3)"
pass "10 MB intact (sha256) in $(lab_secs "$EL") s: $MBIT Mbit/s over the TCP fallback"

# the same to pub itself: the TCP connection alone, no relay hop (the
# relay's per-source budget, MESH_RELAY_SRC_PPS, bounds the relayed run)
bg recv2 nx pub sh -c "nc -l -p 5002 > '$WORK/blob.recv2'"
RECV2_PID=$BG_PID
wait_for 5 sh -c "ip netns exec '$(nsname pub)' ss -Hltn 'sport = :5002' | grep -q LISTEN" ||
	fail "nc does not listen on pub"
# meanwhile h2 abuses pub's TCP entry: junk, an absurd length, a silent
# client, 1000 connection attempts (4 are held per address)
cat >"$WORK/abuse.py" <<'PYEOF'
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
held, refused = [], 0
def conn():
    return socket.create_connection((host, port), timeout=1)
try:
    s = conn(); s.recv(64); s.sendall(b"\xde\xad" * 500); held.append(s)
    s = conn(); s.recv(64); s.sendall(b"\xff\xff" + bytes(64)); held.append(s)
    s = conn(); held.append(s)
except OSError:
    pass
for i in range(1000):
    try:
        held.append(conn())
    except OSError:
        refused += 1
time.sleep(0.5)
alive = 0
for s in held:
    s.settimeout(0.05)
    try:
        d = s.recv(64)
        alive += 1 if d else 0
    except socket.timeout:
        alive += 1
    except OSError:
        pass
print("abuse: %d connections made, %d failed, %d still open" % (len(held), refused, alive))
PYEOF
bg abuse nx h2 python3 "$WORK/abuse.py" "$LAB_PUB" 443
ABUSE_PID=$BG_PID
T=$(lab_now_ms)
nx h3 timeout 120 nc -N "$OV_PUB" 5002 <"$WORK/blob" || fail "sending 10 MB to pub failed"
wait_for 20 sh -c "! kill -0 $RECV2_PID 2>/dev/null" || fail "pub's receiver did not finish"
EL2=$(($(lab_now_ms) - T))
GOT=$(sha256sum <"$WORK/blob.recv2" | cut -d' ' -f1)
[ "$GOT" = "$SUM" ] || fail "10 MB to pub corrupted"
MBIT2=$(awk -v ms="$EL2" 'BEGIN { printf "%.1f", 10485760 * 8 / (ms / 1000) / 1e6 }')
ABUSING=no
kill -0 "$ABUSE_PID" 2>/dev/null && ABUSING=yes
wait_for 30 sh -c "! kill -0 $ABUSE_PID 2>/dev/null" || fail "the abuser did not finish"
info "$(cat "$WORK/abuse.out") (still running when the transfer ended: $ABUSING)"
pass "10 MB to the entry itself intact in $(lab_secs "$EL2") s: $MBIT2 Mbit/s, while h2 abused the entry"
want n3 "n2:relay:tcp pub:direct:tcp" || fail "n3 lost the fallback during the abuse: $(transports n3)"

step "4. rtr3 forwards UDP again: n3 back on UDP within 30 s"
T_OPEN=$(lab_now_ms)
nx rtr3 nft delete table inet udpblock || fail "unblock"
LAB_T0=$T_OPEN
lab_wait 30000 want n3 "n2:direct:udp pub:direct:udp" ||
	fail "n3 not back on UDP within 30 s: $(transports n3)"
BACK_MS=$WAIT_MS
unset LAB_T0
lab_ping h3 "$OV_N2" || fail "n3 cannot ping n2 after the return to UDP"
lab_wait 10000 want pub "n2:direct:udp n3:direct:udp" || fail "pub still: $(transports pub)"
pass "back on UDP $(lab_secs "$BACK_MS") s after UDP was allowed again"
step "5. n3 roams (mid-ping) into a network that blocks UDP: h3 moves to rtr4"
bg ping3b nx h3 ping -n -i 0.1 -W 1 "$OV_N2"
PING_PID=$BG_PID
wait_for 10 ping_replies "$WORK/ping3b.out" 10 || fail "the background ping does not run"
T_ROAM=$(lab_now_ms)
lab_roam h3 3 4 || fail "roam h3 to rtr4"
LAB_T0=$T_ROAM
lab_wait 20000 want n3 "n2:relay:tcp pub:direct:tcp" ||
	fail "n3 not over TCP within 20 s of the roam: $(transports n3)"
ROAM_REACH_MS=$WAIT_MS
lab_wait 10000 lab_ping h3 "$OV_N2" || fail "n3 cannot ping n2 after the roam"
unset LAB_T0
NREP0=$(grep -c 'bytes from' "$WORK/ping3b.out" || true)
wait_for 5 ping_replies "$WORK/ping3b.out" $((NREP0 + 5)) || fail "the background ping stopped"
kill "$PING_PID" 2>/dev/null || true
read -r RGAP RNREP _ <<<"$(lab_q gap "$WORK/ping3b.out")"
ROAM_GAP_MS=$((RGAP * 100))
pass "after the roam: all peers over TCP in $(lab_secs "$ROAM_REACH_MS") s; ping gap ${ROAM_GAP_MS} ms ($RNREP replies)"
step "6. n5 joins from behind rtr5, which has blocked UDP (DNS excepted) from the start"
T_J5=$(lab_now_ms)
lab_join h5 n5 || fail "n5 could not join through the TCP entry: $(tail -n 3 "$WORK/n5.err" 2>/dev/null)"
J5_MS=$JOIN_MS
grep -q "TCP entry $LAB_PUB:443" "$WORK/n5.err" || fail "n5's join did not say it used the TCP entry"
LAB_T0=$JOIN_END
lab_wait 5000 want n5 "n2:relay:tcp n3:relay:tcp pub:direct:tcp" ||
	fail "n5 not over TCP to every member within 5 s of the join: $(transports n5)"
J5_REACH_MS=$WAIT_MS
unset LAB_T0
lab_wait 10000 lab_ping h5 "$OV_N2" || fail "n5 cannot ping n2 (behind rtr2) through the entry"
OV_N3=$(lab_ov4 n3) || fail "no overlay address for n3"
lab_wait 10000 lab_ping h5 "$OV_N3" || fail "n5 cannot ping n3 (behind rtr4) through the entry"
pass "n5 joined over TCP in $(lab_secs "$J5_MS") s; every member over TCP $(lab_secs "$J5_REACH_MS") s later"
lab_stop n5
lab_wait 15000 want n3 "n2:relay:tcp pub:direct:tcp" || fail "n3 still lists n5: $(transports n3)"

step "7. only the entry and n3 left: rtr4 forwards UDP again, n3 back on UDP within 30 s"
lab_stop n2
lab_wait 15000 want n3 "pub:direct:tcp" || fail "n3 after n2 left: $(transports n3)"
T_OPEN2=$(lab_now_ms)
nx rtr4 nft delete table inet udpblock || fail "unblock rtr4"
LAB_T0=$T_OPEN2
lab_wait 30000 want n3 "pub:direct:udp" ||
	fail "n3 (alone with the entry) not back on UDP within 30 s: $(transports n3)"
BACK2_MS=$WAIT_MS
unset LAB_T0
lab_ping h3 "$OV_PUB" || fail "n3 cannot ping pub after the return to UDP"
lab_wait 10000 want pub "n3:direct:udp" || fail "pub still: $(transports pub)"
pass "alone with the entry: back on UDP $(lab_secs "$BACK2_MS") s after UDP was allowed again"
echo "RESULT tcp_fallback reach_s=$(lab_secs "$REACH_MS") first_ping_s=$(lab_secs "$PING_OK_MS") gap_ms=$GAP_MS mbit_relayed=$MBIT mbit_entry=$MBIT2 back_s=$(lab_secs "$BACK_MS") roam_reach_s=$(lab_secs "$ROAM_REACH_MS") roam_gap_ms=$ROAM_GAP_MS join_tcp_s=$(lab_secs "$J5_MS") join_reach_s=$(lab_secs "$J5_REACH_MS") back_alone_s=$(lab_secs "$BACK2_MS")"
