#!/bin/bash
# metrics.sh: the metrics listener and `meshd graph` on a 3-node mesh.
#
#   ns $PFX-n1 .. $PFX-n3: one meshd node each, e0 198.18.0.K/24 --veth--
#   pK in ns $PFX-lan (bridge br0). n1 listens on 127.0.0.1:9100 (its own
#   namespace's loopback), set by `up --metrics`.
#
# 1. n1 init + up --metrics 127.0.0.1:9100; n2, n3 join; all direct.
# 2. /metrics parsed by prometheus_client's text parser: every family is
#    there with its type, sane values (3 members, 2 direct peers, counters
#    moving after a ping, cert expiry in the future); time and size measured.
# 3. /status.json equals `meshd status --json` (but for moving counters);
#    / is HTML whose SVG parses as XML and names every member; HEAD, 404.
# 4. `meshd graph` renders with `dot -Tsvg`; the SVG names every member.
# 5. Bad clients: junk, a huge header, a slow client holding connections,
#    more connections than the cap; the daemon still answers /metrics and
#    its control socket at once.
# 6. `meshd set --metrics` moves the listener (to [::1]:9101), 'off' stops
#    it; the setting survives `down` + `up` without --metrics.
set -eu
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
netns_setup mx 180 "$@"

for t in python3 ping curl dot; do
	command -v "$t" >/dev/null 2>&1 || skip "'$t' not installed"
done
# Debian's python3-prometheus-client is in the system python, which may not
# be the first python3 on PATH (pyenv and the like)
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then PY=$(command -v "$p"); break; fi
done
[ -n "$PY" ] || skip "python3-prometheus-client not installed"
[ -x "$MESHD" ] || fail "meshd binary not found (MESHD=$MESHD)"

declare -A NODE_IF=()
ndir() { printf '%s/%s' "$WORK" "$1"; }
m() {
	local n=$1
	shift
	nx "$n" env LOG_LEVEL=info "$MESHD" "$@" 2>>"$WORK/$n.err" 9>&-
}
track() {
	local pid
	pid=$(cat "$(ndir "$1")/meshd.pid") || fail "$1: no meshd.pid"
	PID_LIST+=("$pid")
	SOCK_LIST+=("$WG_SOCK_DIR/${NODE_IF[$1]}.sock")
	eval "PID_$1=$pid"
}
diag_dump() {
	local n
	set +e
	for n in n1 n2 n3; do
		echo "----- $n -----"
		[ -d "$(ndir "$n")" ] &&
			timeout 3 ip netns exec "$(nsname "$n")" "$MESHD" status -d "$(ndir "$n")" 2>&1 | sed 's/^/    | /'
		[ -s "$WORK/$n.err" ] && tail -n 20 "$WORK/$n.err" | sed 's/^/    err| /'
	done
}
URL=http://127.0.0.1:9100
get() { nx n1 curl -sS --max-time 5 "$@"; }

step "topology: 3 nodes on one bridge"
ns_add lan
ip -n "$(nsname lan)" link add br0 type bridge
ip -n "$(nsname lan)" link set br0 up
for k in 1 2 3; do
	ns_add "n$k"
	veth_add "n$k" e0 lan "p$k"
	ip -n "$(nsname lan)" link set "p$k" master br0
	addr_add "n$k" e0 "198.18.0.$k/24"
	NODE_IF[n$k]=$(ifname m "$k")
done

step "1. n1 up with --metrics 127.0.0.1:9100; n2, n3 join"
m n1 init -d "$(ndir n1)" --name n1 --mesh-name lab >/dev/null || fail "init n1"
m n1 up -d "$(ndir n1)" -i "${NODE_IF[n1]}" --metrics 127.0.0.1:9100 >/dev/null || fail "up n1"
track n1
for k in 2 3; do
	tok=$(m n1 invite -d "$(ndir n1)") || fail "invite"
	m "n$k" join "$tok" -d "$(ndir "n$k")" --name "n$k" -i "${NODE_IF[n$k]}" >/dev/null ||
		fail "join n$k"
	track "n$k"
done
direct2() {
	m n1 status -d "$(ndir n1)" --json >"$WORK/st.json" 2>/dev/null || return 1
	"$PY" -c '
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if sum(p["path"] == "direct" for p in j["peers"]) == 2 else 1)' "$WORK/st.json"
}
wait_for 30 direct2 || fail "n1 does not see n2 and n3 direct within 30 s"
pass "3-node mesh, n1 sees both peers direct"
V4_2=$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print([p for p in j["peers"] if p["name"]=="n2"][0]["overlay_ipv4"])' "$WORK/st.json")
nx n1 ping -n -q -c 3 -i 0.2 -W 2 "$V4_2" >/dev/null || fail "n1 cannot ping n2 ($V4_2)"

step "2. /metrics through prometheus_client's parser"
tt=$(get -o "$WORK/metrics.txt" -D "$WORK/metrics.hdr" -w '%{time_total}' "$URL/metrics") ||
	fail "GET /metrics"
