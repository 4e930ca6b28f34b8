#!/bin/sh
# tests/install.sh: `make install DESTDIR=...` puts the binary, the man page,
# both systemd units (bindir substituted into meshd.service) and the bash
# completion under DESTDIR; the mesh unit carries its hardening lines; with
# systemd-analyze available, the unit verifies and its exposure is printed.
set -u
: "${top_builddir:=$(pwd)}"
MAKE=${MAKE:-make}
T=$(mktemp -d /tmp/meshd-install.XXXXXX) || exit 99
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

$MAKE -s -C "$top_builddir" install DESTDIR="$T/d" >"$T/log" 2>&1 || { cat "$T/log" >&2; fail "make install"; }
bin=$(find "$T/d" -path '*/bin/meshd' -type f | head -n 1)
unit=$(find "$T/d" -path '*/systemd/system/meshd.service' -type f | head -n 1)
[ -n "$bin" ] && [ -x "$bin" ] || fail "no bin/meshd"
[ -n "$unit" ] || fail "no systemd/system/meshd.service"
[ -n "$(find "$T/d" -path '*/systemd/system/meshd-wg@.service')" ] || fail "no meshd-wg@.service"
[ -n "$(find "$T/d" -path '*/man8/meshd.8*')" ] || fail "no man page"
[ -n "$(find "$T/d" -path '*/bash-completion/completions/meshd')" ] || fail "no bash completion"
grep -q '@bindir@' "$unit" && fail "unit still holds @bindir@"
"$bin" --version >/dev/null || fail "installed meshd does not run"
for l in 'ExecStart=/.*/meshd up -f' 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE' \
	'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
	'StateDirectory=meshd' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' \
	'DeviceAllow=/dev/net/tun' 'SystemCallFilter=@system-service'; do
	grep -Eq "^$l" "$unit" || fail "unit lacks '$l'"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# point ExecStart at the DESTDIR binary so verify can find it
	sed "s|^ExecStart=.*meshd |ExecStart=$bin |; s|^ExecStop=.*meshd |ExecStop=$bin |" "$unit" >"$T/meshd.service"
	timeout 60 systemd-analyze verify "$T/meshd.service" >"$T/verify" 2>&1
	# the man page is not installed on this system: that line is expected
	if grep -v "man meshd(8)" "$T/verify" | grep -q .; then
		cat "$T/verify" >&2
		fail "systemd-analyze verify"
	fi
	timeout 60 systemd-analyze security --offline=yes "$T/meshd.service" 2>/dev/null | tail -n 1
fi
echo "install ok: $(find "$T/d" -type f | wc -l) files"
