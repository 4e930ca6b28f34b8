/* Noise_IKpsk2 handshake and keypair slots (see noise.h).
 *
 * Notation as in the whitepaper §5.4: C chaining key, H hash, KDFn, MIX-HASH.
 * Every function keeps its working chaining key, hash and keys on the stack
 * and copies them into the handshake only when the message authenticated;
 * the stack copies are wiped at `out:`.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "util/log.h"
#include "wg/blake2s.h"
#include "wg/crypto.h"
#include "wg/device.h"
#include "wg/noise.h"
#include "wg/peer.h"

static const char noise_construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char wg_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* C0 = HASH(CONSTRUCTION), H0 = HASH(C0 || IDENTIFIER): computed once. */
static uint8_t initial_chaining_key[NOISE_HASH_LEN];
static uint8_t initial_hash[NOISE_HASH_LEN];
static bool noise_ready;

/* TAI64 label of 1970-01-01 00:00:10 TAI (2^62 + 10), as the kernel and
 * wireguard-go write it: the responder only compares timestamps, but peers
 * that alternate implementations on one key must agree on the base. */
#define TAI64_BASE 0x400000000000000aULL
/* Nanoseconds are rounded down to a multiple of this (2^24 ns ~ 16.8 ms, the
 * largest power of two below 1 s / INITIATIONS_PER_SECOND). */
#define TAI64N_WHITEN_MASK (~(uint32_t)((1u << 24) - 1))

void wg_noise_init(void)
{
	if (noise_ready)
		return;
	wg_blake2s_hash(initial_chaining_key, noise_construction, strlen(noise_construction));
	wg_blake2s_hash2(initial_hash, initial_chaining_key, NOISE_HASH_LEN, wg_identifier,
			 strlen(wg_identifier));
	noise_ready = true;
}

void wg_noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t sec, uint32_t nsec)
{
	be64enc(out, TAI64_BASE + sec);
	be32enc(out + 8, nsec & TAI64N_WHITEN_MASK);
}

/* H = HASH(H || data) */
static void mix_hash(uint8_t h[NOISE_HASH_LEN], const void *data, size_t len)
{
	wg_blake2s_hash2(h, h, NOISE_HASH_LEN, data, len);
}

/* dst = AEAD(key, 0, src, H); H = HASH(H || dst). dst gets len +
 * WG_CRYPTO_TAG_LEN bytes. */
static void encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     uint8_t h[NOISE_HASH_LEN], const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	wg_aead_encrypt(dst, src, len, h, NOISE_HASH_LEN, 0, key);
	mix_hash(h, dst, len + WG_CRYPTO_TAG_LEN);
}

/* The reverse: src holds len bytes with the tag; false (H unchanged) when
 * it does not open. */
static bool decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
			     uint8_t h[NOISE_HASH_LEN], const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	if (!wg_aead_decrypt(dst, src, len, h, NOISE_HASH_LEN, 0, key))
		return false;
	mix_hash(h, src, len);
	return true;
}

/* C = KDF1(C, data) */
static void mix_ck(uint8_t ck[NOISE_HASH_LEN], const void *data, size_t len)
{
	wg_kdf(ck, NULL, NULL, ck, data, len);
}

/* (C, k) = KDF2(C, DH(priv, pub)); k may be NULL (KDF1). False on a
 * low-order point. */
static bool mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const uint8_t priv[32],
		   const uint8_t pub[32])
{
	uint8_t dh[32];
	bool ok = wg_crypto_dh(dh, priv, pub);

	if (ok)
		wg_kdf(ck, key, NULL, ck, dh, sizeof dh);
	sodium_memzero(dh, sizeof dh);
	return ok;
}

/* e: the ephemeral public key goes into both the chaining key and the hash. */
static void mix_ephemeral(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
			  const uint8_t e[NOISE_PUBLIC_KEY_LEN])
{
	mix_ck(ck, e, NOISE_PUBLIC_KEY_LEN);
	mix_hash(h, e, NOISE_PUBLIC_KEY_LEN);
}

/* e, sending side: a fresh ephemeral key pair, the public half into out.
 * False when the key cannot be used. */
static bool send_ephemeral(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
			   uint8_t eph[NOISE_PUBLIC_KEY_LEN], uint8_t out[NOISE_PUBLIC_KEY_LEN])
{
	wg_crypto_generate(eph);
	if (!wg_crypto_public(out, eph))
		return false;
	mix_ephemeral(ck, h, out);
	return true;
}

