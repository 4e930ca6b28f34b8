#!/bin/bash
# bench/rss_floor.sh: the least RSS a program can have that links meshd's
# libraries and does the least that meshd does with each of them. It answers
# "how low can meshd's RSS go while it links these?": a process's RSS counts
# the pages of its shared libraries' files that it has mapped (clean, shared
# with every other process, but counted whole in each), so each library sets
# a floor that no change inside meshd can remove.
#
# Builds one small C program several times, each time with one more library
# (pkg-config flags, as meshd's build uses), runs each and prints its RSS and
# anonymous memory from /proc/self/smaps_rollup after the work:
#   libc        prints its RSS
#   +sodium     sodium_init, one X25519 and one ChaCha20-Poly1305 packet
#   +crypto     one 1420-byte ChaCha20-Poly1305 packet through EVP (OpenSSL
#               libcrypto), default set-up (reads openssl.cnf)
#   +crypto/nc  the same with meshd's set-up (src/wg/crypto.c: no config,
#               no cipher/digest name tables)
#   +sqlite     a database file: WAL, one table, an insert, a select
#   +uv         a libuv loop with a UDP socket and a timer, run once
#   all-crypto  everything above but libcrypto, in one program
#   all         everything above in one program, with meshd's libcrypto
#               set-up: the floor for meshd's libraries
# Then, with MESHD_PID=PID, the same two numbers of a running meshd.
#
# Needs a C compiler and the -dev packages meshd builds with. Each figure is
# the median of BENCH_RUNS (default 5) runs. Usage: bash bench/rss_floor.sh
set -euo pipefail

RUNS=${BENCH_RUNS:-5}
CC=${CC:-cc}
WORK=$(mktemp -d /tmp/rss_floor.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/floor.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef USE_SODIUM
#include <sodium.h>
#endif
#ifdef USE_CRYPTO
#include <openssl/crypto.h>
#include <openssl/evp.h>
#endif
#ifdef USE_SQLITE
#include <sqlite3.h>
#include <unistd.h>
#endif
#ifdef USE_UV
#include <uv.h>
#endif

static unsigned char pkt[1420 + 16];

#ifdef USE_UV
static void on_timer(uv_timer_t *t) { uv_close((uv_handle_t *)t, NULL); }
#endif

int main(int argc, char **argv)
{
	char line[256];
	long rss = -1, anon = -1;
	FILE *f;

	(void)argc;
	(void)argv;
#ifdef USE_SODIUM
	{
		unsigned char sk[32] = { 1 }, pk[32], k[32] = { 2 }, n[12] = { 0 };
		unsigned long long cl;

		if (sodium_init() < 0 || crypto_scalarmult_curve25519_base(pk, sk) != 0)
			return 1;
		crypto_aead_chacha20poly1305_ietf_encrypt(pkt, &cl, pkt, 1420, NULL, 0, NULL,
							  n, k);
	}
#endif
#ifdef USE_CRYPTO
	{
		unsigned char k[32] = { 3 }, n[12] = { 0 }, tag[16];
		EVP_CIPHER_CTX *x;
		int l;

#ifdef MESHD_INIT
		if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
					OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
					OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL) != 1)
			return 1;
#endif
		if (!(x = EVP_CIPHER_CTX_new()) ||
		    EVP_CipherInit_ex(x, EVP_chacha20_poly1305(), NULL, k, n, 1) != 1 ||
		    EVP_CipherUpdate(x, pkt, &l, pkt, 1420) != 1 ||
		    EVP_CipherFinal_ex(x, pkt + l, &l) != 1 ||
		    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
			return 1;
		EVP_CIPHER_CTX_free(x);
	}
#endif
#ifdef USE_SQLITE
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		if (sqlite3_open(DBPATH, &db) != SQLITE_OK ||
		    sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t "
			     "(k BLOB PRIMARY KEY, v INTEGER); INSERT OR REPLACE INTO t "
			     "VALUES (x'01', 1);", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "SELECT v FROM t WHERE k = x'01'", -1, &st, NULL) !=
			    SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW)
			return 1;
		sqlite3_finalize(st);
		/* kept open, as meshd keeps its database */
	}
#endif
#ifdef USE_UV
	{
		static uv_loop_t loop;
		static uv_udp_t udp;
		static uv_timer_t t;
		struct sockaddr_in a;

		if (uv_loop_init(&loop) != 0 || uv_udp_init(&loop, &udp) != 0 ||
		    uv_ip4_addr("127.0.0.1", 0, &a) != 0 ||
		    uv_udp_bind(&udp, (const struct sockaddr *)&a, 0) != 0 ||
		    uv_timer_init(&loop, &t) != 0 || uv_timer_start(&t, on_timer, 1, 0) != 0)
			return 1;
		uv_close((uv_handle_t *)&udp, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
#endif
	if (!(f = fopen("/proc/self/smaps_rollup", "r")))
		return 1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "Rss:", 4) == 0)
			rss = atol(line + 4);
		else if (strncmp(line, "Anonymous:", 10) == 0)
			anon = atol(line + 10);
	}
	fclose(f);
	printf("%ld %ld\n", rss, anon);
	return 0;
}
EOF

pc() { pkg-config "$@"; }
# name | -D flags | libraries
VARIANTS=(
	"libc||"
	"+sodium|-DUSE_SODIUM|$(pc --libs libsodium)"
	"+crypto|-DUSE_CRYPTO|$(pc --libs libcrypto)"
	"+crypto/nc|-DUSE_CRYPTO -DMESHD_INIT|$(pc --libs libcrypto)"
	"+sqlite|-DUSE_SQLITE|$(pc --libs sqlite3)"
	"+uv|-DUSE_UV|$(pc --libs libuv)"
	"all-crypto|-DUSE_SODIUM -DUSE_SQLITE -DUSE_UV|$(pc --libs libsodium sqlite3 libuv)"
	"all|-DUSE_SODIUM -DUSE_CRYPTO -DMESHD_INIT -DUSE_SQLITE -DUSE_UV|$(pc --libs libsodium libcrypto sqlite3 libuv)"
)
CFLAGS_ALL="$(pc --cflags libsodium libcrypto sqlite3 libuv) -DDBPATH=\"$WORK/t.db\""

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-11s %9s %10s\n' program "RSS kB" "anon kB"
for v in "${VARIANTS[@]}"; do
	IFS='|' read -r name defs libs <<<"$v"
	bin="$WORK/floor-${name//[^a-z]/_}"
	# shellcheck disable=SC2086 # flag lists
	$CC -O2 $CFLAGS_ALL $defs "$WORK/floor.c" -o "$bin" $libs
	rss=() anon=()
	for _ in $(seq "$RUNS"); do
		rm -f "$WORK"/t.db*
		read -r r a <<<"$("$bin")"
		rss+=("$r") anon+=("$a")
	done
	printf '%-11s %9s %10s\n' "$name" "$(printf '%s\n' "${rss[@]}" | median)" \
		"$(printf '%s\n' "${anon[@]}" | median)"
done
if [ -n "${MESHD_PID:-}" ]; then
	printf '%-11s %9s %10s\n' "meshd" \
		"$(awk '$1 == "Rss:" { print $2 }' "/proc/$MESHD_PID/smaps_rollup")" \
		"$(awk '$1 == "Anonymous:" { print $2 }' "/proc/$MESHD_PID/smaps_rollup")"
fi
