/* Helpers shared by the mesh subcommands: messages, strict value checks and
 * subnet-route syntax (see cli.h).
 *
 * Every piece of user input is checked strictly, with a message that quotes
 * the bad value through cli_show(), before it reaches the store, the network
 * or the control socket. A failure prints exactly one line "meshd: REASON";
 * a usage error adds a hint line and makes the exit code 2.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "tun.h"

enum {
	ROUTE_LIST_MAX = CTL_REQ_MAX - 40,	/* fits "set advertise-routes LIST" */
};

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("meshd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_bad_value(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("meshd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'meshd %s --help' for usage.\n", cmd);
	return 2;
}

const char *cli_show(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < len && i < CLI_SHOW_MAX; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

int cli_check_label(const char *cmd, const char *what, const char *s)
{
	char b[CLI_SHOW_BUF];

	if (mesh_name_valid(s))
		return 0;
	return cli_bad_value(cmd, "invalid %s '%s': use 1-63 characters a-z, 0-9 and '-', "
			     "not starting or ending with '-'", what, cli_show(s, b, sizeof b));
}

int cli_check_ifname(const char *cmd, const char *s)
{
	char b[CLI_SHOW_BUF];

	if (tun_name_valid(s))
		return 0;
	return cli_bad_value(cmd, "invalid interface name '%s': use 1-15 characters, no '/', "
			     "':' or whitespace", cli_show(s, b, sizeof b));
}

int cli_check_dir(const char *cmd, const char *s)
{
	if (*s && strlen(s) < PATH_MAX - 32)
		return 0;
	return cli_bad_value(cmd, "invalid state directory: %s",
			     *s ? "path too long" : "empty path");
}

int cli_check_abspath(const char *cmd, const char *opt, const char *s)
{
	char b[CLI_SHOW_BUF];

	if (*s == '/' && strlen(s) < PATH_MAX - 32)
		return 0;
	return cli_bad_value(cmd, "invalid --%s '%s': give an absolute path", opt,
			     cli_show(s, b, sizeof b));
}

void cli_default_name(char out[MESH_NAME_MAX + 1])
{
	char host[256] = "";
	size_t i, n = 0, start;

	if (gethostname(host, sizeof host - 1) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	for (i = 0; host[i] && host[i] != '.' && n < MESH_NAME_MAX; i++) {
		char c = host[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	for (start = 0; out[start] == '-'; start++)
		;
	memmove(out, out + start, n - start + 1);
	if (!mesh_name_valid(out))
		strcpy(out, "node");
}

/* ---- subnet routes: strict CIDR syntax before anything is sent ---- */

/* The mask of byte i of a prefix of len bits. */
static uint8_t byte_mask(unsigned len, size_t i)
{
	if (len >= 8 * (i + 1))
		return 0xff;
	if (len <= 8 * i)
		return 0;
	return (uint8_t)(0xff << (8 - (len - 8 * i)));
}

bool cli_parse_cidr(const char *s, struct mesh_prefix *p, char *why, size_t whylen)
{
	char addr[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s), bytes;
	uint64_t len;
	bool v6 = memchr(s, ':', alen) != NULL;

	memset(p, 0, sizeof *p);
	if (alen == 0 || alen >= sizeof addr) {
		snprintf(why, whylen, "expected an address/length such as 10.1.0.0/24 or "
			 "fd00:1::/64");
		return false;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, p->addr) != 1) {
		snprintf(why, whylen, "not an IPv%c address", v6 ? '6' : '4');
		return false;
	}
	p->family = v6 ? MESH_FAMILY_V6 : MESH_FAMILY_V4;
	len = v6 ? 128 : 32;
	if (slash && !cli_parse_u64(slash + 1, v6 ? 128 : 32, &len)) {
		snprintf(why, whylen, "the prefix length must be 0..%d", v6 ? 128 : 32);
		return false;
	}
	if (len == 0) {
		snprintf(why, whylen, "a default route cannot be a subnet route");
		return false;
	}
	p->len = (uint8_t)len;
	bytes = v6 ? 16 : 4;
	for (size_t i = 0; i < bytes; i++) {
		if (!(p->addr[i] & ~byte_mask(p->len, i)))
			continue;
		for (size_t k = 0; k < bytes; k++)
			p->addr[k] &= byte_mask(p->len, k);
		inet_ntop(v6 ? AF_INET6 : AF_INET, p->addr, canon, sizeof canon);
		snprintf(why, whylen, "host bits are set (did you mean %s/%u?)", canon,
			 (unsigned)p->len);
		return false;
	}
	return true;
}

void cli_prefix_str(const struct mesh_prefix *p, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family == MESH_FAMILY_V6 ? AF_INET6 : AF_INET, p->addr, a, sizeof a);
	snprintf(out, len, "%s/%u", a, (unsigned)p->len);
}

bool cli_prefix_overlaps(const struct mesh_prefix *a, const struct mesh_prefix *b)
{
	unsigned len = a->len < b->len ? a->len : b->len;

	if (a->family != b->family)
		return false;
	for (size_t i = 0; i < 16; i++)
		if ((a->addr[i] ^ b->addr[i]) & byte_mask(len, i))
			return false;
	return true;
}

/* The whole-list checks of cli_check_routes, before any entry is parsed. */
static int check_route_chars(const char *cmd, const char *what, const char *s, bool list,
			     const char *shown)
{
	if (!*s)
		return cli_bad_value(cmd, "invalid %s '': %s", what, list ?
				     "give CIDR[,CIDR...] or 'none'" : "give a CIDR");
	if (strlen(s) > ROUTE_LIST_MAX)
		return cli_bad_value(cmd, "invalid %s '%s': longer than %d characters", what,
				     shown, ROUTE_LIST_MAX);
	if (strspn(s, "0123456789abcdefABCDEF.:/,") != strlen(s) || (!list && strchr(s, ',')))
		return cli_bad_value(cmd, "invalid %s '%s': only digits, a-f, '.', ':', '/'%s "
				     "are allowed", what, shown, list ? " and ','" : "");
	return 0;
}

int cli_check_routes(const char *cmd, const char *what, const char *s, bool list,
		     struct mesh_prefix *out, size_t *n)
{
	struct mesh_prefix r[MESH_CERT_MAX_ROUTES];
	char b[CLI_SHOW_BUF], e[CLI_SHOW_BUF], why[128], one[INET6_ADDRSTRLEN + 8];
	size_t cnt = 0;
	const char *p = s;

	cli_show(s, b, sizeof b);
	if (list && !strcmp(s, "none"))
		goto done;
	if (check_route_chars(cmd, what, s, list, b))
		return 2;
	for (;;) {
		size_t l = strcspn(p, ",");

		if (l == 0 || l >= sizeof one)
			return cli_bad_value(cmd, "invalid %s '%s': %s entry", what, b,
					     l ? "an overlong" : "an empty");
		if (cnt == MESH_CERT_MAX_ROUTES)
			return cli_bad_value(cmd, "invalid %s '%s': at most %d prefixes", what, b,
					     MESH_CERT_MAX_ROUTES);
		memcpy(one, p, l);
		one[l] = '\0';
		if (!cli_parse_cidr(one, &r[cnt], why, sizeof why))
			return cli_bad_value(cmd, "invalid %s: '%s': %s", what,
					     cli_show(one, e, sizeof e), why);
		for (size_t i = 0; i < cnt; i++)
			if (cli_prefix_overlaps(&r[i], &r[cnt]))
				return cli_bad_value(cmd, "invalid %s '%s': '%s' overlaps "
						     "another entry", what, b,
						     cli_show(one, e, sizeof e));
		cnt++;
		if (!p[l])
			break;
		p += l + 1;
	}
done:
	if (out)
		memcpy(out, r, cnt * sizeof r[0]);
	if (n)
		*n = cnt;
	return 0;
}

/* ---- the control socket ---- */

bool cli_not_running(const char *err)
{
	return !strncmp(err, "not running", 11);
}

int cli_print_body(char *body)
{
	size_t n = strlen(body);

	fputs(body, stdout);
	if (n > 0 && body[n - 1] != '\n')
		fputc('\n', stdout);
	free(body);
	return fflush(stdout) == 0 ? 0 : cli_fail("cannot write: %s", strerror(errno));
}

void cli_print_notes(const char *body)
{
	while (body && *body) {
		size_t n = strcspn(body, "\n");

		if (n)
			fprintf(stderr, "meshd: %.*s\n", (int)n, body);
		body += n;
		body += *body == '\n';
	}
}

int cli_ctl_print(const char *dir, const char *req)
{
	char err[512], *body;

	if (ctl_request(dir, req, &body, err, sizeof err) != 0)
		return cli_fail("%s", err);
	return cli_print_body(body);
}
