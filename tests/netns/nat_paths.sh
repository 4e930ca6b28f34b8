#!/bin/bash
# nat_paths.sh: paths between meshd members behind NATs (issue 4), in the lab
# of natlab.sh:
#
#   inet bridge: pub 198.51.100.10 (admin, inviter)
#     rtr1 .1 cone      LAN 10.1.0.0/24: h1, h5 (roams to rtr2 and back), h9 (d)
#     rtr2 .2 cone      LAN 10.2.0.0/24: h2, h10 (d)
#     rtr3 .3 cone      LAN 10.3.0.0/24: h3, h4 (same NAT, no hairpin rule)
#     rtr4 .4 cone + miniupnpd (NAT-PMP only) LAN 10.4.0.0/24: h11 (h)
#     rtr5 .5 symmetric (masquerade fully-random) LAN 10.5.0.0/24: h6
#     rtr8 .8 cone      LAN 10.8.0.0/24: rtr7 (WAN 10.8.0.107, cone)
#                                          LAN 10.7.0.0/24: h7 (double NAT)
#   Routers drop unsolicited packets from the WAN (input and forward).
#
# Scenarios (each prints its measured time; the issue's targets are printed
# as PASS/MISS, a scenario FAILS only at its generous bound, so the suite
# stays meaningful while the NAT code matures; medians of several runs):
#  (a) cone<->cone: from the second join returning until both members list
#      each other "direct" at the other router's WAN address; then the time
#      from the join until overlay pings pass both ways (same target; fails
#      when they do not pass within 10 s of the test seeing "direct").
#      NAT_A_RUNS (5) runs with fresh nodes and fresh NAT state (rtr1/rtr2
#      conntrack flushed before each run), median. Target 2 s, fails above
#      10 s (NAT_A_MAX_MS).
#  (b) same NAT: h3 and h4 end "direct" on their LAN addresses (10.3.x).
#  (c) router reboot: rtr1's ruleset and conntrack flushed while the pair of
#      (a) is direct; time until an overlay ping gets through again (<= 30 s).
#  (d) 5 % loss on rtr1's WAN (both ways) during the joins of h9 (rtr1) and
#      h10 (rtr2): they still end direct with each other; 3 runs (fresh
#      nodes, conntrack flushed), median time to direct; fails above 30 s.
#  (e) roaming: h5 pings pub's overlay address at 10 Hz while its uplink
#      moves (rtr1 -> rtr2, back, again: 3 runs); longest gap = missing seqs
#      x 100 ms, median of the runs. Target 1 s, fails above 10 s.
#  (f) symmetric<->cone: h6 (rtr5) and h1 (rtr1): reports path and time only
#      (relay is not wired yet): SKIP when no path came up; fails only when
#      the status claims a path (direct/relay) that carries no ping.
#  (g) double NAT: h7 behind rtr7 behind rtr8 (both cone) and h2 (rtr2): both
#      list each other direct (h2 sees h7 at rtr8's WAN 198.51.100.8, the
#      reflexive address through both NATs); 3 runs (fresh node on h7 with a
#      new port each run, rtr7/rtr8 conntrack flushed), median. Target 2 s,
#      fails above 10 s; overlay ping.
#  (h) NAT-PMP: h11 behind rtr4 running miniupnpd with UPnP disabled: its
#      status lists a "portmap" endpoint (rtr4's WAN), pub lists it direct
#      and pub's WireGuard endpoint for it is exactly the mapping; overlay
#      ping, also after rtr4's conntrack is flushed (so pub's packets can
#      only come in through miniupnpd's DNAT: counted in rtr4's forward
#      chain); `meshd down` deletes the mapping (DNAT rule gone <= 3 s). SKIP
#      without miniupnpd.
# Every scenario runs even when an earlier one failed; the exit status is 1
# when any failed. NAT_SCEN="a b c" runs a subset; LAB_LOG_LEVEL=debug and
# NAT_LOG_DIR=DIR keep detailed node logs. Ends with one [SUMMARY] block:
# each target's median beside its bounds.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
# 450 s: about 155 s unloaded; under CI load (two busy loops) the joins and
# punching take 2-3x longer and 300 s ran out once, in step (h).
netns_setup np 450 "$@"
# shellcheck source=tests/netns/natlab.sh
. "$(dirname "$0")/natlab.sh"

for t in nft python3 ping; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

