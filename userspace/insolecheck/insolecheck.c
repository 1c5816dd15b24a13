// SPDX-License-Identifier: GPL-2.0
/*
 * gaitinsole-simcheck: check an insole stream of a session file against
 * gaitinsole-sim's ground truth (--truth TSV, docs/simulator.md).
 *
 *   gaitinsole-simcheck SESSION --side left|right --truth FILE [--min N]
 *
 * The stream of that side must hold exactly the notifications the truth
 * says were sent, each once, in order and byte for byte (value and data
 * handle). Two consecutive records must be consecutive notifications with
 * consecutive stream numbers, or the notifications between them must be
 * ones the simulator never sent (dropped, malformed, unsent while the link
 * was down) and a gap record must cover exactly the numbers between them;
 * a sent one may be missing only inside a disconnect gap (in flight when
 * the link went). Every gap record of the stream must be such a gap: none
 * the simulator did not cause. Sent notifications before the first record
 * are errors; those after the last are listed (sent as the capture
 * stopped) and must have left the simulator at most --tail-ms (default
 * 3000: a loaded guest's drain and close) before the session_end marker.
 *
 * Exit status: 0 they agree; 1 they do not (or fewer than --min records);
 * 2 usage or I/O error.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/gcsession.h"

#define ATT_NOTIFY	0x1b

enum nstatus { N_SENT, N_NOT_SENT, N_SEND_FAILED };

struct notif {
	long index;
	enum nstatus st;
	int64_t send_mono_ns, send_real_ns;
	uint8_t *val;
	size_t len;
	bool seen;
};

struct truth {
	struct notif *n;
	size_t count, cap;
	unsigned int handle;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_hex(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	uint8_t *b;

	if (n % 2)
		return -EINVAL;
	b = malloc(n / 2 + 1);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 2) {
		int h = hexval(s[i]), l = hexval(s[i + 1]);

		if (h < 0 || l < 0) {
			free(b);
			return -EINVAL;
		}
		b[k++] = (uint8_t)(h << 4 | l);
	}
	*out = b;
	*len = k;
	return 0;
}

/* Splits a TSV line in place; returns the number of fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static int read_truth(const char *path, struct truth *t)
{
	char *line = NULL, *f[16];
	size_t cap = 0;
	FILE *fp = fopen(path, "r");
	int ret = 0;

	if (!fp) {
		fprintf(stderr, "gaitinsole-simcheck: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	while (getline(&line, &cap, fp) > 0) {
		int nf = split(line, f, 16);
		struct notif *n;

		if (nf >= 3 && !strcmp(f[0], "run") && !strcmp(f[1], "data_handle"))
			t->handle = (unsigned int)strtoul(f[2], NULL, 0);
		if (nf < 12 || strcmp(f[0], "notify"))
			continue;
		if (t->count == t->cap) {
			size_t nc = t->cap ? 2 * t->cap : 1024;
			struct notif *p = realloc(t->n, nc * sizeof(*p));

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			t->n = p;
			t->cap = nc;
		}
		n = &t->n[t->count];
		memset(n, 0, sizeof(*n));
		n->index = strtol(f[1], NULL, 10);
		n->st = !strcmp(f[2], "sent") ? N_SENT :
			!strcmp(f[2], "send-failed") ? N_SEND_FAILED : N_NOT_SENT;
		n->send_mono_ns = strtoll(f[8], NULL, 10);
		n->send_real_ns = strtoll(f[9], NULL, 10);
		ret = parse_hex(f[11], &n->val, &n->len);
		if (ret) {
			fprintf(stderr, "gaitinsole-simcheck: %s: notification %ld: bad value\n",
				path, n->index);
			break;
		}
		t->count++;
	}
	free(line);
	fclose(fp);
	return ret;
}

/* The truth entry after @from whose value is @v, or -1. */
static long find_value(const struct truth *t, size_t from, const uint8_t *v,
		       size_t len)
{
	for (size_t i = from; i < t->count; i++)
		if (t->n[i].len == len && !memcmp(t->n[i].val, v, len))
			return (long)i;
	return -1;
}

