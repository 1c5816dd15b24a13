// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap qc SESSION|OUTDIR [--json OUT.json] [--report OUT.html]
 * (docs/qc.md). Exit status: 0 pass, 2 warn, 3 fail, 1 could not check
 * (usage, unreadable input, unwritable output).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaitcap/gaitcap.h"
#include "qc/qc.h"
#include "session/gcsession.h"

const struct option cmd_qc_options[] = {
	{ "json", required_argument, NULL, 'j' },
	{ "report", required_argument, NULL, 'r' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap qc SESSION|OUTDIR [--json OUT.json] [--report OUT.html]\n"
		"Check a session's signal quality (docs/qc.md). Given a 'gaitcap refine'\n"
		"OUTDIR, the stride checks and the parameter table are added.\n"
		"  --json OUT.json     every check, its value, thresholds and verdict\n"
		"  --report OUT.html   a report for clinicians, plots included\n"
		"  --quiet             print only the verdict line\n"
		"  -h, --help          this help\n"
		"Exit status: 0 pass, 2 warn, 3 fail, 1 could not check.\n");
}

int cmd_qc(int argc, char **argv)
{
	const char *json = NULL, *html = NULL;
	struct qc_result *res;
	bool quiet = false;
	char err[512] = "";
	int c, ret, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", cmd_qc_options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = optarg;
			break;
		case 'r':
			html = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_getopt_error("qc", argv, c);
		}
	}
	if (optind == argc)
		return cli_usage_error("qc", "no input given: expected a SESSION file or a refine OUTDIR");
	if (optind + 1 != argc)
		return cli_usage_error("qc", "one input at a time: '%s' and '%s' given",
				       argv[optind], argv[optind + 1]);
	if (cli_in_path("qc", argv[optind]))
		return 1;
	if (qc_check_outputs(argv[optind], json, html, err, sizeof(err))) {
		fprintf(stderr, "gaitcap qc: %s\n", err);
		return 1;
	}
	res = calloc(1, sizeof(*res));
	if (!res)
		return 1;
	ret = qc_run(argv[optind], res, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gaitcap qc: %s\n", err);
		free(res);
		return 1;
	}
	/* Outputs first: a run that could not write them prints no verdict. */
	if (json && (ret = qc_write_json(res, json)))
		fprintf(stderr, "gaitcap qc: --json %s: not written: %s\n", json, strerror(-ret));
	if (!ret && html && (ret = qc_write_report(res, html)))
		fprintf(stderr, "gaitcap qc: --report %s: not written: %s\n", html, strerror(-ret));
	if (ret) {
		qc_result_free(res);
		free(res);
		return 1;
	}
	for (size_t i = 0; !quiet && i < res->n_checks; i++) {
		const struct qc_check *k = &res->check[i];

		printf("%-5s %-22s %-22s ", qc_status_name(k->status), k->id, k->scope);
		if (isnan(k->value))
			printf("%-12s %s\n", "-", k->why);
		else if (k->status == QC_NOTE)
			printf("%.3g %s: %s\n", k->value, k->unit, k->why);
		else
			printf("%.3g %s (warn %s %.3g, fail %s %.3g)\n", k->value, k->unit,
			       k->below_is_bad ? "<" : ">", k->warn,
			       k->below_is_bad ? "<" : ">", k->fail);
	}
	for (size_t i = 0; !quiet && i < res->n_notes; i++)
		printf("note: %s\n", res->notes[i]);
	rc = res->overall == QC_FAIL ? 3 : res->overall == QC_WARN ? 2 : 0;
	printf("qc: %s%s%s\n", qc_status_name(res->overall), html ? ", report " : "",
	       html ? html : "");
	qc_result_free(res);
	free(res);
	return rc;
}
