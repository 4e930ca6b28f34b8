#!/bin/bash
# bench/throughput.sh: throughput and daemon CPU through a tunnel, meshd vs
# Debian's wireguard-go vs today's upstream wireguard-go, side by side in the
# same run. Run as root: `bash bench/throughput.sh` (MESHD=path/to/meshd,
# WGGO_MODERN=path/to/binary, BENCH_MODES="tcp1 tcp4 udp site").
#
#   tunnel "m": ns $PFX-m-a (meshd wg) <====> ns $PFX-m-b (meshd wg)
#   tunnel "g": ns $PFX-g-a (wireguard-go) <====> ns $PFX-g-b (wireguard-go)
#   tunnel "w": ns $PFX-w-a (wireguard-go-modern) <====> ns $PFX-w-b (same)
#   tunnel "1": ns $PFX-1-a (meshd wg, MESHD_THREADS=1) <====> ns $PFX-1-b (same);
#               BENCH_ONE_THREAD=0 leaves it out
#   each:  a: 100.64.0.1 (iperf3 -c, cubic)  ---veth 198.51.100.1/.2---  b: 100.64.0.2 (iperf3 -s)
#
#   site "s<id>" (mode site, one per implementation, routed, no NAT):
#   ns sX-ha 10.1.0.11 --- 10.1.0.1 ns sX-a (gateway A, tunnel 100.64.0.1)
#        ====veth 198.51.100.1/.2==== ns sX-b (gateway B, tunnel 100.64.0.2) 10.2.0.1 --- 10.2.0.11 ns sX-hb
#   gateway A routes 10.2.0.0/24 into its tunnel (peer allowed-ips include it),
#   gateway B routes 10.1.0.0/24 into its own; hosts' default routes point at
#   their gateway; iperf3 -c in sX-ha, iperf3 -s in sX-hb.
#
# Modes (BENCH_MODES, default all four, in this order):
#   tcp1  one TCP stream (`iperf3 -C cubic`): Gbit/s, daemon CPU-s per GB
#   tcp4  four parallel TCP streams (`-P 4`): the same two numbers
#   udp   UDP datagrams of BENCH_UDP_LEN (1392) bytes of payload (the largest
#         that fits the 1420-byte tunnel MTU unfragmented): the highest offered
#         rate the receiver gets with <= BENCH_UDP_LOSS (1) % loss and that the
#         sender holds (>= 90 % of it sent); search per run and implementation:
#         probes of BENCH_UDP_PROBE_S (3) s, doubling from BENCH_UDP_START
#         (20000/s, halving instead if that already fails) up to BENCH_UDP_MAX
#         (1280000/s), then BENCH_UDP_BISECT (4) bisection probes. Reports
#         delivered datagrams/s and the loss at that rate, and the daemons' CPU
#         microseconds per delivered datagram there. Both iperf3 ends use
#         socket buffers of BENCH_UDP_WINDOW (2M, `-w`) so that a descheduled
#         iperf3 server on a busy machine loses less on its own socket.
#   site  one TCP stream host A -> gateway A -> tunnel -> gateway B -> host B:
#         Gbit/s, gateway daemons' CPU-s per GB
#
# WGGO_MODERN defaults to ../shared/anchors/wireguard-go-modern next to the
# repository (upstream v0.0.20250522 with GSO/GRO and TUN offloads, see its
# README); when it is not there the run goes on with m and g only.
# BENCH_RUNS (3) runs of BENCH_SECONDS (10) per implementation and mode,
# interleaved with a rotating order (m g w, g w m, w m g, ...) so drift hits all
# alike.
# Per TCP run: Gbit/s = iperf3 receiver bytes * 8 / seconds; CPU s/GB = (utime +
# stime of both daemons, from /proc/PID/stat before/after) / (receiver bytes / 1e9).
# Prints each run, the medians, the ratios meshd / wireguard-go and meshd /
# wireguard-go-modern, and finally machine-readable lines starting with "RESULT ":
# "RESULT throughput ..." (tcp1, the original format), "RESULT tcp4 ...",
# "RESULT udp ...", "RESULT site ...".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/lib.sh
. "$here/../tests/netns/lib.sh"
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_MODES=${BENCH_MODES:-tcp1 tcp4 udp site}
BENCH_UDP_LEN=${BENCH_UDP_LEN:-1392}
BENCH_UDP_PROBE_S=${BENCH_UDP_PROBE_S:-3}
BENCH_UDP_START=${BENCH_UDP_START:-20000}
BENCH_UDP_MAX=${BENCH_UDP_MAX:-1280000}
BENCH_UDP_BISECT=${BENCH_UDP_BISECT:-4}
BENCH_UDP_LOSS=${BENCH_UDP_LOSS:-1}
BENCH_UDP_WINDOW=${BENCH_UDP_WINDOW:-2M}
WGGO_MODERN=${WGGO_MODERN:-$here/../../shared/anchors/wireguard-go-modern}
MODES=()
for mo in $BENCH_MODES; do
	case $mo in
	tcp1 | tcp4 | udp | site) MODES+=("$mo") ;;
	*) echo "BENCH_MODES: unknown mode '$mo' (tcp1 tcp4 udp site)" >&2; exit 2 ;;
	esac