: "${NAT_SCEN:=a b c d e f g h}"
: "${NAT_A_RUNS:=5}"
: "${NAT_D_RUNS:=3}"
: "${NAT_E_RUNS:=3}"
: "${NAT_G_RUNS:=3}"
: "${NAT_A_MAX_MS:=10000}"
TARGET_MS=2000
RESULTS=()
SUMS=()
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
# summ NAME MEDIAN_MS TARGET_MS|- FAIL_MS: a line of the final summary block
summ() {
	local v=PASS tg=''
	if [ "$3" != - ]; then
		v=$(target "$2" "$3")
		tg="target $(lab_secs "$3") s, "
	fi
	[ "$2" -le "$4" ] || v=FAIL
	SUMS+=("$1: median $(lab_secs "$2") s (${tg}fail > $(lab_secs "$4") s) $v")
}
# secs_list MS...: "0.352 0.410 "
secs_list() { for t in "$@"; do printf '%s ' "$(lab_secs "$t")"; done; }
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
R8=198.51.100.8

step "lab: inet + pub, rtr1/2/3/8 cone, rtr7 cone behind rtr8, rtr5 symmetric, hosts"
lab_inet
for r in 1 2 3 8; do lab_router "$r" cone; done
lab_router 7 cone behind 8
lab_router 5 symmetric
lab_host h1 1
lab_host h2 2
lab_host h3 3
lab_host h4 3
lab_host h5 1
lab_host h6 5
lab_host h7 7
lab_host h9 1
lab_host h10 2
lab_pub_init
PUB4=$(lab_ov4 pub)
[ -n "$PUB4" ] || fail "pub: no overlay address"
info "pub overlay $PUB4; setup $(($(date +%s) - T0)) s"

# --- (a) cone <-> cone ---------------------------------------------------------

A_LAST1='' A_LAST2=''
if want a; then
	step "(a) cone<->cone: h1 (rtr1) and h2 (rtr2), $NAT_A_RUNS runs"
	times=() ptimes=()
	afail=''
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
			# Overlay pings both ways, reported from the join as well:
			# "direct" is the probe's verdict; WireGuard may still need a
			# handshake retry (REKEY_TIMEOUT 5 s) when its first one met a
			# closed hole. The bound runs from when the test saw "direct":
			# on a loaded machine the status polls and address lookups
			# above take seconds of their own, which are not meshd's.
			if lab_wait "$NAT_A_MAX_MS" lab_ping h1 "$a" && lab_wait "$NAT_A_MAX_MS" lab_ping h2 "$b"; then
				ptimes+=("$(($(lab_now_ms) - JOIN_END))")
			else
				afail="run $run: direct, but no overlay ping h1 <-> h2 ($b <-> $a) $(lab_secs "$NAT_A_MAX_MS") s after that"
				lab_logs "$n1"
				lab_logs "$n2"
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
		pmed=$(lab_median "${ptimes[@]}")
		result a "$(target "$med" "$TARGET_MS")" "direct after median $(lab_secs "$med") s (runs: $(secs_list "${times[@]}")s; target 2 s, fail > $((NAT_A_MAX_MS / 1000)) s); overlay ping both ways after median $(lab_secs "$pmed") s (runs: $(secs_list "${ptimes[@]}")s)"
		summ "(a) cone<->cone direct, $NAT_A_RUNS runs" "$med" "$TARGET_MS" "$NAT_A_MAX_MS"
		summ "(a) cone<->cone first overlay ping both ways, $NAT_A_RUNS runs" "$pmed" "$TARGET_MS" $((2 * NAT_A_MAX_MS))
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
	step "(d) 5 % loss on rtr1's WAN during the joins of h9 (rtr1) and h10 (rtr2), $NAT_D_RUNS runs"
	times=() drops=() dfail=''
	for run in $(seq 1 "$NAT_D_RUNS"); do
		n1="d9r$run" n2="d10r$run"
		lab_ct_flush 1 || fail "conntrack flush in rtr1"
		lab_ct_flush 2 || fail "conntrack flush in rtr2"
		lab_loss 1 5 || fail "loss rule on rtr1"
		# Ports of their own: h1 (rtr1) and h2 (rtr2) still run on 51820,
		# and a port collision makes Linux masquerade pick another
		# external port per destination (symmetric-like): relay, not a
		# direct path, would then be the right answer.
		if lab_join h9 "$n1" --port $((51850 + run)) &&
		    lab_join h10 "$n2" --port $((51860 + run)); then
			LAB_T0=$JOIN_END
			if lab_wait 30000 lab_pair "$n1" "$n2" "$R2" "$R1"; then
				unset LAB_T0
				times+=("$WAIT_MS")
				drops+=("$(lab_loss_count 1)")
				info "run $run: direct both ways $(lab_secs "$WAIT_MS") s after the joins, ${drops[-1]} packets dropped on rtr1"
			else
				unset LAB_T0
				dfail="run $run: not direct 30 s after the joins ($(lab_loss_count 1) packets dropped): $LAB_WHY"
				lab_logs "$n1"
				lab_logs "$n2"
			fi
		else
			dfail="run $run: join failed under 5 % loss ($n1 or $n2)"
		fi
		lab_loss 1 0
		lab_stop "$n1"
		lab_stop "$n2"
		[ -z "$dfail" ] || break
	done
	if [ -n "$dfail" ]; then
		result d FAIL "$dfail"
	else
		med=$(lab_median "${times[@]}")
		result d PASS "converged (direct both ways) after median $(lab_secs "$med") s (runs: $(secs_list "${times[@]}")s; dropped on rtr1: ${drops[*]}; fail > 30 s)"
		summ "(d) 5 % loss, direct after the joins, $NAT_D_RUNS runs" "$med" - 30000
	fi