/* The handshake's transient half, allocated (zeroed) if it has none yet.
 * False when out of memory. */
static bool hs_live(struct wg_handshake *hs)
{
	if (!hs->live) {
		hs->live = calloc(1, sizeof *hs->live);
		if (!hs->live)
			return false;
		list_init(&hs->live->entry.link);
	}
	return true;
}

/* A handshake message we built (hs->live allocated): it goes out under a
 * fresh sender index with its macs still zero, and hs keeps what its
 * answer will need. */
static void hs_created(struct wg_device *dev, struct wg_peer *peer, struct wg_msg_header *hdr,
		       uint32_t type, uint32_t *sender_index, struct wg_msg_macs *macs,
		       const uint8_t eph[NOISE_PUBLIC_KEY_LEN], const uint8_t ck[NOISE_HASH_LEN],
		       const uint8_t h[NOISE_HASH_LEN], enum wg_handshake_state state)
{
	struct wg_handshake *hs = &peer->hs;
	struct wg_handshake_live *live = hs->live;

	le32enc(&hdr->type, type);
	wg_index_insert_new(&dev->index, &live->entry, WG_INDEX_HANDSHAKE, peer);
	le32enc(sender_index, live->entry.id);
	memset(macs, 0, sizeof *macs);

	memcpy(live->ephemeral_private, eph, NOISE_PUBLIC_KEY_LEN);
	memcpy(live->chaining_key, ck, NOISE_HASH_LEN);
	memcpy(live->hash, h, NOISE_HASH_LEN);
	hs->state = state;
}

/* A handshake message we accepted (hs->live allocated): hs keeps the
 * sender's ephemeral and index and where the symmetric state stands. */
static void hs_consumed(struct wg_handshake *hs, const uint8_t e[NOISE_PUBLIC_KEY_LEN],
			const uint8_t ck[NOISE_HASH_LEN], const uint8_t h[NOISE_HASH_LEN],
			const uint32_t *sender_index, enum wg_handshake_state state)
{
	struct wg_handshake_live *live = hs->live;

	memcpy(live->remote_ephemeral, e, NOISE_PUBLIC_KEY_LEN);
	memcpy(live->chaining_key, ck, NOISE_HASH_LEN);
	memcpy(live->hash, h, NOISE_HASH_LEN);
	live->remote_index = le32dec(sender_index);
	hs->state = state;
}

/* The symmetric state on the stack of every handshake step, wiped at its
 * out: label whatever the outcome. */
static void wipe_symmetric(uint8_t ck[NOISE_HASH_LEN], uint8_t h[NOISE_HASH_LEN],
			   uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	sodium_memzero(ck, NOISE_HASH_LEN);
	sodium_memzero(h, NOISE_HASH_LEN);
	sodium_memzero(key, NOISE_SYMMETRIC_KEY_LEN);
}

void wg_noise_precompute_ss(struct wg_device *dev, struct wg_peer *peer)
{
	struct wg_handshake *hs = &peer->hs;

	hs->have_ss = dev->have_key &&
		      wg_crypto_dh(hs->precomputed_ss, dev->static_private, hs->remote_static);
	if (!hs->have_ss)
		sodium_memzero(hs->precomputed_ss, sizeof hs->precomputed_ss);
}

void wg_noise_handshake_clear(struct wg_device *dev, struct wg_peer *peer)
{
	struct wg_handshake *hs = &peer->hs;

	if (hs->live) {
		wg_index_remove(&dev->index, &hs->live->entry);
		sodium_memzero(hs->live, sizeof *hs->live);
		free(hs->live);
		hs->live = NULL;
	}
	hs->state = WG_HS_ZEROED;
}

bool wg_noise_create_initiation(struct wg_device *dev, struct wg_peer *peer,
				struct wg_msg_initiation *msg)
{
	struct wg_handshake *hs = &peer->hs;
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t eph[NOISE_PUBLIC_KEY_LEN], ts[NOISE_TIMESTAMP_LEN];
	struct walltime wt;
	bool ok = false;

	if (!dev->have_key || !hs->have_ss)
		goto out;

	memcpy(ck, initial_chaining_key, sizeof ck);
	memcpy(h, initial_hash, sizeof h);
	mix_hash(h, hs->remote_static, NOISE_PUBLIC_KEY_LEN);

	/* e */
	if (!send_ephemeral(ck, h, eph, msg->unencrypted_ephemeral))
		goto out;

	/* es */
	if (!mix_dh(ck, key, eph, hs->remote_static))
		goto out;

