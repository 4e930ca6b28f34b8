#!/bin/bash
# nat_paths.sh: paths between meshd members behind NATs (issue 4), in the lab
# of natlab.sh:
#
#   inet bridge: pub 198.51.100.10 (admin, inviter)
#     rtr1 .1 cone      LAN 10.1.0.0/24: h1, h5 (roams to rtr2), h7 (scenario d)
#     rtr2 .2 cone      LAN 10.2.0.0/24: h2, h8 (scenario d)
#     rtr3 .3 cone      LAN 10.3.0.0/24: h3, h4 (same NAT, no hairpin rule)
#     rtr5 .5 symmetric (masquerade fully-random) LAN 10.5.0.0/24: h6
#   Routers drop unsolicited packets from the WAN (input and forward).
#
# Scenarios (each prints its measured time):
#  (a) cone<->cone: from the second join returning until both members list
#      each other "direct" at the other router's WAN address; overlay ping.
#      3 runs with fresh nodes and fresh NAT state (rtr1/rtr2 conntrack
#      flushed before each run), median printed. The issue's target is 2 s:
#      PASS/MISS is printed against 2 s, but the test only FAILS above 10 s
#      (NAT_A_MAX_MS), so the suite stays meaningful while hole punching
#      matures.
#  (b) same NAT: h3 and h4 end "direct" on their LAN addresses (10.3.x).
#  (c) router reboot: rtr1's ruleset and conntrack flushed while the pair of
#      (a) is direct; time until an overlay ping gets through again (<= 30 s).
#  (d) 5 % loss on rtr1's WAN (both ways) during the joins of h7 and h8:
#      they still end direct with each other (<= 30 s).
#  (e) roaming: h5 pings pub's overlay address at 10 Hz while its uplink
#      moves from rtr1 to rtr2; longest gap = missing seqs x 100 ms. Target
#      1 s (PASS/MISS), fails above 10 s.
#  (f) symmetric<->cone: h6 (rtr5) and h1 (rtr1): reports path and time only
#      (relay is not implemented yet): SKIP when no path came up; fails only
#      when the status claims a path (direct/relay) that carries no ping.
# Every scenario runs even when an earlier one failed; the exit status is 1
# when any failed. NAT_SCEN="a b c" runs a subset; LAB_LOG_LEVEL=debug and
# NAT_LOG_DIR=DIR keep detailed node logs.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup np 300 "$@"
# shellcheck source=tests/netns/natlab.sh
. "$(dirname "$0")/natlab.sh"

for t in nft python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

: "${NAT_SCEN:=a b c d e f}"
: "${NAT_A_RUNS:=3}"
: "${NAT_A_MAX_MS:=10000}"
TARGET_MS=2000
RESULTS=()
FAILED=0

# result LETTER STATUS TEXT
result() {
	RESULTS+=("($1) $2: $3")
	case $2 in
	FAIL) printf '[FAIL] (%s) %s\n' "$1" "$3"; FAILED=1 ;;
	SKIP) printf '[SKIP] (%s) %s\n' "$1" "$3" ;;
	*) printf '[PASS] (%s) %s %s\n' "$1" "$2" "$3" ;;
	esac
}
# target MS LIMIT_MS: PASS or MISS against the issue's target
target() { if [ "$1" -le "$2" ]; then echo PASS; else echo MISS; fi; }
want() { case " $NAT_SCEN " in *" $1 "*) return 0 ;; esac; return 1; }

# diag_dump (lib.sh's fail): logs of every node.
diag_dump() {
	local n
	set +e
	for n in "${LAB_NODES[@]}"; do
		lab_logs "$n" 20
	done
	set -e
}

R1=198.51.100.1
R2=198.51.100.2

step "lab: inet + pub, rtr1/2/3 cone, rtr5 symmetric, hosts"
lab_inet
for r in 1 2 3; do lab_router "$r" cone; done
lab_router 5 symmetric
lab_host h1 1
lab_host h2 2
lab_host h3 3
lab_host h4 3
lab_host h5 1
lab_host h6 5
lab_host h7 1
lab_host h8 2
lab_pub_init
PUB4=$(lab_ov4 pub)
[ -n "$PUB4" ] || fail "pub: no overlay address"
info "pub overlay $PUB4; setup $(($(date +%s) - T0)) s"