fi

# --- (e) roaming ---------------------------------------------------------------------------

if want e; then
	step "(e) roaming: h5 pings pub at 10 Hz while its uplink moves, $NAT_E_RUNS runs"
	gaps=() efail=
	if lab_join h5 e5 && lab_wait 5000 lab_ping h5 "$PUB4"; then
		for run in $(seq 1 "$NAT_E_RUNS"); do
			from=${LAB_HOST_RTR[h5]}
			to=2
			[ "$from" = 2 ] && to=1
			lab_wait 5000 lab_ping h5 "$PUB4" || true
			bg "ping5r$run" ip netns exec "$(nsname h5)" ping -n -i 0.1 -W 1 -w 7 "$PUB4"
			PING_PID=$BG_PID
			# 1 s of replies before the move, however late ping starts
			if ! wait_for 5 ping_replies "$WORK/ping5r$run.out" 10; then
				efail="run $run: the 10 Hz ping got no 10 replies in 5 s before the move"
				break
			fi
			t=$(lab_now_ms)
			if ! lab_roam h5 "$from" "$to"; then
				efail="run $run: lab_roam failed"
				break
			fi
			info "run $run: h5 moved rtr$from -> rtr$to in $(lab_secs $(($(lab_now_ms) - t))) s"
			wait "$PING_PID" 2>/dev/null || true
			read -r miss got last < <(lab_q gap "$WORK/ping5r$run.out")
			info "run $run: $got replies, last icmp_seq $last, longest hole $miss seqs; pub sees h5 at $(lab_path pub e5 | cut -d' ' -f2)"
			if [ "$got" -le 0 ] || [ "$last" -lt 60 ]; then
				efail="run $run: no replies after the move (last icmp_seq $last of ~70): $(tail -n 2 "$WORK/ping5r$run.out" | tr '\n' ' ')"
				lab_logs e5
				lab_logs pub 10
				break
			fi
			gaps+=($((miss * 100)))
		done
	else
		efail="h5 join or first ping to pub failed"
	fi
	if [ -n "$efail" ]; then
		result e FAIL "$efail"
	else
		med=$(lab_median "${gaps[@]}")
		if [ "$med" -gt 10000 ]; then
			result e FAIL "median longest gap $(lab_secs "$med") s > 10 s (runs: $(secs_list "${gaps[@]}")s)"
		else
			result e "$(target "$med" 1000)" "median longest gap $(lab_secs "$med") s (runs: $(secs_list "${gaps[@]}")s; 100 ms pings; target 1 s, fail > 10 s)"
		fi
		summ "(e) roaming, longest ping gap, $NAT_E_RUNS runs" "$med" 1000 10000
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

# --- (g) double NAT ------------------------------------------------------------------------

