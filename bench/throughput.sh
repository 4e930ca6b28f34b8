#!/bin/bash
# bench/throughput.sh: TCP throughput and daemon CPU per GB, meshd vs wireguard-go,
# in the same run. Run as root: `bash bench/throughput.sh` (MESHD=path/to/meshd).
#
#   tunnel "m": ns $PFX-m-a (meshd wg) <====> ns $PFX-m-b (meshd wg)
#   tunnel "g": ns $PFX-g-a (wireguard-go) <====> ns $PFX-g-b (wireguard-go)
#   each:  a: 100.64.0.1 (iperf3 -c, cubic)  ---veth 198.51.100.1/.2---  b: 100.64.0.2 (iperf3 -s)
#
# BENCH_RUNS (3) runs of BENCH_SECONDS (10) per implementation, alternating
# (m g, g m, m g, ...) so drift hits both alike; one TCP stream, `-C cubic`.
# Per run: Gbit/s = iperf3 receiver bytes * 8 / seconds; CPU s/GB = (utime + stime
# of both daemons, from /proc/PID/stat before/after) / (receiver bytes / 1e9).
# Prints each run, the medians, the ratios meshd / wireguard-go, and finally
# machine-readable lines starting with "RESULT ".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/lib.sh
. "$here/../tests/netns/lib.sh"
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_SECONDS=${BENCH_SECONDS:-10}
netns_setup bt "$((BENCH_RUNS * 2 * (BENCH_SECONDS + 10) + 60))" "$@"
command -v iperf3 >/dev/null 2>&1 || skip "iperf3 not installed"
command -v wireguard-go >/dev/null 2>&1 || skip "wireguard-go not installed"
HZ=$(getconf CLK_TCK)

step "tunnels: m = meshd <-> meshd, g = wireguard-go <-> wireguard-go"
tunnel_up m meshd meshd
tunnel_up g wggo wggo
declare -A NAME=([m]=meshd [g]=wireguard-go)
for id in m g; do
	ping_first "$id-a" 100.64.0.2 15 || fail "tunnel $id: no handshake"
	bg "iperf3-s-$id" nx "$id-b" iperf3 -s -B 100.64.0.2 -p 5201
	wait_for 5 nx "$id-b" sh -c "ss -Hltn 'sport = :5201' | grep -q ." || fail "iperf3 server in $id-b"
done
info "machine: $(nproc) CPUs, $(uname -r), $("$MESHD" --version 2>/dev/null | head -n 1), $(wireguard-go --version 2>/dev/null | head -n 1)"

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

# json_sum FILE KEY: KEY from the "sum_received" object of iperf3 -J output.
json_sum() {
	awk -v k="\"$2\":" '/"sum_received"/ { f = 1 } f && $1 == k { gsub(/,/, "", $2); print $2; exit }' "$1"
}

declare -A RES_G=() RES_C=()
run_one() { # run_one ID N
	local id=$1 n=$2 j t0 t1 bytes secs gbps cpu cpg
	local pa=${IMPL_PID[$(ifname a "$id")]} pb=${IMPL_PID[$(ifname b "$id")]}
	j="$WORK/iperf-$id-$n.json"
	t0=$(ticks "$pa" "$pb")
	nx "$id-a" timeout --foreground $((BENCH_SECONDS + 20)) iperf3 -c 100.64.0.2 -p 5201 -C cubic \
		-t "$BENCH_SECONDS" -J >"$j" 2>&1 || { cat "$j"; fail "iperf3 on $id failed"; }
	t1=$(ticks "$pa" "$pb")
	bytes=$(json_sum "$j" bytes)
	secs=$(json_sum "$j" seconds)
	if [ -z "$bytes" ] || [ -z "$secs" ]; then fail "cannot parse $j"; fi
	read -r gbps cpu cpg < <(awk -v b="$bytes" -v s="$secs" -v d=$((t1 - t0)) -v hz="$HZ" \
		'BEGIN { c = d / hz; printf "%.3f %.2f %.3f\n", b * 8 / s / 1e9, c, c / (b / 1e9) }')
	RES_G[$id]+="$gbps "
	RES_C[$id]+="$cpg "
	printf '       run %d %-13s %7s Gbit/s  %6s GB  daemon CPU %6s s  %6s CPU-s/GB\n' \
		"$n" "${NAME[$id]}" "$gbps" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }')" "$cpu" "$cpg"
}

step "$BENCH_RUNS runs x ${BENCH_SECONDS}s per implementation, alternating"
for n in $(seq 1 "$BENCH_RUNS"); do
	if [ $((n % 2)) = 1 ]; then order="m g"; else order="g m"; fi
	for id in $order; do
		run_one "$id" "$n"
	done
done
for d in "$(ifname a m)" "$(ifname b m)" "$(ifname a g)" "$(ifname b g)"; do
	impl_alive "$d" || fail "daemon ${IMPL_KIND[$d]} for $d died during the runs"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mg=$(median <<<"${RES_G[m]}")
gg=$(median <<<"${RES_G[g]}")
mc=$(median <<<"${RES_C[m]}")
gc=$(median <<<"${RES_C[g]}")
rg=$(awk -v a="$mg" -v b="$gg" 'BEGIN { printf "%.2f", a / b }')
rc=$(awk -v a="$mc" -v b="$gc" 'BEGIN { printf "%.2f", a / b }')

step "medians over $BENCH_RUNS runs (one TCP stream, cubic, ${BENCH_SECONDS}s)"
printf '       %-13s %7s Gbit/s  %7s daemon CPU-s/GB\n' meshd "$mg" "$mc" wireguard-go "$gg" "$gc"
printf '       meshd / wireguard-go: throughput x%s, CPU per GB x%s\n' "$rg" "$rc"
csv() { tr -s ' ' ',' <<<"${1% }"; }
echo "RESULT throughput impl=meshd gbit_s=$mg cpu_s_per_gb=$mc runs=$BENCH_RUNS seconds=$BENCH_SECONDS all_gbit_s=$(csv "${RES_G[m]}") all_cpu_s_per_gb=$(csv "${RES_C[m]}")"
echo "RESULT throughput impl=wireguard-go gbit_s=$gg cpu_s_per_gb=$gc runs=$BENCH_RUNS seconds=$BENCH_SECONDS all_gbit_s=$(csv "${RES_G[g]}") all_cpu_s_per_gb=$(csv "${RES_C[g]}")"
echo "RESULT throughput ratio_meshd_over_wggo gbit_s=$rg cpu_s_per_gb=$rc"
