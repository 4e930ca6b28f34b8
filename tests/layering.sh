#!/bin/sh
# Layering check: lower layers never include upper ones (docs/architecture.md).
#   util  <- nothing of ours          wg    <- util (no uv, sqlite, sockets API)
#   store <- util (+ sqlite3)         nat   <- util (no uv, wg, mesh, store)
#   mesh  <- wg.h nat.h store.h util  (public headers only, no uv)
# Exit 1 and list every offending #include.
set -u
src=${top_srcdir:-$(dirname "$0")/..}/src
fail=0

check() { # layer dir, forbidden-include regex, explanation
	dir=$1 re=$2 why=$3
	[ -d "$src/$dir" ] || return 0
	hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($re)" "$src/$dir"/*.[ch] 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "layering: $dir must not include $why:"
		echo "$hits" | sed 's/^/  /'
		fail=1
	fi
}

check util "(wg|mesh|nat|store)/|uv\\.h|sqlite3\\.h" "wg/mesh/nat/store, libuv or sqlite"
check wg "(mesh|nat|store)/|uv\\.h|sqlite3\\.h|sys/socket\\.h|linux/|net/if\\.h|natpmp|miniupnpc" "mesh/nat/store, libuv, sqlite or the socket API"
check store "(wg|mesh|nat)/|uv\\.h" "wg/mesh/nat or libuv"
check nat "(wg|mesh|store)/|uv\\.h|sqlite3\\.h" "wg/mesh/store, libuv or sqlite"
check mesh "uv\\.h|sqlite3\\.h|wg/(noise|peer|timers|cookie|replay|allowedips|messages|index)\\.h" "libuv, sqlite or wg internals"

[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
