/* TCP fallback for members whose UDP is blocked, sans-I/O
 * (docs/wire-formats.md "TCP entry", docs/decisions.md "TCP/443 fallback").
 *
 * A member may listen on a TCP port (typically 443) as an entry point. A
 * member whose UDP gets no answer connects to it and sends its datagrams
 * over the stream instead: the same bytes it would send over UDP to that
 * member (WireGuard messages to the entry itself, RELAY to other members,
 * mesh messages), so traffic for third members stays WireGuard ciphertext
 * and the entry forwards it as the UDP relay does (mesh/relay.h).
 *
 * Framing: every frame is  u16 len (big-endian) | len bytes,  with
 * 1 <= len <= MESH_TCP_FRAME_MAX. Control frames start with 'T' (0x54), a
 * byte that neither WireGuard (types 1-4) nor mesh datagrams ('M') start
 * with:
 *
 *	CHALLENGE  S -> C  'T' | u8 1 | u8 1 (version) | challenge[32]   (35)
 *	AUTH       C -> S  'T' | u8 1 | u8 2 | node_id[16] | sig[64]     (83)
 *	OK         S -> C  'T' | u8 1 | u8 3                              (3)
 *	KEEPALIVE  both    'T' | u8 1 | u8 4                              (3)
 *	JOIN       C -> S  'T' | u8 1 | u8 5                              (3)
 *
 * (bytes: magic, version, type). sig = Ed25519 by the client's node signing
 * key (its certificate's sign_pk) over
 *	"meshd tcp v1" || mesh_id[32] || server static key[32] || challenge[32]
 * where the server static key is the entry's WireGuard public key (from
 * its certificate): a signature made for one entry, one mesh or one
 * connection is worth nothing on another. The server sends CHALLENGE at
 * once, accepts exactly one AUTH within MESH_TCP_AUTH_TIMEOUT_MS, and only
 * then (after OK) forwards anything. Any other first frame, a wrong length,
 * an unknown node or a bad signature closes the connection without a word.
 *
 * Joining (a machine that is no member yet and whose UDP is blocked, with a
 * token that names this entry): instead of AUTH the first frame is JOIN.
 * After it the connection carries at most MESH_TCP_JOIN_FRAMES datagrams
 * from the client, each of which must be a mesh JOIN_REQ (the join
 * protocol authenticates it: mesh/join.h), and the entry's answers back,
 * for at most MESH_TCP_JOIN_TIMEOUT_MS; then it is closed. No OK is sent:
 * the client sends JOIN and its JOIN_REQ at once (mesh_tcp_join_open()).
 *
 * Pieces, each a plain struct the caller embeds (no allocation here):
 *   mesh_tcp_dec   incremental decoder: feed any chunks, get whole frames;
 *   mesh_tcp_ring  bounded send queue of framed datagrams, drop-oldest;
 *   mesh_tcp_srv   entry-side connection state (auth, deadlines);
 *   mesh_tcp_cli   client-side connection state;
 *   mesh_tcp_fb    client-side UDP/TCP decision and entry choice.
 * Time is "now" handed in; nothing here reads a clock or touches a socket.
 */
#ifndef MESHD_MESH_TCPFRAME_H
#define MESHD_MESH_TCPFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/identity.h"
#include "util/time.h"

#define MESH_TCP_DOMAIN "meshd tcp v1"

/* The node's setting (store_setting_get): the TCP entry's port, decimal;
 * absent: no TCP entry (mesh_node_tcp_port() reads it). */
#define MESH_TCP_PORT_SETTING "tcp_port"

/* "0".."65535", decimal digits only (at most 5): true with *out set. */
bool mesh_tcp_port_parse(const char *s, uint16_t *out);

enum {
	MESH_TCP_LEN_HDR = 2,		/* u16 big-endian length */
	MESH_TCP_FRAME_MAX = 2048,	/* bytes; covers RELAY (1518) and
					 * WireGuard data at a 1500-byte MTU */
	MESH_TCP_MAGIC = 0x54,		/* 'T' */
	MESH_TCP_VERSION = 1,
	MESH_TCP_CHALLENGE_LEN = 32,
	MESH_TCP_KEY_LEN = 32,		/* server static key (WireGuard public) */
	MESH_TCP_CTL_HDR = 3,		/* magic, version, type */
	MESH_TCP_CHALLENGE_FRAME = MESH_TCP_CTL_HDR + MESH_TCP_CHALLENGE_LEN,
	MESH_TCP_AUTH_FRAME = MESH_TCP_CTL_HDR + MESH_NODE_ID_LEN + MESH_SIG_LEN,
	MESH_TCP_OK_FRAME = MESH_TCP_CTL_HDR,
	MESH_TCP_KEEPALIVE_FRAME = MESH_TCP_CTL_HDR,
	/* signed message: mesh id, server key, challenge */
	MESH_TCP_SIGNED_LEN = MESH_ID_LEN + MESH_TCP_KEY_LEN + MESH_TCP_CHALLENGE_LEN,
};

