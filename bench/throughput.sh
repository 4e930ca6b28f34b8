#!/bin/bash
# bench/throughput.sh: TCP throughput and daemon CPU per GB, meshd vs Debian's
# wireguard-go vs today's upstream wireguard-go, in the same run. Run as root:
# `bash bench/throughput.sh` (MESHD=path/to/meshd, WGGO_MODERN=path/to/binary).
#
#   tunnel "m": ns $PFX-m-a (meshd wg) <====> ns $PFX-m-b (meshd wg)
#   tunnel "g": ns $PFX-g-a (wireguard-go) <====> ns $PFX-g-b (wireguard-go)
#   tunnel "w": ns $PFX-w-a (wireguard-go-modern) <====> ns $PFX-w-b (same)
#   each:  a: 100.64.0.1 (iperf3 -c, cubic)  ---veth 198.51.100.1/.2---  b: 100.64.0.2 (iperf3 -s)
#
# WGGO_MODERN defaults to ../shared/anchors/wireguard-go-modern next to the
# repository (upstream v0.0.20250522 with GSO/GRO and TUN offloads, see its
# README); when it is not there the run goes on with m and g only.
# BENCH_RUNS (3) runs of BENCH_SECONDS (10) per implementation, interleaved
# with a rotating order (m g w, g w m, w m g, ...) so drift hits all alike;
# one TCP stream, `-C cubic`.
# Per run: Gbit/s = iperf3 receiver bytes * 8 / seconds; CPU s/GB = (utime + stime
# of both daemons, from /proc/PID/stat before/after) / (receiver bytes / 1e9).
# Prints each run, the medians, the ratios meshd / wireguard-go and meshd /
# wireguard-go-modern, and finally machine-readable lines starting with "RESULT ".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/lib.sh
. "$here/../tests/netns/lib.sh"
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_SECONDS=${BENCH_SECONDS:-10}
WGGO_MODERN=${WGGO_MODERN:-$here/../../shared/anchors/wireguard-go-modern}
netns_setup bt "$((BENCH_RUNS * 3 * (BENCH_SECONDS + 10) + 90))" "$@"
command -v iperf3 >/dev/null 2>&1 || skip "iperf3 not installed"
command -v wireguard-go >/dev/null 2>&1 || skip "wireguard-go not installed"
HZ=$(getconf CLK_TCK)
IDS="m g"
if [ -x "$WGGO_MODERN" ]; then
	IDS="m g w"
	WGGO_MODERN=$(readlink -f "$WGGO_MODERN")
else
	warn "WGGO_MODERN=$WGGO_MODERN is not an executable: running without it"
fi

step "tunnels: m = meshd <-> meshd, g = wireguard-go <-> wireguard-go"
[ "$IDS" = "m g" ] || info "and w = wireguard-go-modern <-> wireguard-go-modern ($WGGO_MODERN)"
tunnel_up m meshd meshd
tunnel_up g wggo wggo
if [ "$IDS" = "m g w" ]; then
	# lib.sh starts "wggo" as `wireguard-go` found in PATH: a private bin
	# directory with that name in front makes it start the modern binary.
	mkdir "$WORK/modern-bin"
	ln -s "$WGGO_MODERN" "$WORK/modern-bin/wireguard-go"
	PATH="$WORK/modern-bin:$PATH" tunnel_up w wggo wggo
fi
declare -A NAME=([m]=meshd [g]=wireguard-go [w]=wireguard-go-modern)
for id in $IDS; do
	ping_first "$id-a" 100.64.0.2 15 || fail "tunnel $id: no handshake"
	bg "iperf3-s-$id" nx "$id-b" iperf3 -s -B 100.64.0.2 -p 5201
	wait_for 5 nx "$id-b" sh -c "ss -Hltn 'sport = :5201' | grep -q ." || fail "iperf3 server in $id-b"
done
info "machine: $(nproc) CPUs, $(uname -r), $("$MESHD" --version 2>/dev/null | head -n 1), $(wireguard-go --version 2>/dev/null | head -n 1)"
[ "$IDS" = "m g" ] || info "modern: $("$WGGO_MODERN" --version 2>/dev/null | head -n 1), running $(readlink "/proc/${IMPL_PID[$(ifname a w)]}/exe")"
info "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

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
	printf '       run %d %-20s %7s Gbit/s  %6s GB  daemon CPU %6s s  %6s CPU-s/GB\n' \
		"$n" "${NAME[$id]}" "$gbps" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }')" "$cpu" "$cpg"
}

step "$BENCH_RUNS runs x ${BENCH_SECONDS}s per implementation, interleaved"
read -r -a ring <<<"$IDS"
for n in $(seq 1 "$BENCH_RUNS"); do
	# rotate the order each run: m g w, g w m, w m g, ...
	for k in $(seq 0 $((${#ring[@]} - 1))); do
		run_one "${ring[$(((n - 1 + k) % ${#ring[@]}))]}" "$n"
	done
done
info "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
for id in $IDS; do
	for d in "$(ifname a "$id")" "$(ifname b "$id")"; do
		impl_alive "$d" || fail "daemon ${NAME[$id]} for $d died during the runs"
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A MED_G=() MED_C=()
for id in $IDS; do
	MED_G[$id]=$(median <<<"${RES_G[$id]}")
	MED_C[$id]=$(median <<<"${RES_C[$id]}")
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

step "medians over $BENCH_RUNS runs (one TCP stream, cubic, ${BENCH_SECONDS}s)"
for id in $IDS; do
	printf '       %-20s %7s Gbit/s  %7s daemon CPU-s/GB\n' "${NAME[$id]}" "${MED_G[$id]}" "${MED_C[$id]}"
done
declare -A RATIO_KEY=([g]=ratio_meshd_over_wggo [w]=ratio_meshd_over_modern)
for id in ${IDS#m }; do
	printf '       meshd / %-20s throughput x%s, CPU per GB x%s\n' "${NAME[$id]}:" \
		"$(ratio "${MED_G[m]}" "${MED_G[$id]}")" "$(ratio "${MED_C[m]}" "${MED_C[$id]}")"
done
csv() { tr -s ' ' ',' <<<"${1% }"; }
for id in $IDS; do
	echo "RESULT throughput impl=${NAME[$id]} gbit_s=${MED_G[$id]} cpu_s_per_gb=${MED_C[$id]} runs=$BENCH_RUNS seconds=$BENCH_SECONDS all_gbit_s=$(csv "${RES_G[$id]}") all_cpu_s_per_gb=$(csv "${RES_C[$id]}")"
done
for id in ${IDS#m }; do
	echo "RESULT throughput ${RATIO_KEY[$id]} gbit_s=$(ratio "${MED_G[m]}" "${MED_G[$id]}") cpu_s_per_gb=$(ratio "${MED_C[m]}" "${MED_C[$id]}")"
done