done
[ "${#MODES[@]}" -gt 0 ] || { echo "BENCH_MODES is empty" >&2; exit 2; }
has_mode() { case " ${MODES[*]} " in *" $1 "*) return 0 ;; esac; return 1; }
# Probes per UDP search at most: the doubling (or halving) steps, then bisection.
UDP_PROBES=$((BENCH_UDP_BISECT + 5))
r=$BENCH_UDP_START
while [ $((r * 2)) -le "$BENCH_UDP_MAX" ]; do r=$((r * 2)); UDP_PROBES=$((UDP_PROBES + 1)); done
limit=120
for mo in "${MODES[@]}"; do
	case $mo in
	udp) limit=$((limit + BENCH_RUNS * 3 * UDP_PROBES * (BENCH_UDP_PROBE_S + 8))) ;;
	*) limit=$((limit + BENCH_RUNS * 3 * (BENCH_SECONDS + 10) + 30)) ;;
	esac
done
netns_setup bt "$limit" "$@"
command -v iperf3 >/dev/null 2>&1 || skip "iperf3 not installed"
command -v wireguard-go >/dev/null 2>&1 || skip "wireguard-go not installed"
HZ=$(getconf CLK_TCK)
IDS="m g"
if [ -x "$WGGO_MODERN" ]; then
	IDS="m g w"
	WGGO_MODERN=$(readlink -f "$WGGO_MODERN")
	# lib.sh starts "wggo" as `wireguard-go` found in PATH: a private bin
	# directory with that name in front makes it start the modern binary.
	mkdir "$WORK/modern-bin"
	ln -s "$WGGO_MODERN" "$WORK/modern-bin/wireguard-go"
else
	warn "WGGO_MODERN=$WGGO_MODERN is not an executable: running without it"
fi
HAS_MODERN=0
[ "$IDS" = "m g" ] || HAS_MODERN=1
# "1": meshd again with MESHD_THREADS=1 (its data path on one thread), to
# show what the crypto worker threads give (BENCH_ONE_THREAD=0: left out).
[ "${BENCH_ONE_THREAD:-1}" = 0 ] || IDS="$IDS 1"
declare -A NAME=([m]=meshd [g]=wireguard-go [w]=wireguard-go-modern [1]=meshd-1thread)
declare -A KIND=([m]=meshd [g]=wggo [w]=wggo [1]=meshd)

# up ID TUNNEL: tunnel_up for implementation ID under the name TUNNEL.
up() {
	if [ "$1" = w ]; then
		PATH="$WORK/modern-bin:$PATH" tunnel_up "$2" wggo wggo
	elif [ "$1" = 1 ]; then
		MESHD_THREADS=1 tunnel_up "$2" meshd meshd
	else
		tunnel_up "$2" "${KIND[$1]}" "${KIND[$1]}"
	fi
}

# iperf_server NS ADDR: an iperf3 server on ADDR:5201 in NS, waited for.
iperf_server() {
	bg "iperf3-s-$1" nx "$1" iperf3 -s -B "$2" -p 5201
	wait_for 5 nx "$1" sh -c "ss -Hltn 'sport = :5201' | grep -q ." || fail "iperf3 server in $1"
}

