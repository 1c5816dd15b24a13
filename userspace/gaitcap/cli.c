// SPDX-License-Identifier: GPL-2.0
/*
 * What the subcommands say when they are called wrongly, worded as coreutils
 * does: one line naming the option, the value and what is accepted, then
 * where the help is (docs/operating.md, "When a command refuses").
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gaitcap %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'gaitcap %s --help'.\n", cmd);
	return 1;
}

int cli_bad_value(const char *cmd, const char *opt, const char *value,
		  const char *accepted)
{
	return cli_usage_error(cmd, "invalid %s '%s': expected %s", opt, value,
			       accepted);
}

int cli_out_path(const char *cmd, const char *what, const char *path)
{
	if (!*path)
		return cli_usage_error(cmd, "empty %s: expected a file name", what);
	if (!strcmp(path, "-"))
		return cli_bad_value(cmd, what, path,
				     "a file name: a session is a mapped file, it cannot go to standard output");
	return 0;
}

int cli_in_path(const char *cmd, const char *path)
{
	return *path ? 0 : cli_usage_error(cmd, "empty file name given as input");
}

/* getopt_long() ran with opterr = 0 and ':' first in its short options. */
int cli_getopt_error(const char *cmd, char **argv, int o)
{
	const char *arg = argv[optind - 1];

	if (o == ':')
		return cli_usage_error(cmd, "option '%s' needs a value", arg);
	if (optopt > 0 && optopt < 256 && strncmp(arg, "--", 2))
		return cli_usage_error(cmd, "invalid option -- '%c'", optopt);
	if (optopt && !strncmp(arg, "--", 2) && strchr(arg, '='))
		return cli_usage_error(cmd, "option '%.*s' takes no value",
				       (int)(strchr(arg, '=') - arg), arg);
	return cli_usage_error(cmd, "unrecognized option '%s'", arg);
}

int cli_num(const char *cmd, const char *opt, const char *s, double lo,
	    double hi, const char *accepted, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -cli_bad_value(cmd, opt, s, accepted);
	*out = v;
	return 0;
}

const char *cli_errname(int err)
{
	static char buf[24];
	const char *n;

	if (err < 0)
		err = -err;
	n = strerrorname_np(err);
	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

const char *cli_err_words(int err)
{
	static char buf[160];

	if (err < 0)
		err = -err;
	if (err >= GCS_EBASE)
		return gcs_strerror(-err);
	snprintf(buf, sizeof(buf), "%s (%s)", cli_errname(err), strerror(err));
	return buf;
}
