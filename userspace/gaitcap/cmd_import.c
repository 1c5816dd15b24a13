// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap import moticon FILE.txt -o SESSION --subject ID [--keep-labels]
 * (docs/import-moticon.md). Exit status: 0 imported, 1 usage error or a
 * file refused (nothing written), 2 imported with samples missing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gaitcap/gaitcap.h"
#include "qc/import.h"

const struct option cmd_import_options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "subject", required_argument, NULL, 's' },
	{ "keep-labels", no_argument, NULL, 'k' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap import moticon FILE.txt -o SESSION --subject ID [OPTIONS]\n"
		"Turn a Moticon OpenGo text export into a session (docs/import-moticon.md).\n"
		"  -o, --output SESSION  the new session file (never overwritten)\n"
		"  --subject ID          pseudonymous subject code (required)\n"
		"  --keep-labels         keep the export's Name (as the task) and Tag\n"
		"                        (as the condition); left out by default\n"
		"  -h, --help            this help\n"
		"Exit status: 0 imported, 2 imported with missing samples (gap records),\n"
		"1 refused: nothing was written.\n");
}

int cmd_import(int argc, char **argv)
{
	struct import_opts o = { 0 };
	struct import_report rep;
	const char *out = NULL;
	char err[256] = "";
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", cmd_import_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			o.subject = optarg;
			break;
		case 'k':
			o.keep_labels = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("import", argv, c);
		}
	}
	if (optind == argc)
		return cli_usage_error("import", "no format given: expected 'moticon'");
	if (strcmp(argv[optind], "moticon"))
		return cli_bad_value("import", "format", argv[optind], "moticon");
	if (optind + 1 >= argc)
		return cli_usage_error("import", "no export file given: expected FILE.txt");
	if (optind + 2 != argc)
		return cli_usage_error("import", "one file at a time: '%s' and '%s' given",
				       argv[optind + 1], argv[optind + 2]);
	if (cli_in_path("import", argv[optind + 1]))
		return 1;
	if (!out)
		return cli_usage_error("import", "no session given: expected -o SESSION");
	if (cli_out_path("import", "-o", out))
		return 1;
	if (!o.subject)
		return cli_usage_error("import", "no subject given: expected --subject ID "
				       "(a pseudonymous code)");
	ret = import_moticon(argv[optind + 1], out, &o, &rep, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gaitcap import: %s\n", err);
		return 1;
	}
	printf("%s: %" PRIu64 " rows at %.1f Hz; left %" PRIu64 " samples, %" PRIu64
	       " missing, %" PRIu64 " events; right %" PRIu64 " samples, %" PRIu64
	       " missing, %" PRIu64 " events\n", out, rep.rows,
	       rep.period_us ? 1e6 / rep.period_us : 0.0, rep.samples[0],
	       rep.missing[0], rep.events[0], rep.samples[1], rep.missing[1],
	       rep.events[1]);
	if (rep.partial[0] || rep.partial[1])
		printf("%s: %" PRIu64 " left and %" PRIu64 " right rows were partly empty: "
		       "imported as missing samples\n", out, rep.partial[0], rep.partial[1]);
	if (rep.inexact)
		printf("%s: %" PRIu64 " values were not on the gaitcap-v1 code grid and were "
		       "rounded to it (at most half a code)\n", out, rep.inexact);
	if (rep.dropped_notes)
		printf("%s: the export's Notes were left out (free text is never stored)\n", out);
	if (rep.cut_line)
		fprintf(stderr, "gaitcap import: %s: line %" PRIu64 ": the file ends inside "
			"this row (a cut copy?): the rows before it were imported, this one "
			"was left out\n", argv[optind + 1], rep.cut_line);
	return rep.missing[0] || rep.missing[1] || rep.cut_line ? 2 : 0;
}