	/* s */
	encrypt_and_hash(msg->encrypted_static, dev->static_public, NOISE_PUBLIC_KEY_LEN, h, key);

	/* ss */
	wg_kdf(ck, key, NULL, ck, hs->precomputed_ss, NOISE_PUBLIC_KEY_LEN);

	/* {t} */
	memset(&wt, 0, sizeof wt);
	dev->ops.walltime(dev->ctx, &wt);
	wg_noise_tai64n(ts, wt.sec, wt.nsec);
	encrypt_and_hash(msg->encrypted_timestamp, ts, sizeof ts, h, key);

	if (!hs_live(hs))
		goto out;
	hs_created(dev, peer, &msg->header, WG_MSG_INITIATION, &msg->sender_index, &msg->macs,
		   eph, ck, h, WG_HS_CREATED_INITIATION);
	ok = true;
out:
	wipe_symmetric(ck, h, key);
	sodium_memzero(eph, sizeof eph);
	return ok;
}

/* Our initiation to peer is in flight and we are the side that keeps it
 * (noise.h). last_sent_handshake is that initiation's send time: a
 * response, the only other thing that sets it, leaves the handshake
 * CONSUMED_INITIATION and then cleared. */
static bool keep_own_initiation(const struct wg_device *dev, const struct wg_peer *peer,
				const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN], mtime_ns now)
{
	return peer->hs.state == WG_HS_CREATED_INITIATION &&
	       !wg_birthdate_has_expired(peer->timers.last_sent_handshake, SEC(REKEY_TIMEOUT),
					 now) &&
	       sodium_compare(dev->static_public, remote_static, NOISE_PUBLIC_KEY_LEN) < 0;
}

struct wg_peer *wg_noise_consume_initiation(struct wg_device *dev,
					    const struct wg_msg_initiation *msg, mtime_ns now,
					    bool *crossed)
{
	struct wg_peer *peer = NULL, *found;
	struct wg_handshake *hs;
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t s[NOISE_PUBLIC_KEY_LEN], t[NOISE_TIMESTAMP_LEN];
	const uint8_t *e = msg->unencrypted_ephemeral;
	bool replay, flood;

	*crossed = false;
	if (!dev->have_key)
		goto out;

	memcpy(ck, initial_chaining_key, sizeof ck);
	memcpy(h, initial_hash, sizeof h);
	mix_hash(h, dev->static_public, NOISE_PUBLIC_KEY_LEN);

	/* e */
	mix_ephemeral(ck, h, e);

	/* es */
	if (!mix_dh(ck, key, dev->static_private, e))
		goto out;

	/* s */
	if (!decrypt_and_hash(s, msg->encrypted_static, sizeof msg->encrypted_static, h, key))
		goto out;

	found = wg_index_pubkey_lookup(&dev->index, s);
	if (!found || !found->hs.have_ss)
		goto out;
	hs = &found->hs;

	/* ss */
	wg_kdf(ck, key, NULL, ck, hs->precomputed_ss, NOISE_PUBLIC_KEY_LEN);

	/* {t} */
	if (!decrypt_and_hash(t, msg->encrypted_timestamp, sizeof msg->encrypted_timestamp, h,
			      key))
		goto out;

	/* Timestamps are public big-endian counters: memcmp orders them. */
	replay = memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0;
	flood = hs->have_consumed_initiation &&
		hs->last_initiation_consumption + SEC(1) / INITIATIONS_PER_SECOND > now;
	if (replay || flood)
		goto out;

	/* Authenticated and fresh: it counts against replay and flooding
	 * even when it is not answered. */
	memcpy(hs->latest_timestamp, t, sizeof t);
	hs->last_initiation_consumption = now;
	hs->have_consumed_initiation = true;
	if (keep_own_initiation(dev, found, s, now)) {
		*crossed = true;
		peer = found;
		goto out;
	}

	if (!hs_live(hs))
		goto out;	/* no memory: dropped, as if lost on the way */
	sodium_memzero(hs->live->ephemeral_private, sizeof hs->live->ephemeral_private);
	hs_consumed(hs, e, ck, h, &msg->sender_index, WG_HS_CONSUMED_INITIATION);
	peer = found;
out:
	wipe_symmetric(ck, h, key);
	sodium_memzero(s, sizeof s);
	return peer;
}

bool wg_noise_create_response(struct wg_device *dev, struct wg_peer *peer,
			      struct wg_msg_response *msg)
{
	struct wg_handshake *hs = &peer->hs;
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t tau[NOISE_HASH_LEN], eph[NOISE_PUBLIC_KEY_LEN];
	bool ok = false;