# site_up ID: the site-to-site topology above for implementation ID (tunnel s<ID>).
site_up() {
	local s=s$1 ia ib
	up "$1" "$s"
	ia=$(ifname a "$s")
	ib=$(ifname b "$s")
	ns_add "$s-ha"
	ns_add "$s-hb"
	veth_add "$s-ha" e0 "$s-a" l0
	veth_add "$s-hb" e0 "$s-b" l0
	addr_add "$s-ha" e0 10.1.0.11/24
	addr_add "$s-a" l0 10.1.0.1/24
	addr_add "$s-hb" e0 10.2.0.11/24
	addr_add "$s-b" l0 10.2.0.1/24
	ip -n "$(nsname "$s-ha")" route add default via 10.1.0.1 || fail "route in $s-ha"
	ip -n "$(nsname "$s-hb")" route add default via 10.2.0.1 || fail "route in $s-hb"
	nx "$s-a" sysctl -qw net.ipv4.ip_forward=1 >/dev/null || fail "forwarding in $s-a"
	nx "$s-b" sysctl -qw net.ipv4.ip_forward=1 >/dev/null || fail "forwarding in $s-b"
	wgset "$s-a" "$ia" peer "$(cat "$WORK/$s-b.pub")" allowed-ips 100.64.0.2/32,fd00:64::2/128,10.2.0.0/24
	wgset "$s-b" "$ib" peer "$(cat "$WORK/$s-a.pub")" allowed-ips 100.64.0.1/32,fd00:64::1/128,10.1.0.0/24
	ip -n "$(nsname "$s-a")" route add 10.2.0.0/24 dev "$ia" || fail "route to LAN B in $s-a"
	ip -n "$(nsname "$s-b")" route add 10.1.0.0/24 dev "$ib" || fail "route to LAN A in $s-b"
}

if has_mode tcp1 || has_mode tcp4 || has_mode udp; then
	step "tunnels: m = meshd <-> meshd, g = wireguard-go <-> wireguard-go"
	[ "$HAS_MODERN" = 0 ] || info "and w = wireguard-go-modern <-> wireguard-go-modern ($WGGO_MODERN)"
	case " $IDS " in *" 1 "*) info "and 1 = meshd <-> meshd with MESHD_THREADS=1 (no crypto worker threads)" ;; esac
	for id in $IDS; do up "$id" "$id"; done
	for id in $IDS; do
		ping_first "$id-a" 100.64.0.2 15 || fail "tunnel $id: no handshake"
		iperf_server "$id-b" 100.64.0.2
	done
fi
if has_mode site; then
	step "sites: host A -> gateway A =tunnel=> gateway B -> host B, per implementation (s$(tr -d ' ' <<<"$IDS"))"
	for id in $IDS; do site_up "$id"; done
	for id in $IDS; do
		ping_first "s$id-ha" 10.2.0.11 15 || fail "site $id: host A cannot reach host B"
		iperf_server "s$id-hb" 10.2.0.11
	done
fi
info "machine: $(nproc) CPUs, $(uname -r), $("$MESHD" --version 2>/dev/null | head -n 1), $(wireguard-go --version 2>/dev/null | head -n 1)"
if [ "$HAS_MODERN" = 1 ]; then
	t=w
	has_mode tcp1 || has_mode tcp4 || has_mode udp || t=sw
	info "modern: $("$WGGO_MODERN" --version 2>/dev/null | head -n 1), running $(readlink "/proc/${IMPL_PID[$(ifname a "$t")]}/exe")"
fi
info "modes: ${MODES[*]}; load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