# --- (a) cone <-> cone ---------------------------------------------------------

A_LAST1='' A_LAST2=''
if want a; then
	step "(a) cone<->cone: h1 (rtr1) and h2 (rtr2), $NAT_A_RUNS runs"
	times=()
	afail=
	for run in $(seq 1 "$NAT_A_RUNS"); do
		n1="a1r$run" n2="a2r$run"
		[ -n "$A_LAST1" ] && { lab_stop "$A_LAST1"; lab_stop "$A_LAST2"; }
		# Fresh NAT state too: the previous run's mappings (assured
		# conntrack entries live 120 s) would open the holes in advance.
		lab_ct_flush 1 || fail "conntrack flush in rtr1"
		lab_ct_flush 2 || fail "conntrack flush in rtr2"
		if ! lab_join h1 "$n1" || ! lab_join h2 "$n2"; then
			afail="run $run: join failed"
			break
		fi
		A_LAST1=$n1 A_LAST2=$n2
		info "run $run: join of $n2 took $(lab_secs "$JOIN_MS") s"
		LAB_T0=$JOIN_END
		if lab_wait "$NAT_A_MAX_MS" lab_pair "$n1" "$n2" "$R2" "$R1"; then
			unset LAB_T0
			times+=("$WAIT_MS")
			info "run $run: direct both ways after $(lab_secs "$WAIT_MS") s ($LAB_WHY)"
			a=$(lab_ov4 "$n2")
			b=$(lab_ov4 "$n1")
			if ! lab_wait 3000 lab_ping h1 "$a" || ! lab_wait 3000 lab_ping h2 "$b"; then
				afail="run $run: direct, but no overlay ping h1 <-> h2 ($b <-> $a)"
				break
			fi
		else
			unset LAB_T0
			afail="run $run: not direct after $(lab_secs "$WAIT_MS") s: $LAB_WHY"
			info "h1->h2: $(lab_path "$n1" "$n2"); h2->h1: $(lab_path "$n2" "$n1")"
			lab_logs "$n1"
			lab_logs "$n2"
			break
		fi
	done
	if [ -n "$afail" ]; then
		result a FAIL "$afail"
	else
		med=$(lab_median "${times[@]}")
		all=$(for t in "${times[@]}"; do printf '%s ' "$(lab_secs "$t")"; done)
		result a "$(target "$med" "$TARGET_MS")" "median $(lab_secs "$med") s (runs: ${all}s; target 2 s, fail > $((NAT_A_MAX_MS / 1000)) s)"
	fi
fi

# --- (b) same NAT ------------------------------------------------------------------

if want b; then
	step "(b) same NAT: h3 and h4 behind rtr3, no hairpin"
	if lab_join h3 b3 && lab_join h4 b4; then
		LAB_T0=$JOIN_END
		if lab_wait 10000 lab_pair b3 b4 10.3.0. 10.3.0.; then
			unset LAB_T0
			ms=$WAIT_MS
			if lab_wait 3000 lab_ping h3 "$(lab_ov4 b4)"; then
				result b "$(target "$ms" "$TARGET_MS")" "direct on the LAN after $(lab_secs "$ms") s ($(lab_path b3 b4 | cut -d' ' -f2) / $(lab_path b4 b3 | cut -d' ' -f2)); overlay ping ok"
			else
				result b FAIL "direct on the LAN, but no overlay ping"
			fi
		else
			unset LAB_T0
			result b FAIL "not direct on the LAN after $(lab_secs "$WAIT_MS") s: $LAB_WHY; b4 in b3: $(lab_path b3 b4); b3 in b4: $(lab_path b4 b3)"
			lab_logs b3
			lab_logs b4
		fi
	else
		result b FAIL "join failed"
	fi
	lab_stop b3
	lab_stop b4
fi

# --- (c) router reboot ----------------------------------------------------------------