	if (hs->state != WG_HS_CONSUMED_INITIATION)
		goto out;
	memcpy(ck, hs->live->chaining_key, sizeof ck);
	memcpy(h, hs->live->hash, sizeof h);

	/* e */
	if (!send_ephemeral(ck, h, eph, msg->unencrypted_ephemeral))
		goto out;

	/* ee */
	if (!mix_dh(ck, NULL, eph, hs->live->remote_ephemeral))
		goto out;

	/* se */
	if (!mix_dh(ck, NULL, eph, hs->remote_static))
		goto out;

	/* psk */
	wg_kdf(ck, tau, key, ck, hs->psk, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(h, tau, sizeof tau);

	/* {} */
	encrypt_and_hash(msg->encrypted_nothing, NULL, 0, h, key);

	le32enc(&msg->receiver_index, hs->live->remote_index);
	hs_created(dev, peer, &msg->header, WG_MSG_RESPONSE, &msg->sender_index, &msg->macs,
		   eph, ck, h, WG_HS_CREATED_RESPONSE);
	ok = true;
out:
	wipe_symmetric(ck, h, key);
	sodium_memzero(tau, sizeof tau);
	sodium_memzero(eph, sizeof eph);
	return ok;
}

struct wg_peer *wg_noise_consume_response(struct wg_device *dev,
					  const struct wg_msg_response *msg)
{
	struct wg_index_entry *entry;
	struct wg_peer *peer = NULL, *found;
	struct wg_handshake *hs;
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t tau[NOISE_HASH_LEN];
	const uint8_t *e = msg->unencrypted_ephemeral;

	if (!dev->have_key)
		goto out;
	entry = wg_index_lookup(&dev->index, le32dec(&msg->receiver_index));
	if (!entry || entry->kind != WG_INDEX_HANDSHAKE)
		goto out;
	found = entry->peer;
	hs = &found->hs;
	if (hs->state != WG_HS_CREATED_INITIATION)
		goto out;
	memcpy(ck, hs->live->chaining_key, sizeof ck);
	memcpy(h, hs->live->hash, sizeof h);

	/* e */
	mix_ephemeral(ck, h, e);

	/* ee */
	if (!mix_dh(ck, NULL, hs->live->ephemeral_private, e))
		goto out;

	/* se */
	if (!mix_dh(ck, NULL, dev->static_private, e))
		goto out;

	/* psk */
	wg_kdf(ck, tau, key, ck, hs->psk, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(h, tau, sizeof tau);

	/* {} */
	if (!decrypt_and_hash(NULL, msg->encrypted_nothing, sizeof msg->encrypted_nothing, h,
			      key))
		goto out;

	hs_consumed(hs, e, ck, h, &msg->sender_index, WG_HS_CONSUMED_RESPONSE);
	peer = found;
out:
	wipe_symmetric(ck, h, key);
	sodium_memzero(tau, sizeof tau);
	return peer;
}

static void keypair_drop(struct wg_device *dev, struct wg_keypair *kp)
{
	if (!kp)
		return;
	if (kp->entry.kind != WG_INDEX_NONE)
		log_debug("keypair %llu destroyed", (unsigned long long)kp->internal_id);
	wg_index_remove(&dev->index, &kp->entry);
	wg_aead_ctx_clear(&kp->send);
	wg_aead_ctx_clear(&kp->recv);
	wg_replay_clear(&kp->replay);
	kp->sending_valid = kp->receiving_valid = false;
	kp->send_counter = 0;
	kp->remote_index = 0;
}

/* A slot that is none of next, current and previous; its memory is
 * spare's (which is then taken: *spare becomes NULL) when it has none. */
static struct wg_keypair *free_slot(struct wg_peer *peer, struct wg_keypair **spare)
{
	for (size_t i = 0; i < 3; i++) {
		struct wg_keypair *kp = peer->slots[i];

		if (kp == NULL) {
			kp = peer->slots[i] = *spare;
			*spare = NULL;
			list_init(&kp->entry.link);
			return kp;
		}
		if (kp != peer->next && kp != peer->current && kp != peer->previous)
			return kp;
	}
	return NULL;	/* not reached: at most two slots stay in use below */
}

static bool slots_full(const struct wg_peer *peer)
{
	return peer->slots[0] && peer->slots[1] && peer->slots[2];
}

bool wg_noise_begin_session(struct wg_device *dev, struct wg_peer *peer, mtime_ns now)
{
	struct wg_handshake *hs = &peer->hs;
	struct wg_keypair *kp, *spare = NULL;
	struct wg_aead_ctx send = { 0 }, recv = { 0 };
	uint8_t tsend[NOISE_SYMMETRIC_KEY_LEN], trecv[NOISE_SYMMETRIC_KEY_LEN];
	bool initiator, ok;

	if (hs->state != WG_HS_CREATED_RESPONSE && hs->state != WG_HS_CONSUMED_RESPONSE)
		return false;
	initiator = hs->state == WG_HS_CONSUMED_RESPONSE;

	/* (Tsend, Trecv) = KDF2(C, empty), the initiator's view. Key both
	 * contexts before touching the slots, so that a failed allocation
	 * leaves the running sessions alone. */
	if (initiator)
		wg_kdf(tsend, trecv, NULL, hs->live->chaining_key, NULL, 0);
	else
		wg_kdf(trecv, tsend, NULL, hs->live->chaining_key, NULL, 0);
	ok = wg_aead_ctx_init(&send, tsend, true) == 0 && wg_aead_ctx_init(&recv, trecv, false) == 0;
	sodium_memzero(tsend, sizeof tsend);
	sodium_memzero(trecv, sizeof trecv);
	/* memory for the keypair too, unless every slot has some already */
	if (ok && !slots_full(peer))
		ok = (spare = calloc(1, sizeof *spare)) != NULL;
	if (!ok) {
		wg_aead_ctx_clear(&send);
		wg_aead_ctx_clear(&recv);
		log_debug("peer %llu: no memory for a keypair",
			  (unsigned long long)peer->internal_id);
		return false;
	}

	/* Make room first (each branch leaves at most two slots in use). */
	if (initiator) {
		if (peer->next) {
			/* An unconfirmed responder keypair outlives current:
			 * it becomes previous, still good for receiving. */
			keypair_drop(dev, peer->previous);
			keypair_drop(dev, peer->current);
			peer->previous = peer->next;
			peer->next = NULL;
		} else {
			keypair_drop(dev, peer->previous);
			peer->previous = peer->current;
		}
		peer->current = NULL;
	} else {
		keypair_drop(dev, peer->next);
		keypair_drop(dev, peer->previous);
		peer->next = peer->previous = NULL;
	}
	kp = free_slot(peer, &spare);
	free(spare);		/* an allocated slot was free after all */
	kp->send = send;
	kp->recv = recv;
	kp->send_counter = 0;
	wg_replay_init(&kp->replay);
	kp->birth = now;
	kp->remote_index = hs->live->remote_index;
	kp->i_am_initiator = initiator;
	kp->sending_valid = kp->receiving_valid = true;
	kp->internal_id = ++dev->next_internal_id;
	wg_index_replace(&dev->index, &hs->live->entry, &kp->entry, WG_INDEX_KEYPAIR);

	if (initiator)
		peer->current = kp;
	else
		peer->next = kp;
	wg_noise_handshake_clear(dev, peer);
	log_debug("peer %llu: keypair %llu created (%s)", (unsigned long long)peer->internal_id,
		  (unsigned long long)kp->internal_id, initiator ? "initiator" : "responder");
	return true;
}

bool wg_noise_received_with_keypair(struct wg_device *dev, struct wg_peer *peer,
				    struct wg_keypair *kp)
{
	if (!peer->next || kp != peer->next)
		return false;
	keypair_drop(dev, peer->previous);
	peer->previous = peer->current;
	peer->current = peer->next;
	peer->next = NULL;
	return true;
}

void wg_noise_keypairs_clear(struct wg_device *dev, struct wg_peer *peer)
{
	keypair_drop(dev, peer->next);
	keypair_drop(dev, peer->current);
	keypair_drop(dev, peer->previous);
	peer->next = peer->current = peer->previous = NULL;
	/* the memory goes too: an idle peer holds no keypair */
	for (size_t i = 0; i < 3; i++) {
		struct wg_keypair *kp = peer->slots[i];

		if (kp == NULL)
			continue;
		keypair_drop(dev, kp);	/* a slot none of the three named */
		sodium_memzero(kp, sizeof *kp);
		free(kp);
		peer->slots[i] = NULL;
	}
}

void wg_noise_expire_current_keypairs(struct wg_peer *peer)
{
	if (peer->next)
		peer->next->sending_valid = false;
	if (peer->current)
		peer->current->sending_valid = false;
}
