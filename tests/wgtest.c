/* Two-device fixture for the WireGuard core tests (see wgtest.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/endian.h"
#include "wgtest.h"

static const uint8_t v4[2][4] = { { 10, 0, 0, 1 }, { 10, 0, 0, 2 } };
static const uint8_t v6[2][16] = {
	{ 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	{ 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 },
};

static void host_send(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	struct wgt_node *node = ctx;
	struct wgt_net *net = node->net;
	struct wgt_dgram *d;

	if (len >= 4 && buf[0] >= 1 && buf[0] <= 4)
		node->sent[buf[0]]++;
	node->sent_bytes += len;
	if (net->qlen == WGT_QMAX || len > WGT_BUF)
		abort();
	d = &net->q[(net->qhead + net->qlen++) % WGT_QMAX];
	d->from = node->idx;
	d->src = node->addr;
	d->dst = *dst;
	d->len = len;
	memcpy(d->buf, buf, len);
}

static void host_walltime(void *ctx, struct walltime *out)
{
	struct wgt_node *node = ctx;

	out->sec = node->net->wall_base + node->net->now / SEC(1);
	out->nsec = (uint32_t)(node->net->now % SEC(1));
}

static const struct wg_host_ops ops = { .send = host_send, .walltime = host_walltime };

void wgt_init(struct wgt_net *net)
{
	int err;

	memset(net, 0, sizeof *net);
	if (sodium_init() < 0)
		abort();
	net->now = SEC(1000);
	net->wall_base = 1700000000;
	for (int i = 0; i < 2; i++) {
		struct wgt_node *n = &net->n[i];

		n->net = net;
		n->idx = i;
		n->dev = wg_device_new(&ops, n, &err);
		if (!n->dev)
			abort();
		randombytes_buf(n->priv, 32);
		if (wg_device_set_private_key(n->dev, n->priv, net->now) != 0)
			abort();
		wg_device_get_public_key(n->dev, n->pub);
	}
	endpoint_parse(&net->n[0].addr, "192.0.2.1:51820", false);
	endpoint_parse(&net->n[1].addr, "[2001:db8::2]:51821", false);
	for (int i = 0; i < 2; i++) {
		struct wgt_node *n = &net->n[i], *o = &net->n[1 - i];

		if (wg_peer_add(n->dev, o->pub, net->now, &n->peer) != 0)
			abort();
		wg_peer_set_endpoint(n->peer, &o->addr);
		wg_peer_allowedip_add(n->dev, n->peer, AF_INET, v4[1 - i], 32);
		wg_peer_allowedip_add(n->dev, n->peer, AF_INET6, v6[1 - i], 128);
	}
}

void wgt_free(struct wgt_net *net)
{
	for (int i = 0; i < 2; i++)
		wg_device_free(net->n[i].dev);
}

unsigned wgt_sent(const struct wgt_net *net, int node, int type)
{
	return net->n[node].sent[type];
}

int wgt_send_ip(struct wgt_net *net, int from, bool is_v6, size_t payload,
		const uint8_t *inner_src)
{
	alignas(8) uint8_t buf[WG_HEADROOM + WGT_BUF + WG_TAILROOM];
	uint8_t *p = buf + WG_HEADROOM;
	struct wg_result res;
	size_t len;

	memset(buf, 0xee, sizeof buf);
	if (!is_v6) {
		len = 20 + payload;
		memset(p, 0, 20);
		p[0] = 0x45;
		be16enc(p + 2, (uint16_t)len);
		p[8] = 64;
		p[9] = 17;
		memcpy(p + 12, inner_src ? inner_src : v4[from], 4);
		memcpy(p + 16, v4[1 - from], 4);
	} else {
		len = 40 + payload;
		memset(p, 0, 40);
		p[0] = 0x60;
		be16enc(p + 4, (uint16_t)payload);
		p[6] = 17;
		p[7] = 64;
		memcpy(p + 8, inner_src ? inner_src : v6[from], 16);
		memcpy(p + 24, v6[1 - from], 16);
	}
	for (size_t i = 0; i < payload; i++)
		p[len - payload + i] = (uint8_t)(i * 7 + from);
	wg_input_tun(net->n[from].dev, buf, len, sizeof buf, net->now, &res);
	if (res.act == WG_ACT_SEND) {
		struct wgt_dgram *d;

		if (res.off != 0 || res.len > WGT_BUF || net->qlen == WGT_QMAX)
			abort();
		d = &net->q[(net->qhead + net->qlen++) % WGT_QMAX];
		d->from = from;
		d->src = net->n[from].addr;
		d->dst = res.dst;
		d->len = res.len;
		memcpy(d->buf, buf + res.off, res.len);
		net->n[from].sent[4]++;
		net->n[from].sent_bytes += res.len;
	}
	return res.act;
}

void wgt_input(struct wgt_net *net, int to, uint8_t *buf, size_t len,
	       const union endpoint *src, struct wg_result *res)
{
	struct wgt_node *n = &net->n[to];

	wg_input_datagram(n->dev, buf, len, src, net->now, res);
	if (res->act == WG_ACT_DELIVER) {
		n->delivered++;
		n->last_len = res->len;
		memcpy(n->last, buf + res->off, res->len);
	}
}

bool wgt_pop(struct wgt_net *net, struct wgt_dgram *out)
{
	if (!net->qlen)
		return false;
	*out = net->q[net->qhead];
	net->qhead = (net->qhead + 1) % WGT_QMAX;
	net->qlen--;
	return true;
}

bool wgt_deliver_one(struct wgt_net *net)
{
	static struct wgt_dgram d;
	struct wg_result res;

	if (!wgt_pop(net, &d))
		return false;
	wgt_input(net, 1 - d.from, d.buf, d.len, &d.src, &res);
	return true;
}

unsigned wgt_pump(struct wgt_net *net, unsigned max)
{
	unsigned n = 0;

	while (n < max && wgt_deliver_one(net))
		n++;
	return n;
}

void wgt_flush(struct wgt_net *net)
{
	net->qhead = net->qlen = 0;
}

void wgt_advance(struct wgt_net *net, mtime_ns t, bool deliver)
{
	for (;;) {
		mtime_ns a = wg_next_expiry(net->n[0].dev), b = wg_next_expiry(net->n[1].dev);
		mtime_ns next = a < b ? a : b;

		if (next > t)
			break;
		if (next > net->now)
			net->now = next;
		wg_handle_expiry(net->n[0].dev, net->now);
		wg_handle_expiry(net->n[1].dev, net->now);
		if (deliver)
			wgt_pump(net, 10000);
		else
			wgt_flush(net);
	}
	if (t > net->now)
		net->now = t;
}

void wgt_expire(struct wgt_net *net, mtime_ns t)
{
	if (t > net->now)
		net->now = t;
	wg_handle_expiry(net->n[0].dev, net->now);
	wg_handle_expiry(net->n[1].dev, net->now);
}

void wgt_handshake(struct wgt_net *net, int from)
{
	wgt_send_ip(net, from, false, 32, NULL);
	wgt_pump(net, 100);
}
