#!/bin/bash
# scripts/setup.sh: from a fresh clone on Debian 12, as root, in one command:
#
#   ./scripts/setup.sh demo    install dependencies, build, run contrib/demo.sh
#   ./scripts/setup.sh check   install dependencies, build, run the whole test suite
#                              (what .ci/run calls)
#   ./scripts/setup.sh deps    only install the dependencies
#   ./scripts/setup.sh build   only install the dependencies and build
#
# Packages already installed are not reinstalled; apt-get runs only when one is
# missing (with --no-install-recommends: wireguard-tools would otherwise pull in
# a kernel and systemd). Then `autoreconf -fi`, and the build goes to
# $BUILD_DIR (default ./build), configured with --enable-werror.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
BUILD_DIR=${BUILD_DIR:-$top/build}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# Build dependencies, then what the tests and the demo run.
DEPS_BUILD="build-essential autoconf automake libtool pkg-config libsodium-dev
libuv1-dev libsqlite3-dev libb2-dev libssl-dev check libmnl-dev libnatpmp-dev libminiupnpc-dev"
DEPS_RUN="wireguard-go wireguard-tools iperf3 nftables iproute2 iputils-ping
netcat-openbsd procps python3 miniupnpd-nftables miniupnpc natpmpc curl
python3-prometheus-client graphviz"
# miniupnpd runs only inside the port-mapping test's router namespace, with
# the test's own configuration: installed without recommends,
# miniupnpd-nftables brings the binary and no service unit.
# Only for the fuzz smoke run (tests/fuzz/run.sh: clang with libFuzzer).
DEPS_FUZZ="clang libclang-rt-14-dev"

usage() {
	sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

say() { printf 'setup: %s\n' "$*"; }

install_deps() {
	missing=""
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case $st in
		*" ok installed") ;;
		*) missing="$missing $p" ;;
		esac
	done
	if [ -z "$missing" ]; then
		say "dependencies already installed"
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		say "missing packages:$missing; run as root (or install them yourself)" >&2
		exit 1
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	apt-get install -y --no-install-recommends $missing </dev/null
}

build() {
	cd "$top"
	say "autoreconf -fi"
	autoreconf -fi
	mkdir -p "$BUILD_DIR"
	cd "$BUILD_DIR"
	if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
		say "configure --enable-werror (in $BUILD_DIR)"
		"$top/configure" --enable-werror
	fi
	say "make -j$JOBS"
	make -j"$JOBS"
}

case $mode in
deps)
	# shellcheck disable=SC2086
	install_deps $DEPS_BUILD $DEPS_RUN
	;;
build)
	# shellcheck disable=SC2086
	install_deps $DEPS_BUILD $DEPS_RUN
	build
	;;
demo)
	# shellcheck disable=SC2086
	install_deps $DEPS_BUILD $DEPS_RUN
	build
	say "running contrib/demo.sh"
	MESHD="$BUILD_DIR/meshd" exec bash "$top/contrib/demo.sh"
	;;
check)
	# shellcheck disable=SC2086
	install_deps $DEPS_BUILD $DEPS_RUN $DEPS_FUZZ
	build
	say "make -j$JOBS check (log: $BUILD_DIR/test-suite.log)"
	rc=0
	make -j"$JOBS" check || rc=$?
	if [ "$rc" != 0 ] && [ -f test-suite.log ]; then
		say "failures: $BUILD_DIR/test-suite.log follows"
		cat test-suite.log
	fi
	exit "$rc"
	;;
*) usage ;;
esac