# c_poll T0: one round of pings for the directions not yet restored; sets
# C_PUB / C_IN / C_OUT (ms after T0) when a direction works.
# shellcheck disable=SC2317 # called through lab_wait
c_poll() {
	local t0=$1
	if [ -z "$C_PUB" ] && lab_ping pub "$C_H1"; then C_PUB=$(($(lab_now_ms) - t0)); fi
	if [ "$C_PAIR" = 1 ]; then
		# Inward first (h2 -> h1: rtr1 forgot the mapping; only h1's own
		# keepalive or punch reopens it), then outward.
		if [ -z "$C_IN" ] && lab_ping h2 "$C_H1"; then C_IN=$(($(lab_now_ms) - t0)); fi
		if [ -n "$C_IN" ] && [ -z "$C_OUT" ] && lab_ping h1 "$C_H2"; then
			C_OUT=$(($(lab_now_ms) - t0))
		fi
		[ -n "$C_PUB" ] && [ -n "$C_OUT" ]
	else
		[ -n "$C_PUB" ]
	fi
}
ms_or_dash() { if [ -n "$1" ]; then lab_secs "$1"; else printf -- '-'; fi; }

if want c; then
	step "(c) rtr1 reboots (ruleset + conntrack flushed) while h1 <-> h2 are direct"
	if [ -z "$A_LAST1" ]; then
		lab_join h1 c1 >/dev/null && lab_join h2 c2 >/dev/null
		A_LAST1=c1 A_LAST2=c2
	fi
	C_PAIR=0 C_PUB='' C_IN='' C_OUT=''
	C_H1=$(lab_ov4 "$A_LAST1")
	C_H2=$(lab_ov4 "$A_LAST2")
	if lab_wait 10000 lab_pair "$A_LAST1" "$A_LAST2" "$R2" "$R1"; then
		C_PAIR=1
	else
		info "precondition missing: h1 <-> h2 not direct ($LAB_WHY); measuring pub -> h1 only"
	fi
	lab_wait 3000 lab_ping pub "$C_H1" || true
	[ "$C_PAIR" = 1 ] && { lab_wait 3000 lab_ping h2 "$C_H1" || true; }
	before=$(lab_ct_count 1)
	t=$(lab_now_ms)
	if ! lab_reboot_router 1; then
		result c FAIL "could not flush rtr1"
	else
		info "rtr1: $before conntrack entries before, $(lab_ct_count 1) right after the flush"
		lab_wait 30000 c_poll "$t" || true
		txt="pub->h1 $(ms_or_dash "$C_PUB") s, h2->h1 $(ms_or_dash "$C_IN") s, h1->h2 $(ms_or_dash "$C_OUT") s after the reboot (fail > 30 s)"
		if [ "$C_PAIR" = 0 ]; then
			result c FAIL "precondition: h1 <-> h2 never direct; $txt"
		elif [ -n "$C_OUT" ] && [ -n "$C_PUB" ]; then
			result c PASS "overlay pings again: $txt; path then: $(lab_path "$A_LAST1" "$A_LAST2")"
		else
			result c FAIL "overlay not restored: $txt; path: $(lab_path "$A_LAST1" "$A_LAST2")"
			lab_logs "$A_LAST1"
			lab_logs "$A_LAST2"
		fi
	fi
fi

# --- (d) 5 % loss ------------------------------------------------------------------------

if want d; then
	step "(d) 5 % loss on rtr1's WAN during the joins of h7 (rtr1) and h8 (rtr2)"
	lab_loss 1 5 || fail "loss rule on rtr1"
	if lab_join h7 d7 && lab_join h8 d8; then
		LAB_T0=$JOIN_END
		if lab_wait 30000 lab_pair d7 d8 "$R2" "$R1"; then
			unset LAB_T0
			result d PASS "converged (direct both ways) $(lab_secs "$WAIT_MS") s after the joins, $(lab_loss_count 1) packets dropped on rtr1 (fail > 30 s)"
		else
			unset LAB_T0
			result d FAIL "not direct 30 s after the joins ($(lab_loss_count 1) packets dropped): $LAB_WHY"
			lab_logs d7
			lab_logs d8
		fi
	else
		result d FAIL "join failed under 5 % loss (join of d8 or d7)"
	fi
	lab_loss 1 0
	lab_stop d7
	lab_stop d8
fi

# --- (e) roaming ---------------------------------------------------------------------------

