#!/bin/bash
# wg_pair.sh: meshd <-> meshd, plain WireGuard (`meshd wg` on both sides).
#
#   ns $PFX-a  (meshd wg)                          ns $PFX-b  (meshd wg)
#   wg<..>a<k> 100.64.0.1/24 fd00:64::1/64 <=====> wg<..>b<k> 100.64.0.2/24 fd00:64::2/64
#   a0 198.51.100.1/24 2001:db8:1::1/64 ---veth--- b0 198.51.100.2/24 2001:db8:1::2/64
#
# The same four phases as wg_interop.sh (it runs that script with meshd on both
# sides): handshakes initiated by each side over an IPv4 and an IPv6 underlay,
# fresh daemons and keys for each, pings both ways over IPv4 and IPv6 inside,
# bulk transfers with sha256 checks, `wg show` handshake and transfer counters.
set -eu
export IMPL_A="${IMPL_A:-meshd}" IMPL_B="${IMPL_B:-meshd}" TEST_TAG=wp
exec bash "$(dirname "$0")/wg_interop.sh" "$@"