enum mesh_tcp_ctl_type {
	MESH_TCP_CHALLENGE = 1,
	MESH_TCP_AUTH = 2,
	MESH_TCP_OK = 3,
	MESH_TCP_KEEPALIVE = 4,
	MESH_TCP_JOIN = 5,
};

/* Timing. The entry closes a connection that has not authenticated within
 * AUTH_TIMEOUT (slowloris), or that sent no complete frame for IDLE (the
 * client sends KEEPALIVE after KEEPALIVE_MS of silence, so a live client
 * never gets there), or whose send queue made no progress for STALL (a
 * client that stopped reading). */
enum {
	MESH_TCP_AUTH_TIMEOUT_MS = 5000,
	MESH_TCP_KEEPALIVE_MS = 20000,
	MESH_TCP_IDLE_MS = 60000,
	MESH_TCP_STALL_MS = 10000,
	/* a joining connection: its whole life, and the JOIN_REQs it may
	 * send (the joiner sends one; a retransmit or two are tolerated) */
	MESH_TCP_JOIN_TIMEOUT_MS = 10000,
	MESH_TCP_JOIN_FRAMES = 4,
};

/* Fallback decision (client side). UDP_SILENT: a datagram sent to a member
 * unanswered for this long means UDP is blocked. UDP_RETRY: while on TCP,
 * UDP is tried again this often; one answer takes us back, so UDP that
 * works again is in use within UDP_RETRY + one round trip (< 30 s). */
enum {
	MESH_TCP_FB_UDP_SILENT_MS = 3000,
	MESH_TCP_FB_UDP_RETRY_MS = 15000,
};

/* Entry-side limits (for the daemon's listener). A connection that keeps
 * sending more frames than FRAMES_PER_S (after a FRAMES_BURST allowance)
 * is a flood and is closed: a per-frame cost the entry pays for one member
 * must not slow the others. Legitimate traffic stays below it: relayed
 * datagrams are limited to MESH_RELAY_SRC_PPS per source anyway, and
 * WireGuard data for the entry itself at 200000 full-size frames/s is
 * 2.3 Gbit/s, more than one core decrypts. (20000/s, the first value,
 * closed a member's bulk upload to the entry after a second: 89 Mbit/s of
 * TSO bursts.) */
enum {
	MESH_TCP_FRAMES_PER_S = 200000,
	MESH_TCP_FRAMES_BURST = 20000,
	MESH_TCP_CONN_MAX = 256,	/* connections in total */
	MESH_TCP_CONN_PER_SRC = 4,	/* per source IP address */
	MESH_TCP_RING_LEN = 65536,	/* send queue per connection, bytes */
};

/* ---- frame decoder ---------------------------------------------------- */

struct mesh_tcp_dec {
	size_t cap;			/* longest frame accepted, bytes */
	size_t need;			/* payload length of the frame being read */
	size_t have;			/* bytes of it (or of the header) so far */
	bool in_hdr;			/* reading the 2-byte length */
	int err;			/* sticky: once broken, always broken */
	uint8_t hdr[MESH_TCP_LEN_HDR];
	uint8_t buf[MESH_TCP_FRAME_MAX];
};

/* cap: longest payload accepted, 1..MESH_TCP_FRAME_MAX (larger is clamped,
 * 0 means MESH_TCP_FRAME_MAX). */
void mesh_tcp_dec_init(struct mesh_tcp_dec *d, size_t cap);

/* Feeds up to len bytes. Consumes bytes until one frame is complete or the
 * input is used up; *used says how many were taken (call again with the
 * rest). Returns 1 with *frame, *frame_len set (borrowed: valid until the
 * next call), 0 when all input was taken and no frame is complete yet, or
 * MESHD_E_PROTO (a zero length) / MESHD_E_RANGE (longer than cap). Errors
 * are sticky: the stream has lost its framing and must be closed. */
int mesh_tcp_dec_feed(struct mesh_tcp_dec *d, const uint8_t *p, size_t len, size_t *used,
    const uint8_t **frame, size_t *frame_len);

/* True while a frame is partly received (for idle accounting). */
bool mesh_tcp_dec_partial(const struct mesh_tcp_dec *d);

