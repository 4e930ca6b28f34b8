#!/bin/sh
# Self-test of tests/layering.sh: a guard that never fails guards nothing.
# Copies src/ to a temporary directory, checks that the copy passes, then
# injects one forbidden #include at a time (at line 1 of a file) and checks
# that the guard refuses it for the right reason: by default a complaint at
# FILE:1, or the EXPECT text given for cases that only the transitive check
# can see. The file is restored after each case.
set -u
top=${top_srcdir:-$(dirname "$0")/..}
guard=$top/tests/layering.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/layering_selftest.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
cp -R "$top/src" "$tmp/src" || exit 99

fail=0
runs=0
refused=0

if ! out=$(sh "$guard" "$tmp/src" 2>&1); then
	echo "FAIL: the clean copy of src/ does not pass:"
	printf '%s\n' "$out" | sed 's/^/  /'
	exit 1
fi
echo "ok: clean copy passes ($out)"

# FILE | INCLUDE LINE | EXPECT (empty: a complaint at FILE:1)
while IFS='|' read -r file inc expect; do
	case $file in ''|\#*) continue ;; esac
	if [ ! -f "$tmp/src/$file" ]; then
		echo "FAIL: case names a missing file src/$file"
		fail=1
		continue
	fi
	[ -n "$expect" ] || expect="$file:1: "
	cp "$tmp/src/$file" "$tmp/orig"
	{ printf '%s\n' "$inc"; cat "$tmp/orig"; } >"$tmp/src/$file"
	out=$(sh "$guard" "$tmp/src" 2>&1)
	rc=$?
	cp "$tmp/orig" "$tmp/src/$file"
	runs=$((runs + 1))
	if [ $rc -ne 1 ]; then
		echo "FAIL: $file: '$inc' not refused (exit $rc)"
		fail=1
	elif ! printf '%s\n' "$out" | grep -qF -- "$expect"; then
		echo "FAIL: $file: '$inc' refused, but not with '$expect':"
		printf '%s\n' "$out" | sed 's/^/  /'
		fail=1
	else
		refused=$((refused + 1))
		echo "ok: $file: $inc"
	fi
done <<'EOF'
# upward includes of a src/ top-level header
mesh/gossip.c|#include "daemon.h"|
store/db.c|#include "wgdev.h"|
wg/noise.c|#include "schedule.h"|wg/noise.c: reaches <uv.h> via wg/noise.c:1 -> schedule.h:
wg/peer.c|#include "../udp.h"|
mesh/cert.c|#include "../tun.h"|
nat/portmap.c|#include "portmap_run.h"|
util/log.c|#include "status.h"|
# sideways and upward between layers
wg/timers.c|#include "mesh/node.h"|
wg/send.c|#include "store/store.h"|
wg/cookie.c|#include "nat/portmap.h"|
util/buf.c|#include "wg/wg.h"|
util/addr.c|#include "mesh/wire.h"|
store/node.c|#include "mesh/cert.h"|
store/members.c|#include "nat/portmap.h"|
store/records.c|#include "wg/wg.h"|
nat/portmap.c|#include "wg/wg.h"|
nat/portmap.c|#include "store/store.h"|
nat/upnp.c|#include "mesh/path.h"|
# private headers of another layer
mesh/gossip.c|#include "store/internal.h"|
mesh/gossip.c|#include "wg/noise.h"|
mesh/records.c|#include <wg/peer.h>|
mesh/path.c|#include "wg/messages.h"|
mesh/relay.c|#include "nat/backend.h"|
daemon.c|#include "wg/timers.h"|
status.c|#include "store/internal.h"|
# system headers outside a layer's allow-list
mesh/gossip.c|#include <sys/socket.h>|
mesh/gossip.c|#include <netinet/in.h>|
mesh/path.c|#include <sqlite3.h>|
mesh/node.c|#include <uv.h>|
mesh/join_wire.c|#include <time.h>|
mesh/dns.c|#include <linux/rtnetlink.h>|
mesh/wire.h|  #  include <signal.h>|
nat/portmap.c|#include <uv.h>|
nat/portmap.c|#include <natpmp.h>|
nat/portmap.h|#include <miniupnpc/miniupnpc.h>|
nat/upnp.c|#include <natpmp.h>|
nat/natpmp.c|#include <miniupnpc/upnpcommands.h>|
wg/send.c|#include <sqlite3.h>|
wg/send.c|#include <sys/socket.h>|
wg/receive.c|#include <uv.h>|
wg/crypto.c|#include <time.h>|
wg/noise.c|#include <openssl/ssl.h>|
wg/allowedips.c|#include <arpa/inet.h>|
store/db.c|#include <uv.h>|
store/members.c|#include <fcntl.h>|
util/err.c|#include <sqlite3.h>|
util/hex.c|#include <uv.h>|
util/buf.h|#include <sys/socket.h>|
# computed includes cannot be checked
wg/cookie.c|#include HEADER_NAME|
# only the transitive check sees these: the header itself is legal in its
# own layer, but the layers above it may not reach what it pulls in
store/store.h|#include <sqlite3.h>|mesh/node.c: reaches <sqlite3.h> via
wg/wg.h|#include "wg/messages.h"|mesh/node.c: reaches "wg/messages.h"
store/store.h|#include "store/internal.h"|mesh/node.h: reaches "store/internal.h"
util/time.h|#include <uv.h>|wg/timers.c: reaches <uv.h> via
EOF

# A new directory under src/ has no rules yet: refused until it gets some.
mkdir "$tmp/src/newlayer" && printf '#include <string.h>\n' >"$tmp/src/newlayer/x.c"
runs=$((runs + 1))
out=$(sh "$guard" "$tmp/src" 2>&1)
if [ $? -eq 1 ] && printf '%s\n' "$out" | grep -qF 'newlayer/x.c: no rules for directory'; then
	refused=$((refused + 1))
	echo "ok: newlayer/x.c: a directory without rules"
else
	echo "FAIL: a file in a directory without rules was not refused:"
	printf '%s\n' "$out" | sed 's/^/  /'
	fail=1
fi
rm -r "$tmp/src/newlayer"

# The copy was restored after every case: it must be clean again.
if ! out=$(sh "$guard" "$tmp/src" 2>&1); then
	echo "FAIL: the restored copy does not pass:"
	printf '%s\n' "$out" | sed 's/^/  /'
	fail=1
fi
echo "layering_selftest: $refused of $runs injections refused as expected"
[ "$runs" -gt 0 ] || fail=1
exit $fail