if want e; then
	step "(e) roaming: h5 pings pub at 10 Hz, its uplink moves rtr1 -> rtr2"
	if lab_join h5 e5 && lab_wait 5000 lab_ping h5 "$PUB4"; then
		bg ping5 ip netns exec "$(nsname h5)" ping -n -i 0.1 -W 1 -w 9 "$PUB4"
		PING_PID=$BG_PID
		sleep 3
		t=$(lab_now_ms)
		if lab_roam h5 1 2; then
			info "h5 moved to rtr2 (10.2.0.15) in $(lab_secs $(($(lab_now_ms) - t))) s"
			wait "$PING_PID" 2>/dev/null || true
			read -r miss got last < <(lab_q gap "$WORK/ping5.out")
			gap=$((miss * 100))
			info "ping: $got replies, last icmp_seq $last, longest hole $miss seqs; pub sees h5 at $(lab_path pub e5 | cut -d' ' -f2)"
			if [ "$got" -le 0 ] || [ "$last" -lt 80 ]; then
				result e FAIL "no replies after the move (last icmp_seq $last of ~90): $(tail -n 2 "$WORK/ping5.out" | tr '\n' ' ')"
				lab_logs e5
				lab_logs pub 10
			elif [ "$gap" -gt 10000 ]; then
				result e FAIL "gap $(lab_secs "$gap") s > 10 s"
			else
				result e "$(target "$gap" 1000)" "longest gap $(lab_secs "$gap") s ($miss x 100 ms; target 1 s, fail > 10 s)"
			fi
		else
			result e FAIL "lab_roam failed"
		fi
	else
		result e FAIL "h5 join or first ping to pub failed"
	fi
fi

# --- (f) symmetric <-> cone -----------------------------------------------------------------

# reach NAME: f6 lists NAME with a working path (direct or relay).
# shellcheck disable=SC2317 # called through lab_wait
reach() {
	local p
	p=$(lab_path f6 "$1" | cut -d' ' -f1)
	[ "$p" = direct ] || [ "$p" = relay ]
}
# shellcheck disable=SC2317 # called through lab_wait
reach_all() { reach pub && reach "$f1" && [ "$(lab_path "$f1" f6 | cut -d' ' -f1)" != none ]; }

if want f; then
	step "(f) symmetric<->cone: h6 (rtr5 fully-random) and h1 (rtr1): report only"
	f1=${A_LAST1:-}
	if [ -z "$f1" ]; then
		lab_join h1 f1 >/dev/null && f1=f1
	fi
	if [ -n "$f1" ] && lab_join h6 f6; then
		LAB_T0=$JOIN_END
		if lab_wait 8000 reach_all; then
			unset LAB_T0
			ms=$WAIT_MS
			info "f6 -> $f1: $(lab_path f6 "$f1"); $f1 -> f6: $(lab_path "$f1" f6)"
			# A path the status calls working must carry traffic.
			if lab_wait 3000 lab_ping h6 "$(lab_ov4 "$f1")"; then
				result f "$(target "$ms" "$TARGET_MS")" "h6 reaches pub and h1 after $(lab_secs "$ms") s: $(lab_path f6 "$f1"); overlay ping ok"
			else
				result f FAIL "status says h6 -> h1 $(lab_path f6 "$f1") after $(lab_secs "$ms") s, but no overlay ping"
				lab_logs f6
				lab_logs "$f1"
			fi
		else
			unset LAB_T0
			info "after 8 s: f6 -> pub: $(lab_path f6 pub); f6 -> $f1: $(lab_path f6 "$f1"); $f1 -> f6: $(lab_path "$f1" f6)"
			result f SKIP "h6 (symmetric) <-> h1 (cone): no path after 8 s (relay not implemented yet): $(lab_path f6 "$f1")"
		fi
	else
		result f SKIP "join of h6 failed"
	fi
fi

step "summary ($(($(date +%s) - T0)) s)"
# NAT_LOG_DIR=DIR: keep every node's log (and last status) there.
if [ -n "${NAT_LOG_DIR:-}" ]; then
	mkdir -p "$NAT_LOG_DIR"
	cp "$WORK"/*.err "$WORK"/st/*.json "$NAT_LOG_DIR"/ 2>/dev/null || true
	info "node logs copied to $NAT_LOG_DIR"
fi
for r in "${RESULTS[@]}"; do
	printf '[SUMMARY] %s\n' "$r"
done
[ "$FAILED" = 0 ] || { diag_dump >/dev/null 2>&1; exit 1; }
exit 0