/* Writes u16 len | payload into out (cap bytes). Returns the frame length,
 * or 0 when len is 0, above MESH_TCP_FRAME_MAX or does not fit. */
size_t mesh_tcp_frame_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/* ---- bounded send queue ------------------------------------------------ */

/* A byte ring of whole frames (u16 len | payload). When a new frame does
 * not fit, the oldest frames are dropped until it does; a frame that is
 * partly handed to the socket is never dropped or cut (that would break
 * the framing), the ones behind it go instead. */
struct mesh_tcp_ring {
	size_t head;			/* index of the first unsent byte */
	size_t used;			/* bytes queued, from head */
	size_t frames;			/* whole or partly sent frames queued */
	size_t head_rest;		/* head frame partly sent: bytes of it left;
					 * 0: head is at a frame boundary */
	uint64_t pushed, dropped, dropped_bytes, rejected;	/* frames, bytes */
	uint8_t buf[MESH_TCP_RING_LEN];
};

void mesh_tcp_ring_init(struct mesh_tcp_ring *r);

/* Queues payload as one frame, dropping the oldest whole unsent frames when
 * needed. Returns 0; MESHD_E_RANGE when len is 0 or above
 * MESH_TCP_FRAME_MAX (counted in rejected). Never fails for lack of room. */
int mesh_tcp_ring_push(struct mesh_tcp_ring *r, const uint8_t *payload, size_t len);

/* Contiguous bytes ready to send: *p points into the ring (borrowed until
 * the next push or consume); returns their count (0: nothing queued). */
size_t mesh_tcp_ring_peek(const struct mesh_tcp_ring *r, const uint8_t **p);

/* Call after n bytes from peek were written to the socket (n <= peeked). */
void mesh_tcp_ring_consume(struct mesh_tcp_ring *r, size_t n);

size_t mesh_tcp_ring_used(const struct mesh_tcp_ring *r);

/* peek + consume into out (up to cap bytes, the ring's wrap joined): the
 * bytes for one socket write. Returns how many were taken. */
size_t mesh_tcp_ring_take(struct mesh_tcp_ring *r, uint8_t *out, size_t cap);

/* ---- entry (server) side ----------------------------------------------- */

/* The entry's view of a member: its certificate's Ed25519 sign_pk when
 * node_id is a member with a valid, unrevoked certificate (true), else
 * false. */
typedef bool mesh_tcp_member_pk_fn(void *ctx, const uint8_t node_id[MESH_NODE_ID_LEN],
    uint8_t pk[MESH_PK_LEN]);

enum mesh_tcp_srv_state {
	MESH_TCP_SRV_CHALLENGED,	/* CHALLENGE queued, waiting for AUTH */
	MESH_TCP_SRV_AUTHED,		/* member proven: frames are datagrams */
	MESH_TCP_SRV_JOINING,		/* JOIN received: frames are JOIN_REQs */
	MESH_TCP_SRV_CLOSED,		/* refused or timed out: close the socket */
};

struct mesh_tcp_srv {
	enum mesh_tcp_srv_state state;
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t server_key[MESH_TCP_KEY_LEN];
	uint8_t challenge[MESH_TCP_CHALLENGE_LEN];
	uint8_t node_id[MESH_NODE_ID_LEN];	/* the client, once AUTHED */
	mtime_ns auth_deadline;		/* JOINING: the end of the connection */
	uint32_t join_frames;		/* JOIN_REQs received while JOINING */
	mtime_ns last_rx;		/* last complete frame */
	mtime_ns last_tx_progress;	/* queue drained, or was empty */
	bool tx_pending;		/* send queue not empty */
	uint32_t tokens;		/* frames allowed before a refill */
	mtime_ns refilled;		/* last token refill */
	uint32_t rate, burst;		/* flood limit: frames/s and bucket depth
					 * (MESH_TCP_FRAMES_PER_S, _BURST) */
};

/* Starts a connection accepted at now: draws the challenge from the CSPRNG
 * and writes the CHALLENGE payload (MESH_TCP_CHALLENGE_FRAME bytes, to be
 * framed and sent first) into out. */
void mesh_tcp_srv_start(struct mesh_tcp_srv *s, const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN], mtime_ns now,
    uint8_t out[MESH_TCP_CHALLENGE_FRAME]);

/* Same with a given challenge (tests, fuzzing). */
void mesh_tcp_srv_start_with(struct mesh_tcp_srv *s, const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN],
    const uint8_t challenge[MESH_TCP_CHALLENGE_LEN], mtime_ns now,
    uint8_t out[MESH_TCP_CHALLENGE_FRAME]);

