/* SPDX-License-Identifier: GPL-2.0 */
/* The gaitcap command: one function per subcommand, main.c dispatches. */
#ifndef GAITCAP_H
#define GAITCAP_H

#include <getopt.h>

#define GAITCAP_VERSION "0.4.0"

/* Each returns the process exit status; argv[0] is the subcommand name. */
int cmd_capture(int argc, char **argv);
int cmd_mark(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_qc(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_refine(int argc, char **argv);
int cmd_service(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_devices(int argc, char **argv);

/* The options each subcommand accepts: its --help must list every one. */
extern const struct option cmd_capture_options[];
extern const struct option cmd_mark_options[];
extern const struct option cmd_info_options[];
extern const struct option cmd_recover_options[];
extern const struct option cmd_import_options[];
extern const struct option cmd_qc_options[];
extern const struct option cmd_service_options[];
extern const struct option cmd_session_options[];
extern const struct option cmd_devices_options[];

/*
 * Usage errors (cli.c): "gaitcap CMD: what was wrong", then "Try 'gaitcap
 * CMD --help'." Each returns 1, the usage exit status; cli_num() returns 0
 * or -1 after saying that @s is not a number in [lo, hi] (@accepted).
 */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cli_bad_value(const char *cmd, const char *opt, const char *value,
		  const char *accepted);
int cli_getopt_error(const char *cmd, char **argv, int o);
/*
 * A session file (or refine's folder) to create, given as @what's value:
 * 0, or a usage error for "" or "-" (a session is a mapped file, never
 * standard output; "-" would create a file of that name).
 */
int cli_out_path(const char *cmd, const char *what, const char *path);
/* An input file name: 0, or a usage error for "" (open() would say ENOENT of nothing). */
int cli_in_path(const char *cmd, const char *path);
int cli_num(const char *cmd, const char *opt, const char *s, double lo,
	    double hi, const char *accepted, double *out);
/* "ENOSPC" for 28 or -28: the name an errno has in <errno.h>. */
const char *cli_errname(int err);
/* "ENOSPC (No space left on device)", or gcs_strerror() of a format error. */
const char *cli_err_words(int err);

#endif /* GAITCAP_H */