info "scrape: ${tt} s (curl time_total, connect to close), $(wc -c <"$WORK/metrics.txt") bytes, 3 members"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$WORK/metrics.hdr" || fail "content type: $(cat "$WORK/metrics.hdr")"
"$PY" - "$WORK/metrics.txt" <<'PYEOF' || fail "/metrics content"
import sys, time
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
want = {
    "meshd_peers": "gauge", "meshd_peer_rx_bytes": "counter",
    "meshd_peer_tx_bytes": "counter", "meshd_peer_rtt_seconds": "gauge",
    "meshd_peer_last_handshake_timestamp_seconds": "gauge",
    "meshd_relay_forwarded_bytes": "counter", "meshd_gossip_messages": "counter",
    "meshd_members": "gauge", "meshd_cert_expiry_timestamp_seconds": "gauge",
    "meshd_build_info": "gauge",
}
for name, typ in want.items():
    assert name in fams, f"family {name} missing ({sorted(fams)})"
    assert fams[name].type == typ, f"{name}: type {fams[name].type}, want {typ}"
def samples(name, suffix=""):
    return {tuple(sorted(s.labels.items())): s.value for s in fams[name].samples
            if s.name == name + suffix}
assert samples("meshd_members") == {(): 3.0}, samples("meshd_members")
p = samples("meshd_peers")
assert p[(("path", "direct"),)] == 2 and p[(("path", "relay"),)] == 0 and p[(("path", "none"),)] == 0, p
rx = samples("meshd_peer_rx_bytes", "_total")
tx = samples("meshd_peer_tx_bytes", "_total")
assert set(k[0][1] for k in rx) == {"n2", "n3"}, rx
assert rx[(("peer", "n2"),)] > 0 and tx[(("peer", "n2"),)] > 0, (rx, tx)
now = time.time()
for k, v in samples("meshd_peer_last_handshake_timestamp_seconds").items():
    assert now - 300 < v <= now + 5, (k, v)
for k, v in samples("meshd_peer_rtt_seconds").items():
    assert 0 <= v < 1, (k, v)
g = samples("meshd_gossip_messages", "_total")
assert g[(("direction", "in"),)] > 0 and g[(("direction", "out"),)] > 0, g
exp = samples("meshd_cert_expiry_timestamp_seconds")[()]
assert now + 300 * 86400 < exp < now + 400 * 86400, exp
assert list(samples("meshd_build_info").values()) == [1.0]
assert samples("meshd_relay_forwarded_bytes", "_total")[()] >= 0
print("families:", len(fams), "rx n2:", rx[(("peer", "n2"),)], "gossip:", g)
PYEOF
pass "/metrics: all 10 families, sane values"

step "3. /status.json and the status page"
get -o "$WORK/status.json" "$URL/status.json" || fail "GET /status.json"
m n1 status -d "$(ndir n1)" --json >"$WORK/status-cli.json" || fail "status --json"
"$PY" - "$WORK/status.json" "$WORK/status-cli.json" <<'PYEOF' || fail "/status.json differs from status --json"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
# Two snapshots a moment apart: the live counters may move in between (a
# probe sent or answered), so they are left out; the rest must match.
for j in (a, b):
    for p in j["peers"]:
        for k in ("rx_bytes", "tx_bytes", "latest_handshake", "rtt_ms",
                  "probes_denied", "punches_held"):
            p.pop(k, None)
        p["candidates"] = [{k: c.get(k) for k in ("addr", "source")}
                           for c in p.get("candidates", [])]
assert a == b, (a, b)
PYEOF
get -o "$WORK/page.html" -D "$WORK/page.hdr" "$URL/" || fail "GET /"
grep -qi '^Content-Type: text/html' "$WORK/page.hdr" || fail "page content type"
"$PY" - "$WORK/page.html" <<'PYEOF' || fail "status page SVG"
import re, sys
import xml.etree.ElementTree as ET
html = open(sys.argv[1]).read()
assert "<script" not in html.lower() and "src=" not in html, "page loads something"
m = re.search(r"<svg.*?</svg>", html, re.S)
assert m, "no svg"
svg = ET.fromstring(m.group(0))
ns = "{http://www.w3.org/2000/svg}"
texts = {"".join(t.itertext()) for t in svg.iter(ns + "text")}
for n in ("n1", "n2", "n3"):
    assert n in texts, (n, texts)
lines = list(svg.iter(ns + "line"))
assert len(lines) == 2, f"{len(lines)} direct lines"
assert [g.get("class") for g in svg.iter(ns + "g")].count("self") == 1
print("svg ok:", sorted(texts))
PYEOF
code=$(get -o /dev/null -w '%{http_code}' "$URL/nope") || true
[ "$code" = 404 ] || fail "GET /nope: $code, want 404"
code=$(get -o /dev/null -w '%{http_code}' -I "$URL/metrics") || true
[ "$code" = 200 ] || fail "HEAD /metrics: $code"
code=$(get -o /dev/null -w '%{http_code}' -X POST "$URL/metrics") || true
[ "$code" = 400 ] || fail "POST /metrics: $code, want 400"
pass "/status.json == status --json; page SVG names n1 n2 n3; 404, HEAD, POST=400"

