// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap refine SESSION -o OUTDIR: events, strides and gait parameters of
 * a session (librefine; definitions in docs/gait-parameters.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaitcap/gaitcap.h"
#include "refine/refine.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap refine SESSION -o OUTDIR\n"
		"Remove errors, align the clocks, find gait events and compute the gait\n"
		"parameters of SESSION. OUTDIR (created if missing) gets parameters.json,\n"
		"events.tsv, strides.tsv and refined.gcs; existing files are never\n"
		"overwritten, and a failed run removes what it wrote.\n"
		"Definitions: docs/gait-parameters.md.\n"
		"  -o, --output OUTDIR  where the results go\n"
		"  -q, --quiet          no summary line\n");
}

static void say_loss(const char *session, const struct refine_loss *l)
{
	const char *side = l->side == REFINE_LEFT ? "left " :
			   l->side == REFINE_RIGHT ? "right " : "";
	uint64_t chunks = l->check_chunks + l->header_chunks;
	uint64_t records = l->check_records + l->header_records;

	if (!l->records_read)
		fprintf(stderr, "refine: %s: %s%s stream %u: no samples\n", session, side,
			l->mat ? "mat" : "insole", l->stream);
	if (!chunks && !records)
		return;
	fprintf(stderr, "refine: %s: %s%s stream %u: lost %" PRIu64 " records (%" PRIu64
		" samples) in %" PRIu64 " chunks: %" PRIu64 " chunks failed their check, %"
		PRIu64 " chunks (%" PRIu64 " records) lay behind damaged record headers\n",
		session, side, l->mat ? "mat" : "insole", l->stream, records,
		l->lost_samples, chunks, l->check_chunks, l->header_chunks,
		l->header_records);
}

int cmd_refine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct refine_opts o = { 0 };
	struct refine_result res;
	bool quiet = false;
	char err[512];
	int c, ret;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.outdir = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("refine", argv, c);
		}
	}
	if (optind == argc)
		return cli_usage_error("refine", "no session file given: expected SESSION -o OUTDIR");
	if (optind + 1 != argc)
		return cli_usage_error("refine", "one session at a time: '%s' and '%s' given",
				       argv[optind], argv[optind + 1]);
	if (!o.outdir)
		return cli_usage_error("refine", "no output folder: expected -o OUTDIR");
	if (!*o.outdir)
		return cli_usage_error("refine", "empty output folder name: expected -o OUTDIR");
	if (!strcmp(o.outdir, "-"))
		return cli_bad_value("refine", "-o", o.outdir,
				     "a folder name: refine writes several files, never standard output");
	if (cli_in_path("refine", argv[optind]))
		return 1;
	o.session = argv[optind];
	ret = refine_run(&o, &res, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gaitcap refine: %s\n", err[0] ? err : cli_err_words(ret));
		return 1;
	}
	if (!quiet)
		fprintf(stderr, "refine: %s: %zu events, %u insole streams, %u footprints in %u passes -> %s\n",
			o.session, res.n_events, res.n_insoles, res.n_footprints,
			res.n_passes, o.outdir);
	/* Said even with --quiet: the results lack what could not be read. */
	if (res.lost_chunks)
		fprintf(stderr, "refine: %s: damaged: %" PRIu64 " of its chunks could not be "
			"read ('gaitcap info' lists them; data_lost in parameters.json)\n",
			o.session, res.lost_chunks);
	for (unsigned int k = 0; k < res.n_loss; k++)
		say_loss(o.session, &res.loss[k]);
	if (res.cut_short)
		fprintf(stderr, "refine: %s: cut short after offset %" PRIu64 ": what followed "
			"is lost, how much is unknown\n", o.session, res.cut_at);
	refine_result_free(&res);
	return 0;
}
