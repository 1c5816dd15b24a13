// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap recover FILE: repair the tail of a session file in place
 * (docs/session-format.md section 9). Exit status: 0 repaired or nothing
 * to do, 2 repaired but data below the durable mark was missing or damaged,
 * 1 failed (the file is left as it was, or recoverable again).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "gaitcap/gaitcap.h"
#include "session/gcsession.h"

static const char *const tail_what[] = {
	"clean", "uncommitted space", "torn bytes",
	"a record cut short by the end of the file",
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap recover FILE\n"
		"Cut a session file after its last valid record, index it and mark it recovered.\n"
		"Refuses while a capture holds the file. Safe to run again.\n"
		"  -h, --help    this help\n"
		"Exit status: 0 done, 2 done but durable data was missing or damaged, 1 failed.\n");
}

const struct option cmd_recover_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_recover(int argc, char **argv)
{
	struct gcs_recover_report rep;
	const char *path;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", cmd_recover_options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		return cli_getopt_error("recover", argv, c);
	}
	if (optind == argc)
		return cli_usage_error("recover", "no session file given: expected one FILE");
	if (optind + 1 != argc)
		return cli_usage_error("recover", "one file at a time: '%s' and '%s' given",
				       argv[optind], argv[optind + 1]);
	path = argv[optind];
	ret = gcs_recover(path, &rep);
	if (ret) {
		fprintf(stderr, "gaitcap recover: %s: %s\n", path,
			ret == -EBUSY ? "a capture is writing this file" :
					gcs_strerror(ret));
		return 1;
	}
	if (!rep.changed) {
		printf("%s: closed and intact, nothing to do (%" PRIu64 " records)\n",
		       path, rep.records);
		return 0;
	}
	printf("%s: kept %" PRIu64 " records (%" PRIu64 " bytes); cut %" PRIu64
	       " bytes of %s; %s; now %" PRIu64 " bytes, state recovered\n",
	       path, rep.records, rep.valid_end, rep.dropped,
	       rep.tail < 4 ? tail_what[rep.tail] : "?",
	       rep.wrote_index ? "index written" : "no index (no space)",
	       rep.new_size);
	if (rep.reclaimed)
		printf("%s: reclaimed %" PRIu64 " bytes of raw data already held compressed\n",
		       path, rep.reclaimed);
	if (rep.lost_durable)
		printf("%s: warning: %" PRIu64 " bytes below the durable mark "
		       "were missing: the file was damaged, not just cut short\n",
		       path, rep.lost_durable);
	if (rep.damaged)
		printf("%s: warning: %" PRIu64 " damaged records remain (see gaitcap info)\n",
		       path, rep.damaged);
	return rep.lost_durable || rep.damaged ? 2 : 0;
}
