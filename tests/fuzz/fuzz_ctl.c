/* libFuzzer harness for control-socket request parsing that stands alone
 * from a live node: the "invite TTL USES [EP,...]" arguments
 * (meshd_invite_req_parse, what daemon_ctl.c calls). The input is cut to one
 * request line as the server does (at most CTL_REQ_MAX bytes, up to the
 * first '\n' or NUL). Whatever parses must format back to a request that
 * parses to the same values. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "invite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char req[CTL_REQ_MAX + 1], line[INVITE_REQ_MAX + 1], err[256];
	struct meshd_invite_req r, back;
	const char *args = req;
	size_t n = size < CTL_REQ_MAX ? size : CTL_REQ_MAX;

	memcpy(req, data, n);
	req[n] = '\0';
	req[strcspn(req, "\n")] = '\0';
	if (!strncmp(req, "invite ", 7))
		args += 7;
	if (meshd_invite_req_parse(args, &r, err, sizeof err) != 0)
		return 0;
	if (meshd_invite_req_format(&r, line, sizeof line) != 0 ||
	    meshd_invite_req_parse(line + 7, &back, err, sizeof err) != 0 ||
	    back.ttl_s != r.ttl_s || back.uses != r.uses || back.nep != r.nep)
		abort();
	for (unsigned i = 0; i < r.nep; i++)
		if (!endpoint_eq(&back.ep[i], &r.ep[i]))
			abort();
	return 0;
}