/* Another flood limit than MESH_TCP_FRAMES_PER_S / _BURST (both > 0), for
 * tests that must trip it whatever the machine's speed. */
void mesh_tcp_srv_set_flood_limit(struct mesh_tcp_srv *s, uint32_t rate, uint32_t burst);

/* What the caller does with a frame after mesh_tcp_srv_on_frame. */
enum mesh_tcp_srv_verdict {
	MESH_TCP_SRV_SEND_OK = 1,	/* just authenticated: send OK (3 bytes) */
	MESH_TCP_SRV_DATAGRAM = 2,	/* a datagram from node_id: forward it */
	MESH_TCP_SRV_IGNORE = 3,	/* keepalive, JOIN: nothing to do */
	MESH_TCP_SRV_JOIN_REQ = 4,	/* a JOIN_REQ from a joiner: hand it to
					 * the inviter; answers go back down the
					 * connection */
};

/* Call for each decoded frame. Returns a verdict above, or an error after
 * which the state is CLOSED: MESHD_E_PROTO (not an AUTH or JOIN of the
 * exact length first, a control frame of another type or length later;
 * while JOINING, a datagram that is no JOIN_REQ or one too many),
 * MESHD_E_CRYPTO (unknown member or bad signature: no detail),
 * MESHD_E_TIMEOUT (the auth deadline had passed), MESHD_E_AGAIN (a flood:
 * more frames than MESH_TCP_FRAMES_PER_S allows), MESHD_E_STATE (already
 * closed). */
int mesh_tcp_srv_on_frame(struct mesh_tcp_srv *s, const uint8_t *frame, size_t len,
    mesh_tcp_member_pk_fn *member_pk, void *ctx, mtime_ns now);

/* Call whenever the send queue changes: pending = bytes still queued.
 * Progress (a drain) restarts the stall clock. */
void mesh_tcp_srv_on_tx(struct mesh_tcp_srv *s, bool pending, bool progress, mtime_ns now);

/* Next deadline (MTIME_NEVER when closed). handle_expiry closes the
 * connection when a deadline has passed: returns true when the caller must
 * now close the socket (state CLOSED), false otherwise. */
mtime_ns mesh_tcp_srv_next_expiry(const struct mesh_tcp_srv *s);
bool mesh_tcp_srv_handle_expiry(struct mesh_tcp_srv *s, mtime_ns now);

/* ---- client side --------------------------------------------------------- */

enum mesh_tcp_cli_state {
	MESH_TCP_CLI_WAIT_CHALLENGE,	/* connected, nothing received */
	MESH_TCP_CLI_WAIT_OK,		/* AUTH sent */
	MESH_TCP_CLI_READY,		/* entry accepted us: send datagrams */
	MESH_TCP_CLI_FAILED,		/* close and try another entry */
};

struct mesh_tcp_cli {
	enum mesh_tcp_cli_state state;
	uint8_t mesh_id[MESH_ID_LEN];
	uint8_t server_key[MESH_TCP_KEY_LEN];	/* the entry we meant to reach */
	uint8_t node_id[MESH_NODE_ID_LEN];	/* ours */
	mtime_ns auth_deadline;
	mtime_ns last_tx;			/* for keepalives */
};

/* Call once the TCP connection to the entry whose WireGuard public key is
 * server_key is established. */
void mesh_tcp_cli_start(struct mesh_tcp_cli *c, const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN], const uint8_t node_id[MESH_NODE_ID_LEN],
    mtime_ns now);

enum mesh_tcp_cli_verdict {
	MESH_TCP_CLI_SEND_AUTH = 1,	/* out holds the AUTH payload: send it */
	MESH_TCP_CLI_NOW_READY = 2,	/* OK received */
	MESH_TCP_CLI_DATAGRAM = 3,	/* a datagram from the entry: input it
					 * as if from the entry over UDP */
	MESH_TCP_CLI_IGNORE = 4,	/* keepalive */
};

/* Call for each decoded frame; sk is our node signing key, used only for
 * the challenge. out (MESH_TCP_AUTH_FRAME bytes) receives the AUTH payload.
 * Returns a verdict, or MESHD_E_PROTO / MESHD_E_TIMEOUT / MESHD_E_STATE /
 * MESHD_E_CRYPTO (signing failed), after which the state is FAILED. */
int mesh_tcp_cli_on_frame(struct mesh_tcp_cli *c, const uint8_t *frame, size_t len,
    const uint8_t sk[MESH_SK_LEN], mtime_ns now, uint8_t out[MESH_TCP_AUTH_FRAME]);

/* Call after a frame was queued to the entry (keepalive timing). */
void mesh_tcp_cli_on_sent(struct mesh_tcp_cli *c, mtime_ns now);

