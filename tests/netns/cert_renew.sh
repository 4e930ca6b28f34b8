#!/bin/bash
# cert_renew.sh (slow, ~5 min): certificates renew themselves.
#
#   ns $PFX-n1 (admin) $PFX-n2 $PFX-n3: one meshd node each, own -d DIR
#   e0 198.18.0.K/24 --veth-- pK in ns $PFX-lan (bridge br0)
#
# n1 runs `init --cert-ttl 90s`; n2, n3 join. For CR_SECONDS (default 300,
# more than 3 TTLs) every node pings the two others each 10 s; every node
# must keep listing both others with path direct, and each node's own and
# peers' cert_expires must move forward (a member outliving 90 s is only
# possible when renewed). MESHD_SKIP_SLOW=1 skips the test.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
[ "${MESHD_SKIP_SLOW:-0}" = 1 ] && skip "MESHD_SKIP_SLOW=1 (cert_renew.sh takes ~5 minutes)"
CR_SECONDS=${CR_SECONDS:-300}
netns_setup cr "$((CR_SECONDS + 120))" "$@"
command -v python3 >/dev/null 2>&1 || skip "'python3' not installed"
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

ALL="n1 n2 n3"
declare -A NODE_IF=()
ndir() { printf '%s/%s' "$WORK" "$1"; }
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL=info "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}
track() {
	local pid
	pid=$(cat "$(ndir "$1")/meshd.pid" 2>/dev/null) || fail "$1: no meshd.pid"
	kill -0 "$pid" 2>/dev/null || fail "$1: daemon $pid not running"
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$1]}.sock")
}
st() { m "$1" status -d "$(ndir "$1")" --json >"$WORK/$1.json" 2>/dev/null || : >"$WORK/$1.json"; }
# check NODE: prints "self_expiry min_peer_expiry overlay_ipv4 ...peers' ipv4"
# when NODE lists the 2 others with path direct; exit 1 otherwise.
check() {
	st "$1"
	python3 - "$WORK/$1.json" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
p = j["peers"]
if len(p) != 2 or any(x["path"] != "direct" for x in p):
    print("peers: " + ", ".join("%s %s" % (x["name"], x["path"]) for x in p)); sys.exit(1)
print(j["node"]["cert_expires"], min(x["cert_expires"] for x in p),
      " ".join(x["overlay_ipv4"] for x in p))
PY
}
diag_dump() {
	local n
	set +e
	for n in $ALL; do
		echo "----- $n -----"
		[ -d "$(ndir "$n")" ] && timeout 3 ip netns exec "$(nsname "$n")" "$MESHD" status -d "$(ndir "$n")" 2>&1 | sed 's/^/    | /'
		[ -s "$WORK/$n.err" ] && tail -n 20 "$WORK/$n.err" | sed 's/^/    | /'
	done
}

step "topology: 3 nodes on one bridge"
ns_add lan
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
k=0
for n in $ALL; do
	k=$((k + 1))
	ns_add "$n"
	veth_add "$n" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	addr_add "$n" e0 "198.18.0.$k/24"
	NODE_IF[$n]=$(ifname m "$k")
done

step "n1: init --cert-ttl 90s + up; n2, n3 join"
m n1 init -d "$(ndir n1)" --name n1 --cert-ttl 90s >"$WORK/init.out" || fail "init failed"
grep -q 'last 90 s' "$WORK/init.out" || fail "init does not report 90 s certificates"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" >/dev/null || fail "n1: up failed"
track n1
for n in n2 n3; do
	tok=$(m n1 invite -d "$(ndir n1)" --uses 1) || fail "invite for $n failed"
	m "$n" join "$tok" -d "$(ndir "$n")" --name "$n" -i "${NODE_IF[$n]}" >/dev/null || fail "$n: join failed"
	track "$n"
done
conv() { local n; for n in $ALL; do check "$n" >/dev/null || return 1; done; }
wait_for 30 conv || fail "not converged within 30 s"
declare -A E0=() P0=()
for n in $ALL; do
	read -r E0[$n] P0[$n] _ < <(check "$n")
	info "$n: cert expires ${E0[$n]} ($((E0[$n] - $(date +%s))) s from now), peers' from ${P0[$n]}"
done
pass "converged; certificates last 90 s"

step "${CR_SECONDS}s: pings every 10 s, paths direct, cert_expires moving"
end=$(($(date +%s) + CR_SECONDS))
rounds=0 pings=0 lost=0
while [ "$(date +%s)" -lt "$end" ]; do
	for n in $ALL; do
		out=$(check "$n") || fail "$n: $out (after $rounds rounds)"
		read -r e p ips <<<"$out"
		[ "$e" -gt "$(date +%s)" ] || fail "$n: own cert expired ($e)"
		[ "$p" -gt "$(date +%s)" ] || fail "$n: a peer's cert expired ($p)"
		for ip in $ips; do
			pings=$((pings + 1))
			if ! nx "$n" ping -n -q -c1 -W2 "$ip" >/dev/null 2>&1; then
				lost=$((lost + 1))
				nx "$n" ping -n -q -c1 -W2 "$ip" >/dev/null 2>&1 || fail "$n cannot ping $ip"
			fi
		done
	done
	rounds=$((rounds + 1))
	sleep 10
done
pass "$rounds rounds, $pings pings ($lost retried), every path direct throughout"
for n in $ALL; do
	read -r e p _ < <(check "$n") || fail "$n: lost its peers at the end"
	info "$n: cert expires $e (+$((e - E0[$n])) s), peers' from $p (+$((p - P0[$n])) s)"
	[ $((e - E0[$n])) -ge 180 ] || fail "$n: own cert_expires moved only $((e - E0[$n])) s"
	[ $((p - P0[$n])) -ge 180 ] || fail "$n: peers' cert_expires moved only $((p - P0[$n])) s"
	grep -q 'no admin has renewed' "$WORK/$n.err" && fail "$n warned about an unrenewed cert"
done
c=$(grep -c 'renewed the certificate of' "$WORK/n1.err" || true)
pass "cert_renew: 3 nodes outlived $((CR_SECONDS / 90)) TTLs of 90 s; n1 logged $c renewals"
