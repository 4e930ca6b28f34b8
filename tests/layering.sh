#!/bin/sh
# Layering guard: every #include in src/ must be on its layer's allow-list
# (docs/architecture.md "Dependency rules"). An allow-list, not a deny-regex:
# a header nobody thought of forbidding is refused until a rule names it.
#
#   util  <- nothing of ours          (libc, libsodium)
#   wg    <- util                     (+ libsodium, libb2, OpenSSL EVP)
#   store <- util                     (+ sqlite3)
#   nat   <- util                     (+ libnatpmp/miniupnpc in natpmp.c/upnp.c only)
#   mesh  <- wg/wg.h, nat public headers, store/store.h, util
#   top   <- public headers of every layer; the only place for libuv,
#            sockets, TUN, netlink, signals (src/*.c, src/*.h)
#
# Three checks per file F of layer L:
#   1. each project header F includes is in L's own directory or on L's
#      "proj" list;
#   2. each system header F includes is on L's "sys" list or F's own line;
#   3. following project headers transitively (F -> a.h -> b.h ...), every
#      project header reached must pass check 1 for L, and no system header
#      reached may be on L's "never" list: a public header that drags
#      <sqlite3.h> or a private header into an upper layer fails there.
# Includes are resolved as the compiler does with -I src: "x.h" first next
# to the including file, then under src/; <x/y.h> under src/ if it exists
# there, else it is a system header. config.h (generated, macros only) is
# allowed everywhere.
#
# Usage: tests/layering.sh [SRCDIR]     (default: $top_srcdir/src)
# Exit 0 when clean, 1 listing every offending include, 99 on a usage error.
set -u
src=${1:-${top_srcdir:-$(dirname "$0")/..}/src}
if [ ! -d "$src" ]; then
	echo "layering: no source directory '$src'" >&2
	exit 99
fi

# Harmless libc headers: types, strings, formatting. No clock, no sockets.
LIBC='assert.h ctype.h errno.h inttypes.h limits.h stdalign.h stdarg.h stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h'
# System headers no lower layer may reach, not even through a project
# header: the event loop, the database, the port-mapping libraries,
# netlink/TUN, signals, polling and threads belong to src/ top level.
NEVER_BUT_DB='uv.h uv/* natpmp.h miniupnpc/* libmnl/* linux/* signal.h sys/un.h sys/ioctl.h sys/select.h sys/epoll.h poll.h ifaddrs.h pthread.h'
NEVER="$NEVER_BUT_DB sqlite3.h"