/* next_expiry: the auth deadline before READY, the keepalive time after.
 * handle_expiry: returns MESH_TCP_CLI_KEEPALIVE_DUE (send a KEEPALIVE
 * frame), MESH_TCP_CLI_TIMED_OUT (state is FAILED now) or 0. */
enum { MESH_TCP_CLI_KEEPALIVE_DUE = 1, MESH_TCP_CLI_TIMED_OUT = 2 };
mtime_ns mesh_tcp_cli_next_expiry(const struct mesh_tcp_cli *c);
int mesh_tcp_cli_handle_expiry(struct mesh_tcp_cli *c, mtime_ns now);

/* The joiner's opening (JOIN, then the JOIN_REQ datagram req), both framed,
 * into out: send it as soon as the connection is up, without waiting for
 * the CHALLENGE (which a joiner ignores, as it does KEEPALIVE; every other
 * frame from the entry is a datagram for the joiner). Returns the bytes
 * written, or 0 when req is empty, too long or out too small
 * (MESH_TCP_LEN_HDR * 2 + MESH_TCP_CTL_HDR + req_len needed). */
size_t mesh_tcp_join_open(const uint8_t *req, size_t req_len, uint8_t *out, size_t cap);

/* True when a frame from the entry is one a joiner ignores (a control
 * frame: CHALLENGE, KEEPALIVE). */
bool mesh_tcp_is_ctl(const uint8_t *frame, size_t len);

/* The signed message; exposed for tests. */
void mesh_tcp_auth_message(const uint8_t mesh_id[MESH_ID_LEN],
    const uint8_t server_key[MESH_TCP_KEY_LEN],
    const uint8_t challenge[MESH_TCP_CHALLENGE_LEN], uint8_t out[MESH_TCP_SIGNED_LEN]);

/* Writes a KEEPALIVE payload (MESH_TCP_KEEPALIVE_FRAME bytes). */
void mesh_tcp_keepalive(uint8_t out[MESH_TCP_KEEPALIVE_FRAME]);

/* ---- fallback decision (client side) ------------------------------------ */

enum mesh_tcp_fb_mode {
	MESH_TCP_FB_UDP,		/* normal: everything over UDP */
	MESH_TCP_FB_TCP,		/* UDP blocked: everything through an entry */
};

struct mesh_tcp_fb {
	enum mesh_tcp_fb_mode mode;
	mtime_ns unanswered_since;	/* first UDP send since the last UDP
					 * answer; MTIME_NEVER: none pending */
	mtime_ns next_udp_try;		/* TCP mode: next UDP retry */
	uint64_t switches_to_tcp, switches_to_udp;
};

void mesh_tcp_fb_init(struct mesh_tcp_fb *f);

/* Call after a datagram was sent to a member over UDP and an answer is
 * expected (a handshake, a probe, gossip; not a keepalive). */
void mesh_tcp_fb_on_udp_sent(struct mesh_tcp_fb *f, mtime_ns now);

/* Call after a UDP send failed (EPERM, ENETUNREACH...): UDP is not usable
 * now. Switches to TCP at once. Returns true when the mode changed. */
bool mesh_tcp_fb_on_udp_error(struct mesh_tcp_fb *f, mtime_ns now);

/* Call after an authenticated datagram from a member arrived over UDP.
 * Returns true when this switched the mode back to UDP. */
bool mesh_tcp_fb_on_udp_answer(struct mesh_tcp_fb *f, mtime_ns now);

/* Actions returned by handle_expiry (bit mask). */
enum {
	MESH_TCP_FB_TO_TCP = 1,		/* mode is now TCP: connect to an entry */
	MESH_TCP_FB_TRY_UDP = 2,	/* TCP mode: send UDP probes to members
					 * now (each with on_udp_sent) */
};
mtime_ns mesh_tcp_fb_next_expiry(const struct mesh_tcp_fb *f);
int mesh_tcp_fb_handle_expiry(struct mesh_tcp_fb *f, mtime_ns now);

/* An entry candidate: a member that listens on TCP. */
struct mesh_tcp_entry {
	uint8_t node_id[MESH_NODE_ID_LEN];
	uint32_t rtt_ms;		/* 0: unknown */
	bool usable;			/* false: recently failed, skip */
};

/* Index of the usable entry with the lowest RTT (unknown RTTs after all
 * known ones, ties broken by the lower node id so every run picks the
 * same), or -1 when none is usable. */
int mesh_tcp_fb_pick_entry(const struct mesh_tcp_entry *e, size_t n);

#endif