# MX_SCREENSHOT=FILE.png: also look at the page in a real browser (headless
# chromium inside n1's namespace); off by default, never a failure.
if [ -n "${MX_SCREENSHOT:-}" ] && command -v chromium >/dev/null 2>&1; then
	nx n1 timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chromium" \
		--screenshot="$MX_SCREENSHOT" --window-size=1200,900 "$URL/" >"$WORK/chromium.log" 2>&1 &&
		info "screenshot: $MX_SCREENSHOT" || warn "chromium screenshot failed: $(tail -n 2 "$WORK/chromium.log")"
	cp "$WORK/page.html" "${MX_SCREENSHOT%.png}.html" 2>/dev/null || true
fi

step "4. meshd graph | dot -Tsvg"
m n1 graph -d "$(ndir n1)" >"$WORK/mesh.dot" || fail "meshd graph"
dot -Tsvg "$WORK/mesh.dot" >"$WORK/mesh.svg" 2>"$WORK/dot.err" || fail "dot: $(cat "$WORK/dot.err")"
"$PY" - "$WORK/mesh.svg" <<'PYEOF' || fail "graph SVG"
import sys
import xml.etree.ElementTree as ET
svg = ET.parse(sys.argv[1]).getroot()
texts = {"".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")}
for n in ("n1", "n2", "n3"):
    assert n in texts, (n, texts)
PYEOF
pass "graph: $(wc -l <"$WORK/mesh.dot") DOT lines, dot -Tsvg ok ($(wc -c <"$WORK/mesh.svg") bytes)"

step "5. bad clients"
nx n1 "$PY" - <<'PYEOF' || fail "bad HTTP clients"
import socket, time
A = ("127.0.0.1", 9100)
def talk(data, wait=3.0):
    s = socket.create_connection(A, timeout=wait)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass
    s.close()
    return out
r = talk(b"\x16\x03\x01\x00\xa5junk\r\n")
assert r.startswith(b"HTTP/1.1 400 "), r[:60]
r = talk(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
assert r.startswith(b"HTTP/1.1 400 "), r[:60]
r = talk(b"GET /metrics HTTP/1.1\n\n")
assert r.startswith(b"HTTP/1.1 400 "), r[:60]
# slow clients: hold 20 connections (over the cap of 16), each sending a
# byte now and then; a normal scrape must still be answered at once
slow = []
for i in range(20):
    s = socket.create_connection(A, timeout=2)
    s.sendall(b"GET /met")
    slow.append(s)
time.sleep(0.3)
t = time.monotonic()
r = talk(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", wait=5)
dt = time.monotonic() - t
# with 16 slow ones holding every slot the scrape may be refused (closed),
# but never left waiting
assert dt < 1.0, dt
held = r.startswith(b"HTTP/1.1 200")
# the slow ones are cut off within the request timeout (5 s)
t = time.monotonic()
closed = 0
for s in slow:
    s.settimeout(8)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    closed += 1
    s.close()
dt2 = time.monotonic() - t
assert dt2 < 7.5, dt2
r = talk(b"GET /metrics HTTP/1.1\r\n\r\n")
assert r.startswith(b"HTTP/1.1 200 ") and b"meshd_members 3" in r, r[:80]
print(f"scrape with 20 slow clients: {'answered' if held else 'refused (cap)'} in {dt*1000:.0f} ms; slow ones closed after {dt2:.1f} s")
PYEOF
m n1 status -d "$(ndir n1)" >/dev/null || fail "control socket after bad clients"
kill -0 "$PID_n1" || fail "n1 died"
pass "junk, huge header, bare LF: 400; slow clients cut off; daemon answers"

step "6. set --metrics moves / stops the listener; kept across restarts"
m n1 set -d "$(ndir n1)" --metrics '[::1]:9101' >"$WORK/set.out" || fail "set --metrics [::1]:9101"
grep -q 'http://\[::1\]:9101/' "$WORK/set.out" || fail "set output: $(cat "$WORK/set.out")"
get -o /dev/null "http://[::1]:9101/metrics" || fail "metrics not on [::1]:9101"
if get -o /dev/null "$URL/metrics" 2>/dev/null; then fail "old listener still answers"; fi
m n1 down -d "$(ndir n1)" >/dev/null || fail "down"
wait_for 5 bash -c "! kill -0 $PID_n1 2>/dev/null" || fail "n1 did not stop"
m n1 up -d "$(ndir n1)" >/dev/null || fail "up again"
track n1
wait_for 5 get -o /dev/null "http://[::1]:9101/metrics" || fail "stored --metrics not used after restart"
m n1 set -d "$(ndir n1)" --metrics off >/dev/null || fail "set --metrics off"
if get -o /dev/null "http://[::1]:9101/metrics" 2>/dev/null; then fail "listener still on after off"; fi
rc=0
m n1 set -d "$(ndir n1)" --metrics 127.0.0.1 >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "set --metrics 127.0.0.1 (no port): exit $rc, want 2"
pass "moved to [::1]:9101, survived down/up, off stops it, bad value is a usage error"