# ticks PID...: utime + stime (clock ticks) summed over the PIDs.
ticks() {
	local p s=0 st f
	for p in "$@"; do
		st=$(cat "/proc/$p/stat") || return 1
		st=${st##*) }   # the fields after "pid (comm) ": utime, stime are f[11], f[12]
		read -r -a f <<<"$st"
		s=$((s + f[11] + f[12]))
	done
	echo "$s"
}

# json_key FILE OBJECT KEY: KEY from the first OBJECT (e.g. "sum_received") of
# iperf3 -J output (iperf3 prints one key per line).
json_key() {
	awk -v o="\"$2\":" -v k="\"$3\":" '$1 == o { f = 1 } f && $1 == k { gsub(/,/, "", $2); print $2; exit }' "$1"
}
json_sum() { json_key "$1" sum_received "$2"; }

# pids TUNNEL: the PIDs of the two daemons of TUNNEL.
pids() { echo "${IMPL_PID[$(ifname a "$1")]} ${IMPL_PID[$(ifname b "$1")]}"; }

declare -A RES_G=() RES_C=() RES_R=() RES_D=() RES_L=() RES_U=()

# run_tcp MODE ID N: one iperf3 TCP run of MODE (tcp1, tcp4, site) through ID's tunnel.
run_tcp() {
	local mode=$1 id=$2 n=$3 j t0 t1 bytes secs gbps cpu cpg tun=$2 cns=$2-a dst=100.64.0.2 what=daemon
	local -a p extra=()
	case $mode in
	tcp4) extra=(-P 4) ;;
	site) tun=s$id cns=s$id-ha dst=10.2.0.11 what=gateway ;;
	esac
	read -r -a p <<<"$(pids "$tun")"
	j="$WORK/iperf-$mode-$id-$n.json"
	t0=$(ticks "${p[@]}")
	nx "$cns" timeout --foreground $((BENCH_SECONDS + 20)) iperf3 -c "$dst" -p 5201 -C cubic \
		-t "$BENCH_SECONDS" "${extra[@]}" -J >"$j" 2>&1 || { cat "$j"; fail "iperf3 ($mode) on $id failed"; }
	t1=$(ticks "${p[@]}")
	bytes=$(json_sum "$j" bytes)
	secs=$(json_sum "$j" seconds)
	if [ -z "$bytes" ] || [ -z "$secs" ]; then fail "cannot parse $j"; fi
	read -r gbps cpu cpg < <(awk -v b="$bytes" -v s="$secs" -v d=$((t1 - t0)) -v hz="$HZ" \
		'BEGIN { c = d / hz; printf "%.3f %.2f %.3f\n", b * 8 / s / 1e9, c, c / (b / 1e9) }') ||
		fail "cannot compute the run's numbers from $j"
	RES_G[$mode$id]+="$gbps "
	RES_C[$mode$id]+="$cpg "
	printf '       run %d %-20s %7s Gbit/s  %6s GB  %s CPU %6s s  %6s CPU-s/GB\n' \
		"$n" "${NAME[$id]}" "$gbps" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }')" "$what" "$cpu" "$cpg"
}

# udp_probe ID RATE: BENCH_UDP_PROBE_S seconds of RATE datagrams/s through ID's
# tunnel. Sets P_OK (1 = loss <= BENCH_UDP_LOSS % and >= 90 % of RATE sent;
# 0 = too much loss; 2 = the sender did not hold 90 % of RATE),
# P_SENT and P_DELIV (datagrams/s over the sender's interval), P_LOSS (% of the
# datagrams sent that did not arrive), P_CPU (daemon CPU us per delivered datagram).
udp_probe() {
	local id=$1 rate=$2 j t0 t1 sent rpk rlost ssecs
	local -a p
	read -r -a p <<<"$(pids "$id")"
	j="$WORK/udp-$id.json"
	t0=$(ticks "${p[@]}")
	nx "$id-a" timeout --foreground $((BENCH_UDP_PROBE_S + 20)) iperf3 -c 100.64.0.2 -p 5201 -u \
		-b $((rate * BENCH_UDP_LEN * 8)) -l "$BENCH_UDP_LEN" -w "$BENCH_UDP_WINDOW" -t "$BENCH_UDP_PROBE_S" -J >"$j" 2>&1 ||
		{ cat "$j"; fail "iperf3 -u on $id failed"; }
	t1=$(ticks "${p[@]}")
	sent=$(json_key "$j" sum_sent packets)
	ssecs=$(json_key "$j" sum_sent seconds)
	rpk=$(json_key "$j" sum_received packets)
	rlost=$(json_key "$j" sum_received lost_packets)
	if [ -z "$sent" ] || [ -z "$ssecs" ] || [ -z "$rpk" ] || [ -z "$rlost" ]; then
		cat "$j"
		fail "cannot parse $j"
	fi
	read -r P_OK P_SENT P_DELIV P_LOSS P_CPU < <(awk -v r="$rate" -v s="$sent" -v ss="$ssecs" \
		-v p="$rpk" -v l="$rlost" -v d=$((t1 - t0)) -v hz="$HZ" -v ml="$BENCH_UDP_LOSS" 'BEGIN {
			got = p - l; loss = s > 0 ? 100 * (s - got) / s : 100
			if (loss < 0) loss = 0
			ok = s / ss < 0.9 * r ? 2 : (s > 0 && loss <= ml) ? 1 : 0
			cpu = got > 0 ? d / hz * 1e6 / got : 0
			printf "%d %.0f %.0f %.2f %.2f\n", ok, s / ss, got / ss, loss, cpu }') ||
		fail "cannot compute the probe's numbers from $j"
	printf '             probe %8d/s: sent %8d/s, delivered %8d/s, loss %6s %%, %6s CPU-us/datagram  %s\n' \
		"$rate" "$P_SENT" "$P_DELIV" "$P_LOSS" "$P_CPU" "$(case $P_OK in 1) echo ok ;; 2) echo "fail (rate not held)" ;; *) echo "fail (loss)" ;; esac)"
}