if want g; then
	step "(g) double NAT: h7 (rtr7 behind rtr8) and h2 (rtr2), $NAT_G_RUNS runs"
	g2=${A_LAST2:-}
	if [ -z "$g2" ] && lab_join h2 g2; then g2=g2; fi
	times=() ptimes=() gfail='' glast=''
	[ -n "$g2" ] || gfail="join on h2 failed"
	for run in $(seq 1 "$NAT_G_RUNS"); do
		[ -z "$gfail" ] || break
		n7="g7r$run"
		[ -n "$glast" ] && lab_stop "$glast"
		lab_ct_flush 7 || fail "conntrack flush in rtr7"
		lab_ct_flush 8 || fail "conntrack flush in rtr8"
		# A new port each run: rtr2's conntrack entries of the last run
		# must not open the hole in advance.
		if ! lab_join h7 "$n7" --port $((51830 + run)); then
			gfail="run $run: join of $n7 failed"
			break
		fi
		glast=$n7
		LAB_T0=$JOIN_END
		if lab_wait "$NAT_A_MAX_MS" lab_pair "$n7" "$g2" "$R2" "$R8"; then
			unset LAB_T0
			times+=("$WAIT_MS")
			info "run $run: direct both ways after $(lab_secs "$WAIT_MS") s ($LAB_WHY); $n7 endpoints: $(lab_q endpoints "$WORK/st/$n7.json")"
			# as in (a): reported from the join, bounded from "direct"
			if lab_wait "$NAT_A_MAX_MS" lab_ping h7 "$(lab_ov4 "$g2")" && lab_wait "$NAT_A_MAX_MS" lab_ping h2 "$(lab_ov4 "$n7")"; then
				ptimes+=("$(($(lab_now_ms) - JOIN_END))")
			else
				gfail="run $run: direct, but no overlay ping h7 <-> h2 $(lab_secs "$NAT_A_MAX_MS") s after that"
				lab_logs "$n7"
				lab_logs "$g2"
			fi
		else
			unset LAB_T0
			gfail="run $run: not direct after $(lab_secs "$WAIT_MS") s: $LAB_WHY"
			info "h7->h2: $(lab_path "$n7" "$g2"); h2->h7: $(lab_path "$g2" "$n7")"
			lab_logs "$n7" 40
			lab_logs "$g2" 40
			lab_logs pub 20
			# which host holds which mapping on h2's router (h5 may be
			# there too, after (e)), and the double NAT's
			lab_ct_dump 2
			lab_ct_dump 8
			lab_ct_dump 7
		fi
	done
	[ -n "$glast" ] && lab_stop "$glast"
	if [ -n "$gfail" ]; then
		result g FAIL "$gfail"
	else
		med=$(lab_median "${times[@]}")
		pmed=$(lab_median "${ptimes[@]}")
		result g "$(target "$med" "$TARGET_MS")" "direct through both NATs (h2 sees h7 at $R8) after median $(lab_secs "$med") s (runs: $(secs_list "${times[@]}")s; target 2 s, fail > $((NAT_A_MAX_MS / 1000)) s); overlay ping both ways after median $(lab_secs "$pmed") s (runs: $(secs_list "${ptimes[@]}")s)"
		summ "(g) double NAT<->cone direct, $NAT_G_RUNS runs" "$med" "$TARGET_MS" "$NAT_A_MAX_MS"
		summ "(g) double NAT<->cone first overlay ping both ways" "$pmed" "$TARGET_MS" $((2 * NAT_A_MAX_MS))
	fi
fi

# --- (h) NAT-PMP ----------------------------------------------------------------------------

PM_EP=
# shellcheck disable=SC2317 # called through lab_wait
pm_listed() {
	lab_st p11
	PM_EP=$(lab_q portmap "$WORK/st/p11.json") && [ -n "$PM_EP" ]
}
# shellcheck disable=SC2317 # called through lab_wait
pm_direct() {
	lab_st pub
	[ "$(lab_q peer "$WORK/st/pub.json" p11 path)" = direct ] &&
		[ "$(lab_q peer "$WORK/st/pub.json" p11 endpoint)" = "$PM_EP" ]
}
# pm_wg: pub's WireGuard endpoint for p11
pm_wg() {
	local k
	k=$(lab_q node "$WORK/st/p11.json" public_key)
	nx pub wg show "${LAB_NODE_IF[pub]}" endpoints | awk -v k="$k" '$1 == k { print $2 }'
}
# shellcheck disable=SC2317 # called through lab_wait
pm_wg_is() { [ "$(pm_wg)" = "$PM_EP" ]; }
# shellcheck disable=SC2317 # called through lab_wait
pm_gone() { ! lab_pmp_has 4 "$1"; }

