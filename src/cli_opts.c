/* The table-driven option parser of the mesh subcommands (see cli_opts.h
 * for the order of checks). getopt_long does the scanning (GNU argument
 * permutation, "--opt=VALUE", unique abbreviations, "--"); this file turns a
 * command's table into getopt's arguments, stores and checks the values, and
 * words getopt's complaints itself (opterr = 0).
 */
#include "config.h"

#include <assert.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_opts.h"

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "meshd %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(cmd->usage, stderr);
	return 2;
}

/* getopt_long's complaint (c is ':' for a missing value, else '?'). */
static int opt_error(const struct cli_cmd *cmd, int c, char **argv)
{
	char b[CLI_SHOW_BUF];
	const char *arg = argv[optind - 1] ? argv[optind - 1] : "";

	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value",
				       cli_show(arg, b, sizeof b));
	/* "--flag=VALUE": getopt reports the flag's key in optopt */
	if (optopt && !strncmp(arg, "--", 2) && strchr(arg, '=')) {
		cli_show(arg, b, sizeof b);
		b[strcspn(b, "=")] = '\0';
		return cli_usage_error(cmd, "option '%s' takes no value", b);
	}
	if (optopt && optopt < 0x80 && optopt >= 0x20)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", cli_show(arg, b, sizeof b));
}

/* getopt_long's view of the table, --help last: longs[] ends with a zero
 * entry, shorts starts with ':' so that a missing value is told apart. */
static void getopt_args(const struct cli_cmd *cmd, struct option longs[CLI_OPTS_MAX + 2],
			char shorts[2 * CLI_OPTS_MAX + 4])
{
	size_t i, n = 0;

	assert(cmd->nopts <= CLI_OPTS_MAX);
	shorts[n++] = ':';
	shorts[n++] = 'h';
	for (i = 0; i < cmd->nopts; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		int has_arg = o->kind == CLI_FLAG ? no_argument :
			      o->kind == CLI_PATH_OPT ? optional_argument : required_argument;

		longs[i] = (struct option){ o->name, has_arg, NULL, o->key };
		if (!o->short_opt)
			continue;
		shorts[n++] = o->key;
		if (has_arg == required_argument)
			shorts[n++] = ':';
	}
	shorts[n] = '\0';
	longs[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	longs[i] = (struct option){ 0 };
}

static const struct cli_opt *find_opt(const struct cli_cmd *cmd, int key)
{
	for (size_t i = 0; i < cmd->nopts; i++)
		if (cmd->opts[i].key == key)
			return &cmd->opts[i];
	return NULL;
}

/* A value that may be left out: getopt gives optarg only for "--opt=VALUE";
 * a following word that is not an option is the value too. */
static const char *optional_value(int argc, char **argv, const char *def)
{
	if (optarg)
		return optarg;
	if (optind < argc && argv[optind][0] && argv[optind][0] != '-')
		return argv[optind++];
	return def;
}

/* Step 1 for one occurrence of o: store the value, check it when its kind
 * is checked at once. Returns 0 or 2. */
static int take(const struct cli_cmd *cmd, const struct cli_opt *o, const char *val)
{
	char b[CLI_SHOW_BUF];
	uint64_t v;

	switch (o->kind) {
	case CLI_FLAG:
		*(bool *)o->dest = true;
		return 0;
	case CLI_PORT:
		if (!cli_parse_u64(val, 65535, &v) || v == 0)
			return cli_bad_value(cmd->name, "invalid --%s '%s': expected a UDP port "
					     "1..65535", o->name, cli_show(val, b, sizeof b));
		*(uint16_t *)o->dest = (uint16_t)v;
		return 0;
	case CLI_COUNT:
		if (!cli_parse_u64(val, o->max, &v) || v == 0)
			return cli_bad_value(cmd->name, "invalid --%s '%s': expected a number "
					     "1..%u", o->name, cli_show(val, b, sizeof b),
					     (unsigned)o->max);
		*(uint32_t *)o->dest = (uint32_t)v;
		return 0;
	case CLI_PARSE:
		return o->parse(cmd->name, val, o->dest);
	case CLI_PARSE_LATE:
		return 0;
	default:
		*(const char **)o->dest = val;
		return 0;
	}
}

/* Step 4 for the last value of o. Returns 0 or 2. */
static int check_late(const struct cli_cmd *cmd, const struct cli_opt *o, const char *val)
{
	char what[48];

	switch (o->kind) {
	case CLI_DIR:
		return cli_check_dir(cmd->name, val);
	case CLI_IFNAME:
		return cli_check_ifname(cmd->name, val);
	case CLI_LABEL:
		return cli_check_label(cmd->name, o->what, val);
	case CLI_ROUTES:
		snprintf(what, sizeof what, "--%s", o->name);
		return cli_check_routes(cmd->name, what, val, true, NULL, NULL);
	case CLI_PATH_OPT:
		return cli_check_abspath(cmd->name, o->name, val);
	case CLI_PARSE_LATE:
		return o->parse(cmd->name, val, o->dest);
	default:
		return 0;
	}
}

/* Steps 2 to 4, once argv is scanned; seen[i] is the last value of
 * option i ("" for a flag), NULL when it was not given. */
static int check_after(const struct cli_cmd *cmd, int argc, char **argv,
		       const char *const *seen)
{
	int nargs = argc - optind, r;
	size_t i;

	if (nargs < cmd->min_args)
		return cli_usage_error(cmd, "missing %s", cmd->missing);
	if (cmd->max_args != CLI_ARGS_ANY && nargs > cmd->max_args)
		return cli_usage_error(cmd, "unexpected argument '%s'",
				       argv[optind + cmd->max_args]);
	for (i = 0; i < cmd->nopts; i++)
		if (!seen[i] && cmd->opts[i].missing)
			return cli_usage_error(cmd, "%s", cmd->opts[i].missing);
	for (i = 0; i < cmd->nopts; i++)
		if (seen[i] && (r = check_late(cmd, &cmd->opts[i], seen[i])) != 0)
			return r;
	return 0;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, int *argi)
{
	struct option longs[CLI_OPTS_MAX + 2];
	char shorts[2 * CLI_OPTS_MAX + 4];
	const char *seen[CLI_OPTS_MAX] = { NULL };
	const struct cli_opt *o;
	const char *val;
	int c, r;

	getopt_args(cmd, longs, shorts);
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == 'h') {
			fputs(cmd->usage, stdout);
			return 0;
		}
		o = find_opt(cmd, c);
		if (!o)
			return opt_error(cmd, c, argv);
		val = o->kind == CLI_PATH_OPT ? optional_value(argc, argv, o->def) : optarg;
		if ((r = take(cmd, o, val)) != 0)
			return r;
		seen[o - cmd->opts] = val ? val : "";
	}
	if ((r = check_after(cmd, argc, argv, seen)) != 0)
		return r;
	*argi = optind;
	return CLI_GO;
}
