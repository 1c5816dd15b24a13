// SPDX-License-Identifier: GPL-2.0
/*
 * readall: every record of a session read once, stream after stream, the
 * way refine reads it (GCS_OPEN_STREAM, chunks checked and decompressed),
 * and nothing else done with it. The refine bench sets refine + qc against
 * it to show what they cost beyond reading the file.
 *
 *   readall FILE
 *
 * Prints "records bytes" on stdout; exit 1 if the file cannot be read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "session/gcsession.h"

static volatile uint64_t sink;

int main(int argc, char **argv)
{
	struct gcs_reader *r;
	uint64_t records = 0, bytes = 0, sum = 0;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: readall FILE\n");
		return 1;
	}
	ret = gcs_reader_open(&r, argv[1], GCS_OPEN_STREAM);
	if (ret) {
		fprintf(stderr, "%s: %s\n", argv[1], gcs_strerror(ret));
		return 1;
	}
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		struct gcs_rec_iter it;
		struct gcs_record rec;

		gcs_rec_iter_init(&it, r, gcs_reader_stream(r, i)->id);
		while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
			if (ret < 0 && ret != -EBADMSG) {
				fprintf(stderr, "%s: %s\n", argv[1], gcs_strerror(ret));
				gcs_reader_close(r);
				return 1;
			}
			if (ret < 0)
				continue;
			records++;
			bytes += rec.len;
			/* Touch the data, as any consumer would. */
			if (rec.len)
				sum += rec.data[0] + rec.data[rec.len - 1];
		}
	}
	gcs_reader_close(r);
	sink = sum;
	printf("%" PRIu64 " %" PRIu64 "\n", records, bytes);
	return 0;
}