# run_udp ID N: the search for ID's highest rate with <= BENCH_UDP_LOSS % loss.
run_udp() {
	local id=$1 n=$2 rate=$BENCH_UDP_START lo=0 hi=0 k b_deliv=0 b_loss=- b_cpu=-
	printf '       run %d %-20s searching (%d-byte datagrams, %ds probes)\n' "$n" "${NAME[$id]}" \
		"$BENCH_UDP_LEN" "$BENCH_UDP_PROBE_S"
	keep() { lo=$rate b_deliv=$P_DELIV b_loss=$P_LOSS b_cpu=$P_CPU; }
	udp_probe "$id" "$rate"
	if [ "$P_OK" = 1 ]; then
		keep
		while [ $((rate * 2)) -le "$BENCH_UDP_MAX" ]; do
			rate=$((rate * 2))
			udp_probe "$id" "$rate"
			[ "$P_OK" = 1 ] || { hi=$rate; break; }
			keep
		done
	else
		hi=$rate
		while [ $((rate / 2)) -ge $((BENCH_UDP_START / 16)) ]; do
			rate=$((rate / 2))
			udp_probe "$id" "$rate"
			[ "$P_OK" = 1 ] && { keep; break; }
			hi=$rate
		done
	fi
	if [ "$lo" -gt 0 ] && [ "$hi" -gt 0 ]; then
		for k in $(seq 1 "$BENCH_UDP_BISECT"); do
			rate=$(((lo + hi) / 2))
			udp_probe "$id" "$rate"
			if [ "$P_OK" = 1 ]; then keep; else hi=$rate; fi
		done
	fi
	[ "$hi" -gt 0 ] || warn "${NAME[$id]}: even BENCH_UDP_MAX=$BENCH_UDP_MAX/s passed; the result is a lower bound"
	RES_R[udp$id]+="$lo "
	RES_D[udp$id]+="$b_deliv "
	RES_L[udp$id]+="$b_loss "
	RES_U[udp$id]+="$b_cpu "
	printf '       run %d %-20s %8d/s offered, %8d/s delivered, loss %6s %%, %6s CPU-us/datagram\n' \
		"$n" "${NAME[$id]}" "$lo" "$b_deliv" "$b_loss" "$b_cpu"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
csv() { tr -s ' ' ',' <<<"${1% }"; }
declare -A MED=()
declare -A RATIO_KEY=([g]=ratio_meshd_over_wggo [w]=ratio_meshd_over_modern [1]=ratio_meshd_over_1thread)
declare -A TITLE=([tcp1]="one TCP stream, cubic, ${BENCH_SECONDS}s" [tcp4]="four TCP streams (-P 4), cubic, ${BENCH_SECONDS}s"
	[udp]="UDP, ${BENCH_UDP_LEN}-byte datagrams, <= ${BENCH_UDP_LOSS} % loss, ${BENCH_UDP_PROBE_S}s probes"
	[site]="site to site, one TCP stream host A -> host B, cubic, ${BENCH_SECONDS}s")
RESULTS=()

read -r -a ring <<<"$IDS"
for mo in "${MODES[@]}"; do
	if [ "$mo" = udp ]; then
		step "udp: $BENCH_RUNS searches per implementation, interleaved (${TITLE[udp]})"
	else
		step "$mo: $BENCH_RUNS runs x ${BENCH_SECONDS}s per implementation, interleaved (${TITLE[$mo]})"
	fi
	for n in $(seq 1 "$BENCH_RUNS"); do
		# rotate the order each run: m g w, g w m, w m g, ...
		for k in $(seq 0 $((${#ring[@]} - 1))); do
			id=${ring[$(((n - 1 + k) % ${#ring[@]}))]}
			if [ "$mo" = udp ]; then run_udp "$id" "$n"; else run_tcp "$mo" "$id" "$n"; fi
		done
	done
	info "load average after the $mo runs: $(cut -d' ' -f1-3 /proc/loadavg)"
	for id in $IDS; do
		t=$id
		[ "$mo" = site ] && t=s$id
		for d in "$(ifname a "$t")" "$(ifname b "$t")"; do
			impl_alive "$d" || fail "daemon ${NAME[$id]} for $d died during the $mo runs"
		done
	done
	step "$mo: medians over $BENCH_RUNS runs (${TITLE[$mo]})"
	if [ "$mo" = udp ]; then
		for id in $IDS; do
			for v in R D L U; do
				declare -n res=RES_$v
				MED[$v$mo$id]=$(median <<<"${res[$mo$id]}")
				unset -n res
			done
			printf '       %-20s %8s datagrams/s delivered (offered %s/s), loss %s %%, %s daemon CPU-us/datagram\n' \
				"${NAME[$id]}" "${MED[Dudp$id]}" "${MED[Rudp$id]}" "${MED[Ludp$id]}" "${MED[Uudp$id]}"
			RESULTS+=("RESULT udp impl=${NAME[$id]} dgram_s=${MED[Dudp$id]} offered_s=${MED[Rudp$id]} loss_pct=${MED[Ludp$id]} cpu_us_per_dgram=${MED[Uudp$id]} len=$BENCH_UDP_LEN max_loss_pct=$BENCH_UDP_LOSS runs=$BENCH_RUNS probe_s=$BENCH_UDP_PROBE_S all_dgram_s=$(csv "${RES_D[udp$id]}") all_offered_s=$(csv "${RES_R[udp$id]}") all_loss_pct=$(csv "${RES_L[udp$id]}") all_cpu_us_per_dgram=$(csv "${RES_U[udp$id]}")")
		done
		for id in ${IDS#m }; do
			printf '       meshd / %-20s datagrams/s x%s, CPU per datagram x%s\n' "${NAME[$id]}:" \
				"$(ratio "${MED[Dudpm]}" "${MED[Dudp$id]}")" "$(ratio "${MED[Uudpm]}" "${MED[Uudp$id]}")"
			RESULTS+=("RESULT udp ${RATIO_KEY[$id]} dgram_s=$(ratio "${MED[Dudpm]}" "${MED[Dudp$id]}") cpu_us_per_dgram=$(ratio "${MED[Uudpm]}" "${MED[Uudp$id]}")")
		done
		continue
	fi
	what=daemon
	[ "$mo" = site ] && what=gateway
	for id in $IDS; do
		MED[G$mo$id]=$(median <<<"${RES_G[$mo$id]}")
		MED[C$mo$id]=$(median <<<"${RES_C[$mo$id]}")
		printf '       %-20s %7s Gbit/s  %7s %s CPU-s/GB\n' "${NAME[$id]}" "${MED[G$mo$id]}" "${MED[C$mo$id]}" "$what"
	done
	for id in ${IDS#m }; do
		printf '       meshd / %-20s throughput x%s, CPU per GB x%s\n' "${NAME[$id]}:" \
			"$(ratio "${MED[G${mo}m]}" "${MED[G$mo$id]}")" "$(ratio "${MED[C${mo}m]}" "${MED[C$mo$id]}")"
	done
	key=$mo
	[ "$mo" = tcp1 ] && key=throughput   # the original RESULT format
	for id in $IDS; do
		RESULTS+=("RESULT $key impl=${NAME[$id]} gbit_s=${MED[G$mo$id]} cpu_s_per_gb=${MED[C$mo$id]} runs=$BENCH_RUNS seconds=$BENCH_SECONDS all_gbit_s=$(csv "${RES_G[$mo$id]}") all_cpu_s_per_gb=$(csv "${RES_C[$mo$id]}")")
	done
	for id in ${IDS#m }; do
		RESULTS+=("RESULT $key ${RATIO_KEY[$id]} gbit_s=$(ratio "${MED[G${mo}m]}" "${MED[G$mo$id]}") cpu_s_per_gb=$(ratio "${MED[C${mo}m]}" "${MED[C$mo$id]}")")
	done
done
info "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${RESULTS[@]}"
