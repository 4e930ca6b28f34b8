/* Status formatting: JSON escaping, the JSON contract (status.h), the path
 * rule and the aligned table, pure functions over plain structs; the stored
 * state shown when no daemon runs (an in-memory store); and the control
 * request "invite" (parse, format) with the invite maker behind it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invite.h"
#include "mesh/identity.h"
#include "mesh/node.h"
#include "mesh/token.h"
#include "status.h"
#include "store/store.h"
#include "util/err.h"

static char *json_of(const char *s)
{
	struct sbuf b = { 0 };

	sbuf_json_str(&b, s);
	ck_assert(!b.oom);
	return b.buf;
}

START_TEST(test_json_escape)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "", "\"\"" },
		{ "node-1", "\"node-1\"" },
		{ "a\"b", "\"a\\\"b\"" },
		{ "a\\b", "\"a\\\\b\"" },
		{ "x\ny\tz\r", "\"x\\ny\\tz\\r\"" },
		{ "\x01\x1f", "\"\\u0001\\u001f\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },	/* UTF-8 passes through */
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *s = json_of(t[i].in);

		ck_assert_str_eq(s, t[i].out);
		free(s);
	}
}
END_TEST

START_TEST(test_sbuf_grows)
{
	struct sbuf b = { 0 };

	for (int i = 0; i < 10000; i++)
		sbuf_printf(&b, "%d,", i % 10);
	ck_assert(!b.oom);
	ck_assert_uint_eq(b.len, 20000);
	ck_assert_uint_eq(strlen(b.buf), 20000);
	sbuf_free(&b);
}
END_TEST

