/* libFuzzer harness for the UAPI request parser (uapi_handle_request), the
 * code behind /var/run/wireguard/IFNAME.sock that wg(8) talks to.
 *
 * The input is split into requests the way the server splits its stream
 * (uapi_request_len); each is handled against one long-lived device, so a set
 * can build state (peers, allowed IPs, keys) that later gets and sets walk.
 * The device is reset when it grows large, to keep runs fast. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "uapi.h"
#include "wg/wg.h"

static void host_send(void *ctx, const union endpoint *dst, const uint8_t *buf, size_t len)
{
	(void)ctx, (void)dst, (void)buf, (void)len;
}

static void host_walltime(void *ctx, struct walltime *out)
{
	(void)ctx;
	out->sec = 1700000000;
	out->nsec = 0;
}

static const struct wg_host_ops ops = { .send = host_send, .walltime = host_walltime };
static struct uapi_host host;
static unsigned runs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct uapi_out out = { 0 };
	mtime_ns now = SEC(100);
	int err;

	if (!host.wg || ++runs % 4096 == 0) {
		if (sodium_init() < 0)
			abort();
		wg_device_free(host.wg);
		memset(&host, 0, sizeof host);
		host.wg = wg_device_new(&ops, NULL, &err);
		if (!host.wg)
			abort();
	}
	while (size > 0) {
		size_t n = uapi_request_len(p, size);

		if (n == 0)
			n = size;	/* a truncated last request is handled as is */
		if (uapi_handle_request(&host, p, n, now, &out) == UAPI_CLOSE) {
			uapi_out_clear(&out);
			break;
		}
		uapi_out_clear(&out);
		p += n;
		size -= n;
		now += MSEC(10);
	}
	return 0;
}
