/* Deterministic simulation of many meshd gossip engines on a virtual
 * network.
 *
 * One virtual clock: a min-heap of events ordered by (time, sequence number),
 * so equal times replay in insertion order and a run with the same seed is
 * the same run. Each node has its own record set (mesh/records.h) and gossip
 * engine (mesh/gossip.h); the sets share one pool of record bytes, so a
 * record every node holds is stored once. send() upcalls become deliveries
 * after a fixed latency, or are lost with a seeded probability. A datagram is delivered
 * only if the receiver holds the sender's certificate: "a WireGuard session
 * can be established once you know its cert" (both ends must know each
 * other). Nodes become reachable to each other as they learn certs
 * (MEMBER_ADDED) and stop being so when revoked (MEMBER_REMOVED).
 *
 * Bootstrap, as after a join: one authority signs every certificate up
 * front; node i starts with its own cert and endpoint record and the certs
 * of 1-3 random "inviters" among nodes 0..i-1, and each inviter holds node
 * i's cert (it admitted it). Nothing else is known anywhere.
 *
 * Churn: cfg.spares more nodes are made up front (keys, cert, endpoint
 * record) but stay outside until sim_join() admits one the same way, through
 * 1-3 online inviters. sim_leave() takes a node offline for good: it stops
 * its rounds and datagrams to it are dropped, while its records stay valid
 * (it left, it was not revoked) and peers keep picking it, as real members
 * keep a silent peer until its cert expires.
 */
#ifndef MESHD_TESTS_SIM_H
#define MESHD_TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/gossip.h"
#include "util/time.h"

enum {
	SIM_NOW_UNIX = 1800000000,	/* unix time at virtual time 0 */
};

struct sim_cfg {
	unsigned nodes;
	uint64_t seed;
	unsigned loss_permille;		/* datagrams lost, out of 1000 */
	mtime_ns latency;		/* one-way; 0: 20 ms */
	unsigned spares;		/* nodes nodes..nodes+spares-1: not joined yet */
	unsigned old_permille;		/* nodes acting as from before SUBHASH
					 * (mesh_gossip_cfg.no_subhash), out of 1000 */
};

struct sim;

/* Aborts the test (via abort()) on setup failure: this is test code. */
struct sim *sim_new(const struct sim_cfg *cfg);
void sim_free(struct sim *s);

mtime_ns sim_now(const struct sim *s);
/* Runs every event up to and including virtual time t. */
void sim_run_until(struct sim *s, mtime_ns t);

/* True when all online nodes hold the same records (equal set hashes), and
 * so each other's cert and endpoint record (every node holds its own). A
 * node that left counts only through the set hashes: its records are held
 * by every online node or by none (one that left before anybody learnt its
 * endpoint record cannot be required). */
bool sim_converged(struct sim *s);

/* Churn. sim_join(): spare node i (not joined yet) is admitted by 1-3 random
 * online members and starts gossiping; aborts when there is no online member
 * or i has joined before. sim_leave(): node i goes offline for good. */
void sim_join(struct sim *s, unsigned i);
void sim_leave(struct sim *s, unsigned i);
bool sim_online(const struct sim *s, unsigned i);
unsigned sim_online_count(const struct sim *s);
/* Online nodes holding node i's cert and an endpoint record. */
unsigned sim_known_by(struct sim *s, unsigned i);
/* Datagrams dropped because the receiver had left. */
uint64_t sim_dropped_offline(const struct sim *s);

/* The gossip engines' counters (mesh_gossip_get_stats), summed over all
 * nodes. */
void sim_gossip_totals(const struct sim *s, struct mesh_gossip_stats *sum);

/* Distinct records held by all nodes together and their bytes: every node's
 * record set refers to one shared copy (mesh_rec_pool in mesh/records.h). */
void sim_pool_stats(const struct sim *s, size_t *records, size_t *bytes);

/* Signature checks answered from the memo / done for real (sim_verify.c). */
void sim_verify_stats(uint64_t *hits, uint64_t *misses);

/* Bytes all nodes have handed to the network so far, by gossip message type
 * (the second byte of a message; 0: anything else). */
enum { SIM_MSG_TYPES = 8 };
void sim_type_bytes(const struct sim *s, uint64_t out[SIM_MSG_TYPES]);

/* Bytes node i has handed to the network so far (lost ones included). */
uint64_t sim_node_bytes(const struct sim *s, unsigned i);
/* Node i's view: the certs it holds, and how many of the members it holds
 * a cert of (it takes tunnels from) are online. */
void sim_node_view(const struct sim *s, unsigned i, size_t *certs, unsigned *known_online);
uint64_t sim_delivered(const struct sim *s);
uint64_t sim_lost(const struct sim *s);

/* Node i signs a new endpoint record (seq + 1, a new port) and publishes it
 * through its engine; *seq_out gets the new seq. Returns the merge outcome. */
int sim_publish_endpoints(struct sim *s, unsigned i, uint64_t *seq_out);
/* True when every node that knows node i holds i's endpoint record with at
 * least this seq, and every non-revoked node knows i. */
bool sim_all_have_endpoints(struct sim *s, unsigned i, uint64_t seq);

/* Node by (an admin; the sim holds the authority key) publishes a revocation
 * of node target. Returns the merge outcome at by. */
int sim_publish_revoke(struct sim *s, unsigned by, unsigned target);
/* True when every node other than target holds target's tombstone and no
 * longer its cert. */
bool sim_all_revoked(struct sim *s, unsigned target);

#endif