static void fill(struct status_self *self, struct status_peer p[2])
{
	memset(self, 0, sizeof *self);
	self->running = true;
	strcpy(self->name, "alpha");
	strcpy(self->mesh, "mesh");
	strcpy(self->public_key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	strcpy(self->ipv4, "100.64.0.1");
	strcpy(self->ipv6, "fd00:1::1");
	self->prefix4_len = 16;
	self->prefix6_len = 48;
	self->ipv6_active = true;
	self->listen_port = 51820;
	self->admin = true;
	self->tcp_port = 443;
	self->nep = 2;
	strcpy(self->ep[0].addr, "198.51.100.1:51820");
	self->ep[0].source = "local";
	self->ep[0].transport = "udp";
	strcpy(self->ep[1].addr, "198.51.100.1:443");
	self->ep[1].source = "local";
	self->ep[1].transport = "tcp";
	memset(p, 0, 2 * sizeof *p);
	strcpy(p[0].name, "be\"ta");
	strcpy(p[0].public_key, "BBBB");
	strcpy(p[0].ipv4, "100.64.0.2");
	strcpy(p[0].ipv6, "fd00:1::2");
	strcpy(p[0].endpoint, "198.51.100.2:51820");
	p[0].latest_handshake = 1000;
	p[0].rx_bytes = 123;
	p[0].tx_bytes = 4567890;
	strcpy(p[1].name, "gamma");
	strcpy(p[1].public_key, "CCCC");
	strcpy(p[1].ipv4, "100.64.0.3");
	strcpy(p[1].ipv6, "fd00:1::3");
	p[1].nroutes = 2;
	strcpy(p[1].routes[0], "10.1.0.0/16");
	strcpy(p[1].routes[1], "fd00:aa::/64");
}

/* The certificate's expiry: a node line, a CERT column, and the warning
 * line only when our cert went unrenewed. */
START_TEST(test_cert_expiry_text)
{
	struct status_self self;
	struct status_peer p[2];
	struct sbuf b = { 0 };

	fill(&self, p);
	self.cert_expires = 1090;
	p[0].cert_expires = 1000 + 3 * 86400;
	p[1].cert_expires = 999;
	status_format_text(&b, &self, p, 2, 1000);
	ck_assert(!b.oom);
	ck_assert_ptr_nonnull(strstr(b.buf, "cert:       expires in 90s (unix 1090)\n"));
	ck_assert_ptr_null(strstr(b.buf, "warning:"));
	ck_assert_ptr_nonnull(strstr(b.buf, " CERT "));
	ck_assert_ptr_nonnull(strstr(b.buf, " in 3d "));
	ck_assert_ptr_nonnull(strstr(b.buf, " expired "));
	sbuf_free(&b);
	self.cert_unrenewed = true;
	status_format_text(&b, &self, p, 2, 1000);
	ck_assert_ptr_nonnull(strstr(b.buf, "\nwarning:    certificate expires soon and no admin "
	    "has renewed it"));
	sbuf_free(&b);
}
END_TEST

START_TEST(test_json_contract)
{
	struct status_self self;
	struct status_peer p[2];
	struct sbuf b = { 0 };

	fill(&self, p);
	p[0].mtu = 1280;
	self.cert_expires = 1700000000;
	p[0].cert_expires = 1700000090;
	status_format_json(&b, &self, p, 2, 1010);
	ck_assert(!b.oom);
	ck_assert_str_eq(b.buf,
		"{\"running\": true, \"node\": {\"name\": \"alpha\", \"public_key\": "
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"overlay_ipv4\": \"100.64.0.1\", "
		"\"overlay_ipv6\": \"fd00:1::1\", \"ipv6_active\": true, \"listen_port\": 51820, "
		"\"tcp_port\": 443, \"admin\": true, "
		"\"endpoints\": [{\"addr\": \"198.51.100.1:51820\", \"source\": \"local\", "
		"\"transport\": \"udp\"}, {\"addr\": \"198.51.100.1:443\", \"source\": \"local\", "
		"\"transport\": \"tcp\"}], "
		"\"cert_expires\": 1700000000, \"revoked\": false}, "
		"\"peers\": [{\"name\": \"be\\\"ta\", \"public_key\": \"BBBB\", "
		"\"overlay_ipv4\": \"100.64.0.2\", \"overlay_ipv6\": \"fd00:1::2\", "
		"\"path\": \"direct\", \"transport\": \"udp\", \"endpoint\": \"198.51.100.2:51820\", \"via\": null, "
		"\"latest_handshake\": 1000, \"rx_bytes\": 123, \"tx_bytes\": 4567890, "
		"\"rtt_ms\": null, \"mtu\": 1280, \"routes\": [], \"cert_expires\": 1700000090, "
		"\"candidates\": [], \"probes_denied\": 0, \"punches_held\": 0}, "
		"{\"name\": \"gamma\", \"public_key\": \"CCCC\", \"overlay_ipv4\": \"100.64.0.3\", "
		"\"overlay_ipv6\": \"fd00:1::3\", \"path\": \"none\", \"transport\": \"udp\", \"endpoint\": null, "
		"\"via\": null, \"latest_handshake\": 0, \"rx_bytes\": 0, \"tx_bytes\": 0, "
		"\"rtt_ms\": null, \"mtu\": null, "
		"\"routes\": [\"10.1.0.0/16\", \"fd00:aa::/64\"], \"cert_expires\": 0, "
		"\"candidates\": [], \"probes_denied\": 0, \"punches_held\": 0}]}\n");
	sbuf_free(&b);

	/* no peers, no endpoints */
	self.nep = 0;
	self.admin = false;
	status_format_json(&b, &self, NULL, 0, 1010);
	ck_assert_ptr_nonnull(strstr(b.buf, "\"admin\": false, \"endpoints\": [], "
	    "\"cert_expires\": 1700000000, \"revoked\": false}, \"peers\": []}"));
	sbuf_free(&b);
}
END_TEST

/* transport: "tcp" for a peer reached over TCP (our fallback, or our entry),
 * in JSON and in the table's TRANSPORT column. */
START_TEST(test_transport)
{
	struct status_self self;
	struct status_peer p[2];
	struct sbuf b = { 0 };

	fill(&self, p);
	p[0].tcp = true;
	status_format_json(&b, &self, p, 2, 1010);
	ck_assert(!b.oom);
	ck_assert_ptr_nonnull(strstr(b.buf, "\"name\": \"be\\\"ta\", "));
	ck_assert_ptr_nonnull(strstr(b.buf, "\"transport\": \"tcp\", \"endpoint\": \"198.51.100.2:51820\""));
	ck_assert_ptr_nonnull(strstr(b.buf, "\"path\": \"none\", \"transport\": \"udp\""));
	sbuf_free(&b);
	status_format_text(&b, &self, p, 2, 1010);
	ck_assert_ptr_nonnull(strstr(b.buf, " TRANSPORT "));
	ck_assert_ptr_nonnull(strstr(b.buf, " tcp "));
	ck_assert_ptr_nonnull(strstr(b.buf, " udp "));
	sbuf_free(&b);
}
END_TEST

/* candidates: each direct candidate as the path engine sees it, with the
 * probe budget's refusals; rtt_ms null before an answer. */
START_TEST(test_candidates)
{
	struct status_self self;
	struct status_peer p[2];
	struct sbuf b = { 0 };

	fill(&self, p);
	p[0].ncand = 2;
	strcpy(p[0].cand[0].addr, "198.51.100.2:51820");
	p[0].cand[0].source = "reflexive";
	p[0].cand[0].usable = p[0].cand[0].active = true;
	p[0].cand[0].rtt_ms = 3;
	p[0].cand[0].sent = 9;
	p[0].cand[0].acked = 8;
	p[0].cand[0].lost = 1;
	strcpy(p[0].cand[1].addr, "10.2.0.12:51820");
	p[0].cand[1].source = "local";
	p[0].cand[1].rtt_ms = -1;
	p[0].cand[1].sent = 6;
	p[0].probes_denied = 4;
	p[0].punches_held = 2;
	status_format_json(&b, &self, p, 2, 1010);
	ck_assert(!b.oom);
	ck_assert_ptr_nonnull(strstr(b.buf, "\"candidates\": [{\"addr\": \"198.51.100.2:51820\", "
	    "\"source\": \"reflexive\", \"usable\": true, \"active\": true, \"rtt_ms\": 3, "
	    "\"sent\": 9, \"acked\": 8, \"lost\": 1}, {\"addr\": \"10.2.0.12:51820\", "
	    "\"source\": \"local\", \"usable\": false, \"active\": false, \"rtt_ms\": null, "
	    "\"sent\": 6, \"acked\": 0, \"lost\": 0}], \"probes_denied\": 4, \"punches_held\": 2}"));
	sbuf_free(&b);
}
END_TEST

START_TEST(test_path_rule)
{
	struct status_self self;
	struct status_peer p[2];

	fill(&self, p);
	ck_assert_str_eq(status_path(&p[0], 1000), "direct");
	ck_assert_str_eq(status_path(&p[0], 1000 + STATUS_DIRECT_S - 1), "direct");
	ck_assert_str_eq(status_path(&p[0], 1000 + STATUS_DIRECT_S), "none");
	ck_assert_str_eq(status_path(&p[0], 900), "direct");	/* clock stepped back */
	p[0].endpoint[0] = '\0';
	ck_assert_str_eq(status_path(&p[0], 1000), "none");
	ck_assert_str_eq(status_path(&p[1], 1000), "none");	/* never shook hands */
}
END_TEST

START_TEST(test_text_table)
{
	struct status_self self;
	struct status_peer p[2];
	struct sbuf b = { 0 };
	const char *h, *r1, *r2;

	fill(&self, p);
	status_format_text(&b, &self, p, 2, 1012);
	ck_assert(!b.oom);
	ck_assert_ptr_nonnull(strstr(b.buf, "node:       alpha (alpha.mesh)\n"));
	ck_assert_ptr_nonnull(strstr(b.buf, "overlay:    100.64.0.1/16  fd00:1::1/48\n"));
	ck_assert_ptr_nonnull(strstr(b.buf, "admin:      yes\n"));
	ck_assert_ptr_nonnull(strstr(b.buf, " 198.51.100.1:51820 (local) 198.51.100.1:443 (local, tcp)\n"));
	ck_assert_ptr_nonnull(strstr(b.buf, "tcp port:   443 (entry for members whose UDP is blocked)\n"));
	h = strstr(b.buf, "NAME");
	r1 = strstr(b.buf, "be\"ta");
	r2 = strstr(b.buf, "gamma");
	ck_assert(h && r1 && r2 && h < r1 && r1 < r2);
	/* columns line up: PATH starts at the same offset on every row */
	ck_assert_int_eq(strstr(h, "PATH") - h, strstr(r1, "direct") - r1);
	ck_assert_int_eq(strstr(h, "PATH") - h, strstr(r2, "none") - r2);
	ck_assert_ptr_nonnull(strstr(r1, "12s ago"));
	ck_assert_ptr_nonnull(strstr(r1, "123 B"));
	ck_assert_ptr_nonnull(strstr(r1, "4.4 MiB"));
	ck_assert_ptr_nonnull(strstr(r2, "never"));
	ck_assert_int_eq(strstr(h, "ROUTES") - h, strstr(r1, "-\n") - r1);
	ck_assert_int_eq(strstr(h, "ROUTES") - h, strstr(r2, "10.1.0.0/16,fd00:aa::/64\n") - r2);
	sbuf_free(&b);

	status_format_text(&b, &self, NULL, 0, 1012);
	ck_assert_ptr_nonnull(strstr(b.buf, "no peers\n"));
	sbuf_free(&b);
}
END_TEST

static void routes_rows(struct status_routes r[2])
{
	memset(r, 0, 2 * sizeof *r);
	strcpy(r[0].name, "gw1");
	r[0].self = true;
	r[0].nadv = 2;
	strcpy(r[0].adv[0], "10.1.0.0/16");
	strcpy(r[0].adv[1], "fd00:1:2::/64");
	r[0].nappr = 1;
	strcpy(r[0].appr[0], "10.1.0.0/16");
	strcpy(r[1].name, "gateway-two");
	r[1].nadv = r[1].nappr = r[1].ninst = 1;
	strcpy(r[1].adv[0], "10.2.0.0/16");
	strcpy(r[1].appr[0], "10.2.0.0/16");
	strcpy(r[1].inst[0], "10.2.0.0/16");
}

/* IPv6 disabled on the host: the assigned address is still shown, marked. */
START_TEST(test_ipv6_not_active)
{
	struct status_self self;
	struct status_peer p[2];
	struct sbuf b = { 0 };

	fill(&self, p);
	self.ipv6_active = false;
	status_format_text(&b, &self, p, 2, 1012);
	ck_assert(!b.oom);
	ck_assert_ptr_nonnull(strstr(b.buf, "overlay:    100.64.0.1/16  fd00:1::1/48 "
					    "(IPv6 not active: disabled on this host)\n"));
	sbuf_free(&b);
	memset(&b, 0, sizeof b);
	status_format_json(&b, &self, p, 2, 1012);
	ck_assert(!b.oom);
	ck_assert_ptr_nonnull(strstr(b.buf, "\"overlay_ipv6\": \"fd00:1::1\", "
					    "\"ipv6_active\": false, "));
	sbuf_free(&b);
}
END_TEST

START_TEST(test_routes_formats)
{
	struct status_routes r[2];
	struct sbuf b = { 0 };
	const char *h, *r1, *r2;

	routes_rows(r);
	status_format_routes(&b, r, 2, true);
	ck_assert(!b.oom);
	ck_assert_str_eq(b.buf,
		"{\"nodes\": [{\"name\": \"gw1\", \"self\": true, \"advertised\": "
		"[\"10.1.0.0/16\", \"fd00:1:2::/64\"], \"approved\": [\"10.1.0.0/16\"], "
		"\"installed\": []}, "
		"{\"name\": \"gateway-two\", \"self\": false, \"advertised\": [\"10.2.0.0/16\"], "
		"\"approved\": [\"10.2.0.0/16\"], \"installed\": [\"10.2.0.0/16\"]}]}\n");
	sbuf_free(&b);

	status_format_routes(&b, r, 2, false);
	ck_assert(!b.oom);
	h = b.buf;
	r1 = strstr(h, "gw1 (self)");
	r2 = strstr(h, "gateway-two");
	ck_assert(!strncmp(h, "NODE", 4) && r1 && r2 && r1 < r2);
	ck_assert_int_eq(strstr(h, "ADVERTISED") - h, strstr(r1, "10.1.0.0/16,fd00") - r1);
	ck_assert_int_eq(strstr(h, "APPROVED") - h, strstr(strstr(r2, "10.2") + 1, "10.2") - r2);
	ck_assert_int_eq(strstr(h, "INSTALLED-HERE") - h, strstr(r1, "-\n") - r1);
	sbuf_free(&b);

	status_format_routes(&b, NULL, 0, true);
	ck_assert_str_eq(b.buf, "{\"nodes\": []}\n");
	sbuf_free(&b);
}
END_TEST

START_TEST(test_prefix_format)
{
	struct mesh_prefix p4 = { MESH_FAMILY_V4, 16, { 10, 1 } };
	struct mesh_prefix p6 = { MESH_FAMILY_V6, 64, { 0xfd, 0, 0, 1 } };
	struct mesh_prefix bad = { 5, 1, { 0 } };
	char out[STATUS_PREFIX_STRLEN];

	status_prefix_format(&p4, out);
	ck_assert_str_eq(out, "10.1.0.0/16");
	status_prefix_format(&p6, out);
	ck_assert_str_eq(out, "fd00:1::/64");
	status_prefix_format(&bad, out);
	ck_assert_str_eq(out, "?");
}
END_TEST

static bool starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

START_TEST(test_status_not_running_marked)
{
	struct status_self self;
	struct status_peer p[2];
	struct sbuf b = { 0 };

	fill(&self, p);
	self.running = false;
	self.ipv6_active = false;
	status_format_json(&b, &self, p, 2, 1010);
	ck_assert_ptr_nonnull(b.buf);
	ck_assert(starts_with(b.buf, "{\"running\": false, \"node\": {"));
	sbuf_free(&b);
	status_format_text(&b, &self, p, 2, 1010);
	ck_assert(starts_with(b.buf, "status:     not running ("));
	/* unknown without a daemon: not claimed to be disabled */
	ck_assert_ptr_null(strstr(b.buf, "IPv6 not active"));
	sbuf_free(&b);
}
END_TEST

/* An in-memory store holding one initialised admin node "alpha". */
static struct store *alpha_store(void)
{
	struct store *st;
	char err[256] = "";

	ck_assert_int_eq(store_open_memory(&st), 0);
	ck_assert_msg(mesh_node_init_store(st, "alpha", "lab", NULL, 51820, "mesh0", 1700000000,
					   err, sizeof err) == 0, "init: %s", err);
	return st;
}

/* A node whose own revocation arrived: its member row (certificate) is
 * gone; the stored status says "revoked" and still shows its key. */
START_TEST(test_status_store_revoked)
{
	struct store *st = alpha_store();
	struct store_node node;
	struct store_revocation rv = { .revoked_at = 1700000100, .record_len = 1 };
	struct status_self self;
	struct status_peer *peers = NULL;
	struct sbuf b = { 0 };
	char want[80];
	size_t n = 99;

	ck_assert_int_eq(status_collect_store(st, &self, &peers, &n), 0);
	free(peers);
	ck_assert(!self.revoked);
	snprintf(want, sizeof want, "public key: %s\n", self.public_key);
	ck_assert_int_eq(store_node_get(st, &node), 0);
	memcpy(rv.node_id, node.node_id, sizeof rv.node_id);
	ck_assert_int_eq(store_member_delete(st, node.node_id), 0);
	store_node_clear(&node);
	ck_assert_int_eq(store_revocation_put(st, &rv), 0);

	ck_assert_int_eq(status_collect_store(st, &self, &peers, &n), 0);
	free(peers);
	ck_assert(self.revoked);
	ck_assert_uint_eq(self.members, 0);
	ck_assert_int_eq(status_build_store(&b, st, false, 1700000200), 0);
	ck_assert_msg(starts_with(b.buf, "status:     revoked ("), "%s", b.buf);
	ck_assert_ptr_nonnull(strstr(b.buf, want));
	ck_assert_ptr_nonnull(strstr(b.buf, "overlay:    none\n"));
	sbuf_free(&b);
	ck_assert_int_eq(status_build_store(&b, st, true, 1700000200), 0);
	ck_assert_ptr_nonnull(strstr(b.buf, "\"revoked\": true}"));
	ck_assert_ptr_null(strstr(b.buf, "\"public_key\": \"\""));
	sbuf_free(&b);
	store_close(st);
}
END_TEST

START_TEST(test_status_collect_store)
{
	struct store *st = alpha_store(), *empty;
	struct status_self self;
	struct status_peer *peers = (struct status_peer *)1;
	struct sbuf b = { 0 };
	size_t n = 99;

	ck_assert_int_eq(status_collect_store(st, &self, &peers, &n), 0);
	ck_assert(!self.running);
	ck_assert_str_eq(self.name, "alpha");
	ck_assert_str_eq(self.mesh, "lab");
	ck_assert_uint_eq(self.members, 1);
	ck_assert(self.admin);
	ck_assert_uint_eq(self.listen_port, 51820);
	ck_assert_uint_eq(self.prefix4_len, 16);
	ck_assert_uint_eq(self.prefix6_len, 48);
	ck_assert(starts_with(self.ipv4, "100."));
	ck_assert_uint_eq(strlen(self.public_key), 44);
	ck_assert_uint_eq(n, 0);
	free(peers);
	ck_assert_int_eq(status_build_store(&b, st, true, 1700000000), 0);
	ck_assert_ptr_nonnull(strstr(b.buf, "{\"running\": false, \"node\": {\"name\": \"alpha\""));
	ck_assert_ptr_nonnull(strstr(b.buf, "\"peers\": []}\n"));
	ck_assert_ptr_nonnull(strstr(b.buf, "\"revoked\": false}"));
	sbuf_free(&b);
	store_close(st);

	ck_assert_int_eq(store_open_memory(&empty), 0);
	ck_assert_int_eq(status_collect_store(empty, &self, &peers, &n), MESHD_E_NOENT);
	store_close(empty);
}
END_TEST

/* One line per case: the arguments after "invite " and whether they parse. */
static void invite_case(const char *args, bool ok, uint64_t ttl, uint32_t uses, unsigned nep)
{
	struct meshd_invite_req r;
	char err[256] = "";
	int e = meshd_invite_req_parse(args, &r, err, sizeof err);

	if (!ok) {
		ck_assert_msg(e == MESHD_E_INVAL, "'%s' parsed", args);
		ck_assert_msg(err[0] != '\0', "'%s': no reason", args);
		ck_assert_uint_eq(r.nep, 0);
		return;
	}
	ck_assert_msg(e == 0, "'%s': %s", args, err);
	ck_assert_uint_eq(r.ttl_s, ttl);
	ck_assert_uint_eq(r.uses, uses);
	ck_assert_uint_eq(r.nep, nep);
}

START_TEST(test_invite_req_parse)
{
	invite_case("86400 1", true, 86400, 1, 0);
	invite_case("4294967295 1000000", true, 4294967295u, 1000000, 0);
	invite_case("60 3 192.0.2.1:51820", true, 60, 3, 1);
	invite_case("60 3 192.0.2.1:1,[2001:db8::7]:2,198.51.100.1:3,[2001:db8::8]:4",
		    true, 60, 3, 4);
	invite_case("60 1 [::ffff:192.0.2.1]:5", true, 60, 1, 1);	/* unmapped */
	invite_case("", false, 0, 0, 0);
	invite_case("60", false, 0, 0, 0);
	invite_case("60 ", false, 0, 0, 0);
	invite_case("0 1", false, 0, 0, 0);
	invite_case("60 0", false, 0, 0, 0);
	invite_case("4294967296 1", false, 0, 0, 0);
	invite_case("60 1000001", false, 0, 0, 0);
	invite_case("060 1", false, 0, 0, 0);
	invite_case("+60 1", false, 0, 0, 0);
	invite_case("60  1", false, 0, 0, 0);
	invite_case("60 1 ", false, 0, 0, 0);
	invite_case("60 1 192.0.2.1", false, 0, 0, 0);		/* no port */
	invite_case("60 1 192.0.2.1:0", false, 0, 0, 0);
	invite_case("60 1 192.0.2.1:1,", false, 0, 0, 0);
	invite_case("60 1 ,192.0.2.1:1", false, 0, 0, 0);
	invite_case("60 1 192.0.2.1:1,192.0.2.1:1", false, 0, 0, 0);
	invite_case("60 1 192.0.2.1:1 192.0.2.2:1", false, 0, 0, 0);
	invite_case("60 1 [fe80::1]:5", false, 0, 0, 0);
	invite_case("60 1 [fe80::1%1]:5", false, 0, 0, 0);
	/* not unicast: no joiner could reach it */
	invite_case("60 1 0.0.0.0:5", false, 0, 0, 0);
	invite_case("60 1 0.1.2.3:5", false, 0, 0, 0);
	invite_case("60 1 224.0.0.1:5", false, 0, 0, 0);
	invite_case("60 1 239.255.255.255:5", false, 0, 0, 0);
	invite_case("60 1 255.255.255.255:5", false, 0, 0, 0);
	invite_case("60 1 [::]:5", false, 0, 0, 0);
	invite_case("60 1 [ff02::1]:5", false, 0, 0, 0);
	invite_case("60 1 [::ffff:224.0.0.1]:5", false, 0, 0, 0);
	invite_case("60 1 223.255.255.255:5,[2001:db8::1]:5", true, 60, 1, 2);
	invite_case("60 1 127.0.0.1:5", true, 60, 1, 1);	/* loopback: tests use it */
	invite_case("60 1 1.1.1.1:1,1.1.1.2:1,1.1.1.3:1,1.1.1.4:1,1.1.1.5:1", false, 0, 0, 0);
	invite_case("99999999999999999999999 1", false, 0, 0, 0);
}
END_TEST

START_TEST(test_invite_req_roundtrip)
{
	struct meshd_invite_req r = { .ttl_s = 4294967295u, .uses = 1000000 }, back;
	char line[INVITE_REQ_MAX + 1], err[256];
	union endpoint ep;

	/* the longest request fits a control line */
	ck_assert_int_lt(INVITE_REQ_MAX, 256);
	for (int i = 0; i < MESH_TOKEN_MAX_EP; i++) {
		char a[64];

		snprintf(a, sizeof a, "[2001:db8:1111:2222:3333:4444:5555:%d]:65535", 6660 + i);
		ck_assert_int_eq(endpoint_parse(&ep, a, false), 0);
		ck_assert_int_eq(meshd_invite_add_ep(&r, &ep), 0);
	}
	ck_assert_int_eq(meshd_invite_add_ep(&r, &ep), 0);	/* a duplicate: no-op */
	ck_assert_int_eq(endpoint_parse(&ep, "192.0.2.9:1", false), 0);
	ck_assert_int_eq(meshd_invite_add_ep(&r, &ep), MESHD_E_FULL);
	ck_assert_int_eq(meshd_invite_req_format(&r, line, sizeof line), 0);
	ck_assert(starts_with(line, "invite 4294967295 1000000 [2001:db8:"));
	ck_assert_int_eq(meshd_invite_req_format(&r, line, 40), MESHD_E_RANGE);
	ck_assert_int_eq(meshd_invite_req_format(&r, line, sizeof line), 0);
	ck_assert_int_eq(meshd_invite_req_parse(line + 7, &back, err, sizeof err), 0);
	ck_assert_uint_eq(back.ttl_s, r.ttl_s);
	ck_assert_uint_eq(back.uses, r.uses);
	ck_assert_uint_eq(back.nep, r.nep);
	for (unsigned i = 0; i < r.nep; i++)
		ck_assert(endpoint_eq(&back.ep[i], &r.ep[i]));
}
END_TEST

START_TEST(test_invite_make)
{
	struct meshd_invite_req r = { .ttl_s = 3600, .uses = 2 };
	char line[MESH_TOKEN_STR_MAX + 1], err[256] = "";
	struct store *st = alpha_store(), *empty;
	struct mesh_token tok;
	union endpoint ep;

	ck_assert_int_eq(endpoint_parse(&ep, "192.0.2.1:51820", false), 0);
	ck_assert_int_eq(meshd_invite_add_ep(&r, &ep), 0);
	ck_assert_msg(meshd_invite_make(st, &r, 1700000000, "/d", "mesh0", line, err,
					sizeof err) == 0, "%s", err);
	ck_assert_int_eq(mesh_token_parse(line, &tok), 0);
	ck_assert_uint_eq(tok.expires_at, 1700000000 + 3600);
	ck_assert_uint_eq(tok.nep, 1);
	ck_assert(endpoint_eq(&tok.ep[0], &ep));
	mesh_token_clear(&tok);
	store_close(st);

	ck_assert_int_eq(store_open_memory(&empty), 0);
	ck_assert_int_eq(meshd_invite_make(empty, &r, 1700000000, "/d", "mesh0", line, err,
					   sizeof err), -1);
	ck_assert_str_eq(err, "no node in /d (run 'meshd init' or 'meshd join' first)");
	store_close(empty);
}
END_TEST

static Suite *suite_status(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_sbuf_grows);
	tcase_add_test(tc, test_json_contract);
	tcase_add_test(tc, test_cert_expiry_text);
	tcase_add_test(tc, test_transport);
	tcase_add_test(tc, test_candidates);
	tcase_add_test(tc, test_path_rule);
	tcase_add_test(tc, test_text_table);
	tcase_add_test(tc, test_ipv6_not_active);
	tcase_add_test(tc, test_routes_formats);
	tcase_add_test(tc, test_prefix_format);
	tcase_add_test(tc, test_status_not_running_marked);
	tcase_add_test(tc, test_status_collect_store);
	tcase_add_test(tc, test_status_store_revoked);
	tcase_add_test(tc, test_invite_req_parse);
	tcase_add_test(tc, test_invite_req_roundtrip);
	tcase_add_test(tc, test_invite_make);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite_status());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
