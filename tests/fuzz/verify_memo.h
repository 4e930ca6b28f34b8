/* Memos of Ed25519 results for the fuzzers (verify_memo.c, sign_memo.c). */
#ifndef MESHD_FUZZ_VERIFY_MEMO_H
#define MESHD_FUZZ_VERIFY_MEMO_H

/* Remembers sig as a valid signature of m under pk. Only for triples known
 * to verify: sign_memo.c adds what libsodium just signed. */
void verify_memo_add(const unsigned char *sig, const unsigned char *m, unsigned long long mlen,
    const unsigned char *pk);

#endif
