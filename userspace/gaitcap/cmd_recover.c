// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap recover [-o NEW | --force] FILE: repair the tail of a session
 * file in place, or salvage it into a new file (docs/session-format.md
 * section 9). Exit status: 0 nothing lost, 2 done but records were lost or
 * damaged, 1 failed or refused (the file is left as it was).
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

static const char *type_name(uint16_t t)
{
	switch (t) {
	case GCS_REC_META: return "meta";
	case GCS_REC_STREAM: return "stream";
	case GCS_REC_CHUNK: return "chunk";
	case GCS_REC_ZCHUNK: return "zchunk";
	case GCS_REC_CLOCK: return "clock";
	case GCS_REC_MARKER: return "marker";
	case GCS_REC_GAP: return "gap";
	default: return "record";
	}
}

/* Name exactly what the damage cost: each lost stretch and record. */
static void print_losses(const char *path, const struct gcs_recover_report *rep)
{
	const struct gcs_index_entry *e;
	struct gcs_reader *r;
	size_t n;

	if (!rep->lost_ranges && !rep->lost_chunks && !rep->damaged)
		return;
	if (gcs_reader_open(&r, path, GCS_OPEN_VERIFY))
		return;
	for (size_t i = 0; i < gcs_reader_n_lost_ranges(r); i++) {
		const struct gcs_lost_range *l = gcs_reader_lost_range(r, i);

		printf("%s: lost: bytes %" PRIu64 "..%" PRIu64 " (damaged record headers)\n",
		       path, l->off, l->end);
	}
	n = gcs_reader_lost_records(r, &e);
	for (size_t i = 0; i < n; i++) {
		printf("%s: lost: %s record at %" PRIu64, path,
		       type_name(e[i].type), e[i].off);
		if (e[i].stream != GCS_STREAM_NONE)
			printf(", stream %u", e[i].stream);
		printf("\n");
	}
	for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
		const struct gcs_chunk_info *c = gcs_reader_chunk(r, i);

		if (c->status == GCS_CHUNK_LOST)
			printf("%s: lost: chunk at %" PRIu64 ", stream %u, seq %"
			       PRIu64 "..%" PRIu64 " (no copy passes its checksum)\n",
			       path, c->orig_off, c->stream, c->first_seq,
			       c->last_seq);
	}
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		const struct gcs_stream_info *s = gcs_reader_stream(r, i);

		if (s->lost_records)
			printf("%s: lost: stream %u, %" PRIu64 " records\n", path,
			       s->id, s->lost_records);
	}
	gcs_reader_close(r);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gaitcap recover [-o NEW | --force] FILE\n"
		"Repair a session file: cut it after its last valid record, index it and\n"
		"mark it recovered. Damage costs only the damaged records: the reader steps\n"
		"over them, and every record lost is named.\n"
		"  -o, --output NEW  write the salvaged session to NEW; FILE is left as it is\n"
		"  --force           cut in place even below the durable mark or in a closed\n"
		"                    file (without it, such a file is left alone)\n"
		"  -h, --help        this help\n"
		"Refuses while a capture holds the file; waits for one that was killed.\n"
		"Exit status: 0 done, nothing lost; 2 done, records were lost or damaged;\n"
		"1 failed or refused (the file is left as it was).\n");
}

const struct option cmd_recover_options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "force", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cmd_recover(int argc, char **argv)
{
	struct gcs_recover_opts o = { .dead_wait_ms = 10000 };
	struct gcs_recover_report rep;
	const char *path;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", cmd_recover_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.out = optarg;
			continue;
		case 'f':
			o.force = true;
			continue;
		case 'h':
			usage(stdout);
			return 0;
		}
		return cli_getopt_error("recover", argv, c);
	}
	if (o.out && o.force)
		return cli_usage_error("recover", "-o and --force exclude each other: "
				       "-o salvages into a new file, --force cuts FILE in place");
	if (optind == argc)
		return cli_usage_error("recover", "no session file given: expected one FILE");
	if (optind + 1 != argc)
		return cli_usage_error("recover", "one file at a time: '%s' and '%s' given",
				       argv[optind], argv[optind + 1]);
	if (cli_in_path("recover", argv[optind]) ||
	    (o.out && cli_out_path("recover", "-o", o.out)))
		return 1;
	path = argv[optind];
	ret = gcs_recover_opts(path, &o, &rep);
	if (ret && !rep.refused) {
		fprintf(stderr, "gaitcap recover: %s: %s\n",
			rep.copy_failed || (ret == -EEXIST && o.out) ? o.out : path,
			ret == -EBUSY ? "a capture is writing this file" :
					gcs_strerror(ret));
		return 1;
	}
	print_losses(path, &rep);
	if (rep.refused) {
		fprintf(stderr, "gaitcap recover: %s: left as it was: repairing it in place "
			"would cut %s; use -o NEW to write what was saved to a new file, "
			"or --force\n", path,
			rep.lost_durable ? "below its durable mark" :
			rep.lost_ranges ? "a file damaged below its durable mark" :
					  "a closed file");
		return 1;
	}
	if (rep.wrote_copy) {
		printf("%s: salvaged %" PRIu64 " records into %s (%" PRIu64
		       " bytes, state recovered); %s left as it was\n",
		       path, rep.records, o.out, rep.new_size, path);
	} else if (!rep.changed && !gcs_recover_lost(&rep)) {
		printf("%s: closed and intact, nothing to do (%" PRIu64 " records)\n",
		       path, rep.records);
	} else if (!rep.changed) {
		printf("%s: closed, nothing to cut, but damaged: %" PRIu64
		       " records read (use -o NEW for a clean copy)\n",
		       path, rep.records);
	} else {
		printf("%s: kept %" PRIu64 " records (%" PRIu64 " bytes); cut %" PRIu64
		       " bytes of %s; %s; now %" PRIu64 " bytes, state recovered\n",
		       path, rep.records, rep.valid_end, rep.dropped,
		       rep.tail < 4 ? tail_what[rep.tail] : "?",
		       rep.wrote_index ? "index written" : "no index (no space)",
		       rep.new_size);
	}
	if (rep.reclaimed)
		printf("%s: reclaimed %" PRIu64 " bytes of raw data already held compressed\n",
		       path, rep.reclaimed);
	if (rep.lost_durable)
		printf("%s: warning: %" PRIu64 " bytes below the durable mark "
		       "were missing: the file was damaged, not just cut short\n",
		       path, rep.lost_durable);
	if (rep.lost_ranges) {
		printf("%s: warning: %" PRIu64 " damaged stretches (%" PRIu64
		       " bytes) stepped over", path, rep.lost_ranges, rep.lost_bytes);
		if (rep.lost_records_known)
			printf(": %" PRIu64 " records lost", rep.lost_records);
		printf("\n");
	}
	if (rep.damaged || rep.lost_chunks)
		printf("%s: warning: %" PRIu64 " damaged records, %" PRIu64
		       " chunks with no valid copy (see gaitcap info)\n",
		       path, rep.damaged, rep.lost_chunks);
	return gcs_recover_lost(&rep) ? 2 : 0;
}
