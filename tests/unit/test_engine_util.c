// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_engine_util.h"
#include "test_session_util.h"

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

void te_record(uint8_t *dst, uint64_t seq, uint32_t missing)
{
	put64(dst + TE_OFF_SEQ, seq);
	put64(dst + TE_OFF_TS, (uint64_t)(TE_T0 + (int64_t)seq * TE_PERIOD));
	put64(dst + TE_OFF_DEV, seq * 5000);
	memcpy(dst + TE_OFF_MISSING, &missing, 4);
	for (uint32_t i = TE_OFF_MISSING + 4; i < TE_REC; i++)
		dst[i] = (uint8_t)(seq * 131 + i);
}

bool te_record_ok(const uint8_t *rec, uint64_t seq)
{
	uint8_t want[TE_REC];
	uint32_t missing;

	memcpy(&missing, rec + TE_OFF_MISSING, 4);
	te_record(want, seq, missing);
	return !memcmp(rec, want, TE_REC);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool skipped(const struct te_feeder *f, uint64_t seq)
{
	for (size_t i = 0; i < f->n_skip; i++)
		if (f->skip[i] == seq)
			return true;
	return false;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *feeder(void *arg)
{
	struct te_feeder *f = arg;
	uint8_t buf[TE_REC * 8];
	uint64_t seq = f->first;
	uint32_t missing = 0;
	size_t have = 0, off = 0;
	uint64_t done = 0;

	for (;;) {
		size_t piece;

		if (off == have) {
			/* Refill: up to 8 records, skipping the holes. */
			done += have / TE_REC;
			off = have = 0;
			while (have < sizeof(buf) &&
			       (f->forever ? !f->stop : seq < f->first + f->count)) {
				if (skipped(f, seq)) {
					seq++;
					missing++;
					continue;
				}
				te_record(buf + have, seq, missing);
				missing = 0;
				have += TE_REC;
				seq++;
			}
			if (!have)
				break;
		}
		piece = have - off;
		if (f->max_piece) {
			size_t r = 1 + rnd(&f->seed) % f->max_piece;

			if (r < piece)
				piece = r;
		}
		if (write_all(f->fd, buf + off, piece))
			break;
		off += piece;
		f->sent = done + off / TE_REC;
		if (f->pause_us)
			usleep(f->pause_us);
	}
	if (f->close_fd)
		close(f->fd);
	return NULL;
}

int te_feeder_start(struct te_feeder *f)
{
	if (!f->seed)
		f->seed = 1;
	return -pthread_create(&f->thread, NULL, feeder, f);
}

void te_feeder_join(struct te_feeder *f)
{
	pthread_join(f->thread, NULL);
}

static struct gcs_writer *mk_writer(const char *path, bool compact,
				    bool no_reclaim)
{
	struct gcs_writer_opts o;
	struct gcs_writer *w;

	gcs_writer_opts_init(&o);
	o.grow_step = 1u << 20;
	o.sync_interval_ms = 100;
	o.no_compact = !compact;
	o.no_reclaim = no_reclaim;
	o.compact_target = 64u << 10;
	if (gcs_writer_create(&w, path, &o, tu_meta))
		return NULL;
	return w;
}

struct gcs_writer *te_writer(const char *path, bool compact)
{
	return mk_writer(path, compact, false);
}

struct gcs_writer *te_writer_keep(const char *path)
{
	return mk_writer(path, true, true);
}

long te_check_stream(const char *path, uint32_t stream, uint64_t *seqs,
		     size_t max)
{
	struct gcs_reader *r;
	struct gcs_rec_iter it;
	struct gcs_record rec;
	long n = 0;
	uint64_t seq;
	int ret;

	if (gcs_reader_open(&r, path, GCS_OPEN_VERIFY))
		return -1;
	gcs_rec_iter_init(&it, r, stream);
	while ((ret = gcs_rec_iter_next(&it, &rec)) == 1) {
		if (rec.len != TE_REC) {
			n = -1;
			break;
		}
		memcpy(&seq, rec.data + TE_OFF_SEQ, 8);
		if (rec.seq != seq || !te_record_ok(rec.data, seq)) {
			fprintf(stderr, "record %ld: seq %llu in chunk, %llu in data\n",
				n, (unsigned long long)rec.seq,
				(unsigned long long)seq);
			n = -1;
			break;
		}
		if (seqs && (size_t)n < max)
			seqs[n] = seq;
		n++;
	}
	if (ret < 0)
		n = -1;
	gcs_reader_close(r);
	return n;
}