if want h; then
	step "(h) NAT-PMP: h11 behind rtr4 (miniupnpd, UPnP disabled)"
	if ! command -v miniupnpd >/dev/null 2>&1 || ! command -v wg >/dev/null 2>&1; then
		result h SKIP "miniupnpd or wg not installed"
	else
		lab_router 4 cone
		lab_host h11 4
		if ! lab_pmp 4; then
			result h FAIL "miniupnpd in rtr4 did not start or refuses forwarding: $(tail -n 5 "$LAB_PMP_LOG" | tr '\n' ' ')"
		elif ! lab_join h11 p11; then
			result h FAIL "join of p11 failed"
		else
			t=$JOIN_END
			LAB_T0=$t
			if ! lab_wait 5000 pm_listed; then
				unset LAB_T0
				result h FAIL "p11 lists no portmap endpoint 5 s after the join: $(lab_q endpoints "$WORK/st/p11.json"); miniupnpd: $(tail -n 3 "$LAB_PMP_LOG" | tr '\n' ' ')"
				lab_logs p11
			else
				unset LAB_T0
				map_ms=$WAIT_MS
				ext=${PM_EP##*:}
				grep -q 'NAT-PMP' "$LAB_PMP_LOG" && info "miniupnpd: $(grep -m1 'NAT-PMP' "$LAB_PMP_LOG")"
				info "p11 endpoints $(lab_q endpoints "$WORK/st/p11.json") ($(lab_secs "$map_ms") s after the join)"
				P11=$(lab_ov4 p11)
				LAB_T0=$t
				if [ "${PM_EP%:*}" != 198.51.100.4 ]; then
					result h FAIL "portmap endpoint $PM_EP is not on rtr4's WAN"
				elif ! lab_pmp_has 4 "$ext"; then
					result h FAIL "no DNAT rule for udp dport $ext in rtr4"
				elif ! { lab_wait 3000 lab_ping h11 "$PUB4" || true; } ||
					! lab_wait 10000 pm_direct; then
					unset LAB_T0
					result h FAIL "pub does not list p11 direct at $PM_EP: $(lab_path pub p11)"
					lab_logs p11
				else
					unset LAB_T0
					dir_ms=$WAIT_MS
					lab_wait 3000 lab_ping pub "$P11" || true
					if ! lab_wait 3000 pm_wg_is; then
						result h FAIL "pub's wg endpoint for p11 is $(pm_wg), not the mapping $PM_EP"
					elif ! lab_wait 3000 lab_ping pub "$P11"; then
						result h FAIL "pub lists p11 direct at $PM_EP but no overlay ping"
					# h11 opening a new connection itself right after the
					# flush (a keepalive) would make pub's packets replies
					# instead of DNAT'd arrivals: rtr4 holds h11's new
					# outgoing connections meanwhile
					elif dnat0=$(lab_dnat_count 4) && ! lab_hold_out 4 h11 ||
						! lab_ct_flush 4 ||
						! lab_wait 3000 lab_ping pub "$P11" ||
						[ "$(lab_dnat_count 4)" -le "$dnat0" ]; then
						lab_release 4
						result h FAIL "with rtr4's conntrack flushed, pub's ping did not come in through the mapping (DNAT connections: $dnat0 before, $(lab_dnat_count 4) after)"
					else
						lab_release 4
						dnat="$dnat0 -> $(lab_dnat_count 4)"
						t=$(lab_now_ms)
						lab_m h11 p11 down -d "$(lab_dir p11)" >/dev/null 2>&1 || true
						if lab_wait 3000 pm_gone "$ext"; then
							result h PASS "portmap endpoint $PM_EP listed $(lab_secs "$map_ms") s after the join; pub direct at it (wg endpoint $(pm_wg)) after $(lab_secs "$dir_ms") s; overlay ping ok, also with rtr4's conntrack flushed (connections in through the DNAT: $dnat); down removed the mapping in $(lab_secs "$WAIT_MS") s"
						else
							result h FAIL "DNAT rule for udp dport $ext still in rtr4 3 s after meshd down"
						fi
					fi
				fi
				unset LAB_T0
			fi
		fi
		lab_stop p11
		[ -n "${LAB_PMP_PID:-}" ] && kill "$LAB_PMP_PID" 2>/dev/null
		true
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
	printf '[RESULT] %s\n' "$r"
done
for r in "${SUMS[@]}"; do
	printf '[SUMMARY] %s\n' "$r"
done
[ "$FAILED" = 0 ] || { diag_dump >/dev/null 2>&1; exit 1; }
exit 0
