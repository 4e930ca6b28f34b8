#!/bin/bash
# scale50.sh: bench/scale.sh with 50 members, as a pass/fail test (~80 s).
#
# Runs the bench (its own namespaces, prefix mdsc<PID>, permanent neighbour
# entries for all members so the shared kernel ARP table is not touched) and
# checks its RESULT line for behaviour, not speed (timings are the bench's
# business; its bounds are generous):
#   - all 49 joins succeed;
#   - every ordered pair (2450) is direct before SCALE_CONV_MAX_S (120 s);
#   - every sampled pair answers pings over IPv4 and IPv6 and stays direct;
#   - the revoked member is gone from every status within 60 s.
# MESHD_SKIP_SLOW=1 skips it, as for rekey.sh.
set -eu
DIR=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || exit 77
[ "${MESHD_SKIP_NETNS:-0}" = 1 ] && exit 77
[ "${MESHD_SKIP_SLOW:-0}" = 1 ] && exit 77
OUT=$(mktemp /tmp/scale50.XXXXXX)
trap 'rm -f "$OUT"' EXIT
rc=0
SCALE_CONV_MAX_S=${SCALE_CONV_MAX_S:-120} SCALE_IDLE_S=${SCALE_IDLE_S:-3} \
	bash "$DIR/../../bench/scale.sh" 50 >"$OUT" 2>&1 || rc=$?
cat "$OUT"
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || { echo "FAIL: bench/scale.sh exited $rc"; exit 1; }
res=$(grep '^RESULT scale ' "$OUT" | tail -n 1)
[ -n "$res" ] || { echo "FAIL: no RESULT line"; exit 1; }
val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$res"; }
bad=
chk() { [ "$2" = "$3" ] || { echo "FAIL: $1: $2 (want $3)"; bad=1; }; }
chk joins_ok "$(val joins_ok)" 49
chk joins_failed "$(val joins_failed)" 0
chk direct "$(val direct)" "$(val pairs)"
chk ping4_ok "$(val ping4_ok)" "$(val ping_pairs)"
chk ping6_ok "$(val ping6_ok)" "$(val ping_pairs)"
chk ping_direct "$(val ping_direct)" "$(val ping_pairs)"
chk scrape_peers "$(val scrape_peers)" 49
[ -n "$(val conv_s)" ] || { echo "FAIL: not converged"; bad=1; }
[ -n "$(val revoke_s)" ] || { echo "FAIL: revocation did not reach every member within 60 s"; bad=1; }
[ -z "$bad" ] || exit 1
echo "PASS: 50 members: $res"