# One rule per line: WHO KIND PATTERNS...
#   WHO   a layer (util wg store nat mesh top) or one file (path under src/)
#   KIND  proj:  project headers (paths under src/) beyond the layer's own
#         sys:   system headers
#         never: system headers not reachable even through project headers
# Patterns are shell-style: * matches within one path component; ANY
# matches everything. A file line only adds to its layer's sys list.
rules=$(cat <<EOF
util  sys   $LIBC sodium.h
util  never $NEVER
util/addr.h sys netinet/in.h sys/socket.h
util/addr.c sys arpa/inet.h net/if.h
util/log.c  sys time.h

wg    proj  util/*
wg    sys   $LIBC sodium.h blake2.h openssl/crypto.h openssl/evp.h
wg    never $NEVER
wg/allowedips.c sys netinet/in.h
wg/crypto.c sys stdatomic.h

store proj  util/*
store sys   $LIBC sqlite3.h sodium.h arpa/inet.h
store never $NEVER_BUT_DB
store/db.c  sys fcntl.h sys/stat.h unistd.h

nat   proj  util/*
nat   sys   $LIBC netinet/in.h arpa/inet.h
nat   never $NEVER
nat/natpmp.c sys natpmp.h sys/select.h sys/socket.h sys/time.h time.h
nat/upnp.c   sys miniupnpc/* sys/socket.h unistd.h

mesh  proj  util/* wg/wg.h nat/nat.h nat/portmap.h store/store.h
mesh  sys   $LIBC sodium.h arpa/inet.h
mesh  never $NEVER

top   proj  * util/* wg/wg.h store/store.h nat/* mesh/*
top   sys   ANY
EOF
)
# Why the less obvious entries are there:
#   util/addr.h    union endpoint is made of sockaddr_in/sockaddr_in6 (types
#                  only; no socket calls anywhere in util)
#   util/addr.c    inet_pton/inet_ntop and if_nametoindex for "[v6%scope]"
#   util/log.c     timestamps on log lines
#   wg/allowedips.c AF_INET/AF_INET6 constants
#   wg/crypto.c    C11 atomics: ids of keys that are unique across threads
#                  (the shared AEAD contexts are per thread)
#   store: sodium  sodium_memzero before freeing rows that held secrets
#   store/db.c     creates the database file with mode 0600
#   nat/natpmp.c   libnatpmp hands back a socket to wait on with select()
#   arpa/inet.h    address text <-> binary and byte order; no syscalls
#   mesh -> nat    the state machine (portmap.h), never the blocking
#                  backends (backend.h), which only src/portmap_run.c runs
#                  (nat/nat.h: the public API docs/architecture names)

cd "$src" || exit 99
files=$(find . -type f \( -name '*.c' -o -name '*.h' \) | sed 's|^\./||' | LC_ALL=C sort)
if [ -z "$files" ]; then
	echo "layering: no .c/.h files under '$src'" >&2
	exit 99
fi

{
	printf '%s\n' "$rules" | sed -n 's/^\([^[:space:]]\)/R \1/p'
	printf '%s\n' "$files" | sed 's/^/F /'
	# shellcheck disable=SC2086 # word splitting of the file list is wanted
	grep -HnE '^[[:space:]]*#[[:space:]]*include' $files | sed 's/^/I /'
} | awk '
function glob2re(g,   re, i, c) {
	if (g == "ANY")
		return ".*"
	re = "^"
	for (i = 1; i <= length(g); i++) {
		c = substr(g, i, 1)
		if (c == "*")
			re = re "[^/]*"
		else if (c == "?")
			re = re "[^/]"
		else if (index(".[]()+{}^$|\\", c))
			re = re "\\" c
		else
			re = re c
	}
	return re "$"
}
function matches(list, name,   n, a, i) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++)
		if (name ~ a[i])
			return 1
	return 0
}
function layer_of(p,   i) {
	i = index(p, "/")
	return i ? substr(p, 1, i - 1) : "top"
}
# Collapse "." and ".." so "../daemon.h" from wg/x.c names "daemon.h";
# a path that climbs out of src/ becomes "" (not a project header).
function normalize(p,   n, a, out, k, i, r) {
	n = split(p, a, "/")
	k = 0
	for (i = 1; i <= n; i++) {
		if (a[i] == "" || a[i] == ".")
			continue
		if (a[i] == "..") {
			if (k == 0)
				return ""
			k--
			continue
		}
		out[++k] = a[i]
	}
	r = ""
	for (i = 1; i <= k; i++)
		r = r (i > 1 ? "/" : "") out[i]
	return r
}
function dirname(p,   i) {
	for (i = length(p); i > 0; i--)
		if (substr(p, i, 1) == "/")
			return substr(p, 1, i)
	return ""
}
# A project path ("" when the name is a system header), as -I src does.
function resolve(f, delim, name,   c) {
	if (delim == "\"") {
		c = normalize(dirname(f) name)
		if (c != "" && (c in exists))
			return c
	}
	c = normalize(name)
	if (c != "" && (c in exists))
		return c
	return ""
}
function shown(k, name) {
	return k == "\"" ? "\"" name "\"" : "<" name ">"
}
function complain(key, msg) {
	if (key in said)
		return
	said[key] = 1
	print "layering: " msg
	bad = 1
}
# May a file of layer L use project header p (directly or through others)?
function proj_ok(L, p) {
	return p == "config.h" || layer_of(p) == L || matches(proj[L], p)
}
# Below a header that is itself refused (inbad), only "never" headers are
# worth adding to the report; its other project headers are noise.
function walk(f, L, h, chain, inbad,   i, p, n, ok) {
	if (h in seen)
		return
	seen[h] = 1
	for (i = 1; i <= ninc[h]; i++) {
		p = res[h, i]
		n = iname[h, i]
		if (p != "") {
			ok = proj_ok(L, p)
			if (!ok && !inbad)
				complain(f SUBSEP p, f ": reaches " shown(ikind[h, i], n) \
				    " (src/" p ", " layer_of(p) ") via " chain " " h ":" iline[h, i] \
				    "; " L " may not depend on it")
			walk(f, L, p, chain " " h ":" iline[h, i] " ->", inbad || !ok)
		} else if (matches(never[L], n))
			complain(f SUBSEP n, f ": reaches <" n "> via " chain " " h ":" iline[h, i] \
			    "; " L " never depends on it")
	}
}
$1 == "R" {
	who = $2; kind = $3; pats = ""
	for (i = 4; i <= NF; i++)
		pats = pats " " glob2re($i)
	if (who in known_layer || index(who, "/") == 0) {
		known_layer[who] = 1
		if (kind == "proj") proj[who] = proj[who] pats
		else if (kind == "sys") sys[who] = sys[who] pats
		else if (kind == "never") never[who] = never[who] pats
		else { print "layering: bad rule kind " kind > "/dev/stderr"; bad = 99; exit }
	} else if (kind == "sys")
		fsys[who] = fsys[who] pats
	else { print "layering: file rules may only add sys headers: " who > "/dev/stderr"; bad = 99; exit }
	next
}
$1 == "F" { exists[$2] = 1; order[++nfiles] = $2; next }
$1 == "I" {
	line = substr($0, 3)
	f = line; sub(/:.*/, "", f)
	rest = substr(line, length(f) + 2)
	ln = rest; sub(/:.*/, "", ln)
	text = substr(rest, length(ln) + 2)
	k = ++ninc[f]
	iline[f, k] = ln
	if (match(text, /^[ \t]*#[ \t]*include[ \t]*"[^"]*"/) || \
	    match(text, /^[ \t]*#[ \t]*include[ \t]*<[^>]*>/)) {
		t = substr(text, RSTART, RLENGTH)
		sub(/^[ \t]*#[ \t]*include[ \t]*/, "", t)
		ikind[f, k] = substr(t, 1, 1)
		iname[f, k] = substr(t, 2, length(t) - 2)
	} else {
		ikind[f, k] = "?"
		iname[f, k] = text
	}
	next
}
END {
	if (bad == 99)
		exit 99
	for (x = 1; x <= nfiles; x++) {
		f = order[x]
		for (i = 1; i <= ninc[f]; i++)
			res[f, i] = ikind[f, i] == "?" ? "" : resolve(f, ikind[f, i], iname[f, i])
	}
	for (x = 1; x <= nfiles; x++) {
		f = order[x]
		L = layer_of(f)
		if (!(L in known_layer)) {
			complain(f, f ": no rules for directory src/" L "/ (add it to tests/layering.sh)")
			continue
		}
		for (i = 1; i <= ninc[f]; i++) {
			n = iname[f, i]
			p = res[f, i]
			where = f ":" iline[f, i] ": "
			if (ikind[f, i] == "?")
				complain(f SUBSEP i, where "cannot check computed include: " n)
			else if (p != "") {
				if (!proj_ok(L, p))
					complain(f SUBSEP p, where L " may not include " shown(ikind[f, i], n) \
					    " (src/" p ", " layer_of(p) ")")
			} else if (n != "config.h" && !matches(sys[L] fsys[f], n))
				complain(f SUBSEP n, where L " may not include " shown(ikind[f, i], n))
		}
		split("", seen)
		seen[f] = 1
		for (i = 1; i <= ninc[f]; i++)
			if (res[f, i] != "")
				walk(f, L, res[f, i], f ":" iline[f, i] " ->", !proj_ok(L, res[f, i]))
	}
	if (!bad)
		print "layering: ok (" nfiles " files)"
	exit bad
}'