static const struct gcs_gap *find_gap(struct gcs_reader *r, uint32_t stream,
				      uint64_t first, uint64_t last, bool *used)
{
	for (size_t g = 0; g < gcs_reader_n_gaps(r); g++) {
		const struct gcs_gap *gp = gcs_reader_gap(r, g);

		if (gp->stream == stream && gp->first_seq == first &&
		    gp->last_seq == last) {
			used[g] = true;
			return gp;
		}
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gaitinsole-simcheck SESSION --side left|right --truth FILE [--min N] [--tail-ms MS]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "side", required_argument, NULL, 's' },
		{ "truth", required_argument, NULL, 't' },
		{ "min", required_argument, NULL, 'm' },
		{ "tail-ms", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *side = NULL, *truth_path = NULL, *path;
	unsigned long min = 0, tail_ms = 3000;
	struct truth t = { 0 };
	struct gcs_reader *r = NULL;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	uint32_t stream = UINT32_MAX;
	char want[32];
	bool *gap_used = NULL, have_prev = false;
	uint64_t prev_seq = 0;
	int64_t end_mono_ns = 0;
	long prev = -1, first = -1;
	unsigned long n_rec = 0, bad = 0, dups = 0, foreign = 0, missing = 0;
	unsigned long lost_link = 0, not_sent = 0, jumps_bad = 0, tail = 0;
	unsigned long tail_early = 0, head = 0, extra_gaps = 0, gaps = 0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': side = optarg; break;
		case 't': truth_path = optarg; break;
		case 'm': min = strtoul(optarg, NULL, 10); break;
		case 'T': tail_ms = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || !side || !truth_path) {
		usage(stderr);
		return 2;
	}
	path = argv[optind];
	if (read_truth(truth_path, &t))
		return 2;
	ret = gcs_reader_open(&r, path, GCS_OPEN_VERIFY);
	if (ret) {
		fprintf(stderr, "gaitinsole-simcheck: %s: %s\n", path, gcs_strerror(ret));
		return 2;
	}
	snprintf(want, sizeof(want), "\"side\":\"%s\"", side);
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++) {
		const struct gcs_stream_info *si = gcs_reader_stream(r, i);

		if (si->kind == GCS_KIND_BLE_ATT && strstr(si->desc_json, want))
			stream = si->id;
	}
	if (stream == UINT32_MAX) {
		printf("side %s: no ble_att stream of that side\n", side);
		gcs_reader_close(r);
		return 1;
	}
	gap_used = calloc(gcs_reader_n_gaps(r) + 1, sizeof(*gap_used));
	if (!gap_used)
		return 2;

	gcs_rec_iter_init(&it, r, stream);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		unsigned int handle;
		long j;

		if (ret < 0) {
			bad++;
			continue;
		}
		n_rec++;
		if (rec.len < 3 || rec.data[0] != ATT_NOTIFY) {
			foreign++;
			continue;
		}
		handle = rec.data[1] | rec.data[2] << 8;
		j = find_value(&t, prev < 0 ? 0 : (size_t)prev + 1, rec.data + 3,
			       rec.len - 3);
		if (j < 0 || (t.handle && handle != t.handle)) {
			/* Behind us (a duplicate or out of order) or unknown. */
			if (find_value(&t, 0, rec.data + 3, rec.len - 3) >= 0)
				dups++;
			else
				foreign++;
			continue;
		}
		if (t.n[j].st != N_SENT)
			foreign++;
		t.n[j].seen = true;
		if (first < 0) {
			first = j;
			for (long i = 0; i < j; i++)
				head += t.n[i].st == N_SENT;
		}
		if (have_prev) {
			unsigned long skipped_sent = 0, skipped = 0;
			const struct gcs_gap *gp = NULL;

			for (long i = prev + 1; i < j; i++) {
				skipped++;
				skipped_sent += t.n[i].st == N_SENT;
			}
			if (rec.seq == GCS_SEQ_UNKNOWN || prev_seq == GCS_SEQ_UNKNOWN) {
				jumps_bad++;
			} else if (!skipped) {
				jumps_bad += rec.seq != prev_seq + 1;
			} else {
				if (rec.seq > prev_seq + 1)
					gp = find_gap(r, stream, prev_seq + 1,
						      rec.seq - 1, gap_used);
				if (!gp)
					jumps_bad++;
				not_sent += skipped - skipped_sent;
				if (skipped_sent && gp &&
				    gp->reason == GCS_GAP_DISCONNECT)
					lost_link += skipped_sent;
				else
					missing += skipped_sent;
			}
		}
		have_prev = true;
		prev = j;
		prev_seq = rec.seq;
	}
	/* What the simulator sent after the last record: as the capture ended. */
	for (size_t g = 0; g < gcs_reader_n_markers(r); g++) {
		const struct gcs_marker *m = gcs_reader_marker(r, g);

		if (m->code == GCS_MARK_SESSION_END)
			end_mono_ns = m->t_ns;
	}
	for (size_t i = prev < 0 ? t.count : (size_t)prev + 1; i < t.count; i++) {
		const struct notif *n = &t.n[i];

		if (n->st != N_SENT)
			continue;
		tail++;
		if (!end_mono_ns ||
		    n->send_mono_ns + (int64_t)tail_ms * 1000000 < end_mono_ns)
			tail_early++;
	}
	for (size_t g = 0; g < gcs_reader_n_gaps(r); g++) {
		const struct gcs_gap *gp = gcs_reader_gap(r, g);

		if (gp->stream != stream)
			continue;
		gaps++;
		extra_gaps += !gap_used[g];
	}
	printf("side %s: truth %zu notifications, file %lu records: %lu unknown or not sent, %lu twice or out of order, %lu unreadable; %lu sent and missing (%lu lost with the link), %lu never sent (inside gaps), %lu sent before the first record, %lu after the last (%lu too early); %lu gaps (%lu the simulator did not cause), %lu jumps not matching the truth\n",
	       side, t.count, n_rec, foreign, dups, bad, missing, lost_link,
	       not_sent, head, tail, tail_early, gaps, extra_gaps, jumps_bad);
	gcs_reader_close(r);
	for (size_t i = 0; i < t.count; i++)
		free(t.n[i].val);
	free(t.n);
	free(gap_used);
	if (n_rec < min) {
		printf("side %s: only %lu records (< %lu)\n", side, n_rec, min);
		return 1;
	}
	return !n_rec || foreign || dups || bad || missing || head ||
	       tail_early || extra_gaps || jumps_bad ? 1 : 0;
}
