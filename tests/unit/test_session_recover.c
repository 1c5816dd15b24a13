// SPDX-License-Identifier: GPL-2.0
/*
 * Recovery: at every truncation point of a small real session, at sampled
 * points of a large one, after kill -9 of a writing process at random
 * instants, and after a modelled power loss (each 512-byte sector of what
 * was written since the last sync either reached the disk or did not).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "session/gcs_internal.h"
#include "test_session_util.h"

/* What the original file holds, to predict what survives a cut at L. */
struct model {
	uint8_t *buf;
	size_t len;
	uint64_t offs[8192];
	uint64_t ends[8192];
	uint16_t types[8192];
	size_t n;
	/* logical chunks */
	struct {
		uint64_t raw_end;	/* 0: no usable raw copy */
		uint64_t z_end;		/* 0: no compressed copy */
		uint32_t n_records;
	} c[4096];
	size_t n_chunks;
	uint64_t durable_end;
};

static void model_build(struct model *m, const char *path)
{
	struct gcs_reader *r;

	assert_int_equal(tu_read_file(path, &m->buf, &m->len), 0);
	m->n = tu_record_offsets(m->buf, m->len, m->offs, 8192);
	assert_true(m->n < 8192);
	for (size_t i = 0; i < m->n; i++) {
		struct gcs_rec_hdr h;

		memcpy(&h, m->buf + m->offs[i], sizeof(h));
		m->ends[i] = m->offs[i] + h.size;
		m->types[i] = h.type;
	}
	assert_int_equal(gcs_reader_open_mem(&r, m->buf, m->len, GCS_OPEN_VERIFY), 0);
	m->durable_end = gcs_reader_info(r)->durable_end;
	m->n_chunks = gcs_reader_n_chunks(r);
	assert_true(m->n_chunks <= 4096);
	for (size_t i = 0; i < m->n_chunks; i++) {
		const struct gcs_chunk_info *c = gcs_reader_chunk(r, i);

		m->c[i].n_records = c->n_records;
		m->c[i].raw_end = m->c[i].z_end = 0;
		/* A raw copy counts if its payload is still there (not punched). */
		if (c->have_raw &&
		    gcs_body_sum(gcs_reader_info(r)->incompat,
				 gcs_reader_info(r)->salt,
				 m->buf + c->raw_body_off, c->raw_len) == c->raw_crc) {
			for (size_t k = 0; k < m->n; k++)
				if (m->offs[k] == c->orig_off)
					m->c[i].raw_end = m->ends[k];
		}
		if (c->have_zstd)
			for (size_t k = 0; k < m->n; k++)
				if (m->offs[k] == c->zoff)
					m->c[i].z_end = m->ends[k];
	}
	gcs_reader_close(r);
}

/* Records a cut at @l must keep: the checkable ones (no index). */
static uint64_t expected_records(const struct model *m, uint64_t l)
{
	uint64_t n = 0;

	for (size_t i = 0; i < m->n_chunks; i++) {
		bool raw = m->c[i].raw_end && m->c[i].raw_end <= l;
		bool z = m->c[i].z_end && m->c[i].z_end <= l;

		if (raw || z)
			n += m->c[i].n_records;
	}
	return n;
}

/*
 * Cut the model's file at @l into @path, recover it and check the result
 * against the model. Returns the number of records read back.
 */
static long cut_and_check(const struct model *m, const char *path, uint64_t l)
{
	static const struct gcs_recover_opts force = { .force = true };
	struct gcs_recover_report rep, rep2;
	const struct gcs_file_info *fi;
	struct gcs_reader *r;
	uint8_t *got;
	size_t got_len, lost, k = 0, ni;
	uint64_t offs[8192];
	long n;
	int ret;

	assert_int_equal(tu_write_file(path, m->buf, l), 0);
	/* A cut below the durable mark is damage: forced, as an operator would. */
	ret = gcs_recover_opts(path, &force, &rep);
	if (l < GCS_HDR_SLOT_SIZE) {
		if (ret != -GCS_ENOTSESSION)
			fail_msg("cut at %lu: recover %d", (unsigned long)l, ret);
		return 0;
	}
	if (ret)
		fail_msg("cut at %lu: recover failed: %d", (unsigned long)l, ret);
	/*
	 * Exactly the records that fit before the cut, in place (their
	 * headers: recovery may reclaim raw payloads held compressed; the
	 * data is checked through the reader below).
	 */
	assert_int_equal(tu_read_file(path, &got, &got_len), 0);
	ni = tu_record_offsets(got, got_len, offs, 8192);
	for (size_t i = 0; i < m->n && m->ends[i] <= l; i++) {
		struct gcs_rec_hdr h;

		memcpy(&h, m->buf + m->offs[i], sizeof(h));
		if (k >= ni || offs[k] != m->offs[i] ||
		    memcmp(got + offs[k], m->buf + m->offs[i], h.hdr_len))
			fail_msg("cut at %lu: record at %lu not kept as it was",
				 (unsigned long)l, (unsigned long)m->offs[i]);
		k++;
	}
	/* And the new index, unless the file was closed and whole. */
	if (ni != k + rep.changed)
		fail_msg("cut at %lu: %zu records, expected %zu + %d",
			 (unsigned long)l, ni, k, rep.changed);
	if (!rep.changed && (l != m->len || got_len != l))
		fail_msg("cut at %lu: left alone", (unsigned long)l);
	free(got);

	assert_int_equal(gcs_reader_open(&r, path, GCS_OPEN_VERIFY), 0);
	fi = gcs_reader_info(r);
	if (fi->state != (rep.changed ? GCS_STATE_RECOVERED : GCS_STATE_CLOSED) ||
	    fi->tail != GCS_TAIL_CLEAN ||
	    fi->valid_end != fi->file_size || fi->end_off != fi->file_size ||
	    fi->durable_end != fi->file_size || fi->n_damaged ||
	    fi->n_conflicts || fi->n_orphan_parts)
		fail_msg("cut at %lu: recovered file not clean", (unsigned long)l);
	n = tu_check_records(r, &lost);
	if (n < 0)
		fail_msg("cut at %lu: wrong data after recovery", (unsigned long)l);
	if ((uint64_t)n != expected_records(m, l))
		fail_msg("cut at %lu: %ld records, expected %lu", (unsigned long)l,
			 n, (unsigned long)expected_records(m, l));
	gcs_reader_close(r);
	if (l % 5)
		return n;	/* the rest, at a fifth of the points, is enough */
	/* The index agrees with the walk. */
	assert_int_equal(gcs_reader_open(&r, path, GCS_OPEN_USE_INDEX), 0);
	assert_true(gcs_reader_info(r)->used_index);
	assert_int_equal(tu_check_records(r, NULL), n);
	gcs_reader_close(r);
	/* Idempotent. */
	assert_int_equal(gcs_recover(path, &rep2), 0);
	assert_false(rep2.changed);
	return n;
}

static void every_cut(const char *dir, bool close_it, bool compact)
{
	struct gcs_writer_opts o;
	struct model *m = calloc(1, sizeof(*m));
	char *src = tu_path(dir, "small-src"), *dst = tu_path(dir, "small-cut");
	long prev = 0;

	gcs_writer_opts_init(&o);
	o.grow_step = 1 << 20;
	o.tail_reserve = 64 << 10;
	o.no_compact = !compact;
	assert_int_equal(tu_small_session(src, &o, close_it), 0);
	model_build(m, src);
	/* A crashed file ends in preallocated zeros: cut in the records only. */
	if (!close_it)
		m->len = m->ends[m->n - 1] + 100;
	for (uint64_t l = 0; l <= m->len; l++) {
		long n = cut_and_check(m, dst, l);

		/* A longer prefix never holds less. */
		assert_true(n >= prev);
		prev = n;
	}
	assert_int_equal(prev, 152);
	unlink(src);
	unlink(dst);
	free(src);
	free(dst);
	free(m->buf);
	free(m);
}

static void test_session_recover_every_cut_crashed(void **state)
{
	struct tu_dir *f = *state;

	every_cut(f->dir, false, false);
}

static void test_session_recover_every_cut_closed_compacted(void **state)
{
	struct tu_dir *f = *state;

	every_cut(f->dir, true, true);
}

/* A large session: ~10 MB of chunks of many sizes, compacted and reclaimed. */
static int write_large(const char *path, bool close_it)
{
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	uint64_t fseq = 0, vseq = 0;
	int ret;

	gcs_writer_opts_init(&o);
	o.grow_step = 4 << 20;
	o.compact_target = 1 << 20;
	ret = gcs_writer_create(&w, path, &o, tu_meta);
	if (ret)
		return ret;
	ret = tu_add_streams(w);
	for (unsigned int i = 0; !ret && i < 300; i++) {
		uint32_t n = 1 + (i * 733) % 1000;

		ret = tu_put_fixed(w, fseq, n);
		fseq += n;
		if (!ret && i % 3 == 0) {
			ret = tu_put_var(w, vseq, 1 + i % 40);
			vseq += 1 + i % 40;
		}
		if (!ret && i % 50 == 25)
			ret = gcs_writer_gap(w, 0, GCS_GAP_KERNEL_OVERFLOW, fseq,
					     fseq + 9, tu_t(fseq), tu_t(fseq + 10));
		if (!ret && i % 50 == 25)
			fseq += 10;
		if (!ret && i % 7 == 0)
			ret = gcs_writer_poll(w, 0, true) < 0;	/* compaction */
		if (!ret && i % 40 == 39)
			ret = gcs_writer_sync(w);	/* then reclaim */
	}
	if (ret) {
		gcs_writer_abort(w);
		return ret;
	}
	if (!close_it) {
		gcs_writer_abort(w);
		return 0;
	}
	return gcs_writer_close(w);
}

static void test_session_recover_sampled_cuts_large(void **state)
{
	struct tu_dir *f = *state;
	struct model *m = calloc(1, sizeof(*m));
	char *src = tu_path(f->dir, "large-src"), *dst = tu_path(f->dir, "large-cut");
	uint64_t rng = 99, points[64];
	size_t np = 0;
	struct gcs_reader *r;

	assert_int_equal(write_large(src, false), 0);
	model_build(m, src);
	/* The model must have every interesting feature. */
	assert_int_equal(gcs_reader_open(&r, src, GCS_OPEN_VERIFY), 0);
	assert_true(gcs_reader_info(r)->n_by_type[3] > 5);	/* zstd chunks */
	assert_true(gcs_reader_info(r)->raw_bytes > 8 << 20);
	assert_true(gcs_reader_info(r)->allocated < gcs_reader_info(r)->file_size);
	assert_int_equal(gcs_reader_info(r)->n_lost, 0);
	gcs_reader_close(r);
	m->len = m->ends[m->n - 1] + 4096;
	/* Around record boundaries, then anywhere. */
	while (np < 40) {
		size_t i;
		static const int64_t d[] = { -1, 0, 1, 31, 32, 33 };

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		i = (size_t)(rng >> 33) % m->n;
		points[np++] = m->offs[i] + (uint64_t)d[(rng >> 20) % 6];
	}
	while (np < 60) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		points[np++] = GCS_DATA_START + (rng >> 20) % (m->len - GCS_DATA_START);
	}
	points[np++] = m->durable_end;
	points[np++] = m->len;
	for (size_t i = 0; i < np; i++)
		cut_and_check(m, dst, points[i]);
	free(src);
	free(dst);
	free(m->buf);
	free(m);
}

/* ---- kill -9 ----------------------------------------------------------------- */

struct shared {
	uint64_t fixed_committed;	/* every fixed seq below this is committed */
	uint64_t chunks;
};

static void writer_child(const char *path, struct shared *sh)
{
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	uint64_t fseq = 0, vseq = 0;
	struct timespec ts;

	gcs_writer_opts_init(&o);
	o.grow_step = 1 << 20;
	o.sync_interval_ms = 15;
	o.compact_target = 128 << 10;
	if (gcs_writer_create(&w, path, &o, tu_meta) || tu_add_streams(w))
		_exit(2);
	for (unsigned int i = 0;; i++) {
		uint32_t n = 1 + (i * 37) % 300;

		if (tu_put_fixed(w, fseq, n))
			_exit(3);
		fseq += n;
		__atomic_store_n(&sh->fixed_committed, fseq, __ATOMIC_RELEASE);
		__atomic_store_n(&sh->chunks, i + 1, __ATOMIC_RELEASE);
		if (i % 2 && tu_put_var(w, vseq, 1 + i % 9))
			_exit(4);
		vseq += i % 2 ? 1 + i % 9 : 0;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (gcs_writer_poll(w, ts.tv_sec * 1000000000ll + ts.tv_nsec,
				    false) < 0)
			_exit(5);
	}
}

static void test_session_recover_after_kill9(void **state)
{
	struct tu_dir *f = *state;
	char *path = tu_path(f->dir, "killed");
	struct shared *sh;
	unsigned int seed = 4242;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	for (int round = 0; round < 8; round++) {
		struct gcs_recover_report rep;
		const struct gcs_stream_info *s0;
		struct gcs_reader *r;
		uint64_t committed;
		struct timespec d;
		size_t lost;
		int status;
		pid_t pid;

		memset(sh, 0, sizeof(*sh));
		unlink(path);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			writer_child(path, sh);
		/* Let it write for a while: 5..150 ms, and at least one chunk. */
		d.tv_sec = 0;
		d.tv_nsec = (5 + rand_r(&seed) % 145) * 1000000l;
		nanosleep(&d, NULL);
		while (!__atomic_load_n(&sh->chunks, __ATOMIC_ACQUIRE))
			usleep(1000);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		committed = __atomic_load_n(&sh->fixed_committed, __ATOMIC_ACQUIRE);

		/* Before repair: never a torn record, only unwritten space. */
		assert_int_equal(gcs_reader_open(&r, path, GCS_OPEN_VERIFY), 0);
		if (gcs_reader_info(r)->tail == GCS_TAIL_TORN ||
		    gcs_reader_info(r)->tail == GCS_TAIL_SHORT)
			fail_msg("round %d: torn tail after kill -9", round);
		gcs_reader_close(r);

		assert_int_equal(gcs_recover(path, &rep), 0);
		assert_int_equal(rep.lost_durable, 0);
		assert_int_equal(rep.damaged, 0);
		assert_int_equal(gcs_reader_open(&r, path, GCS_OPEN_VERIFY), 0);
		assert_int_equal(gcs_reader_info(r)->n_lost, 0);
		assert_int_equal(gcs_reader_info(r)->n_conflicts, 0);
		assert_true(tu_check_records(r, &lost) > 0);
		assert_int_equal(lost, 0);
		s0 = gcs_reader_stream_by_id(r, 0);
		/* Every committed record survived, with no hole before it. */
		if (s0->n_records < committed || s0->first_seq != 0 ||
		    s0->last_seq + 1 != s0->n_records)
			fail_msg("round %d: %lu records (last %lu), %lu committed",
				 round, (unsigned long)s0->n_records,
				 (unsigned long)s0->last_seq, (unsigned long)committed);
		print_message("# kill -9 round %d: %lu fixed records, %lu zstd chunks, %lu reclaimed\n",
			      round, (unsigned long)s0->n_records,
			      (unsigned long)gcs_reader_info(r)->n_by_type[3],
			      (unsigned long)rep.reclaimed);
		gcs_reader_close(r);
	}
	munmap(sh, sizeof(*sh));
	unlink(path);
	free(path);
}

/* ---- Power loss ------------------------------------------------------------- */

static void test_session_recover_power_loss_model(void **state)
{
	struct tu_dir *f = *state;
	char *path = tu_path(f->dir, "power"), *cut = tu_path(f->dir, "power-cut");
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	uint8_t *synced, *final, *img;
	size_t synced_len, final_len;
	uint64_t durable, fseq = 0, vseq = 0, rng = 7;
	struct model *m = calloc(1, sizeof(*m));

	gcs_writer_opts_init(&o);
	o.grow_step = 1 << 20;
	o.compact_target = 64 << 10;
	assert_int_equal(gcs_writer_create(&w, path, &o, tu_meta), 0);
	assert_int_equal(tu_add_streams(w), 0);
	for (int i = 0; i < 60; i++) {
		assert_int_equal(tu_put_fixed(w, fseq, 40 + i), 0);
		fseq += 40 + i;
		assert_int_equal(tu_put_var(w, vseq, 3), 0);
		vseq += 3;
		assert_true(gcs_writer_poll(w, 0, true) >= 0);
	}
	assert_int_equal(gcs_writer_sync(w), 0);
	/* What the disk holds at the sync point... */
	assert_int_equal(tu_read_file(path, &synced, &synced_len), 0);
	for (int i = 0; i < 60; i++) {
		assert_int_equal(tu_put_fixed(w, fseq, 30), 0);
		fseq += 30;
		assert_int_equal(tu_put_var(w, vseq, 2), 0);
		vseq += 2;
		assert_true(gcs_writer_poll(w, 0, true) >= 0);
	}
	/* ...and what the page cache held when the power went. */
	gcs_writer_abort(w);
	assert_int_equal(tu_read_file(path, &final, &final_len), 0);
	assert_int_equal(synced_len, final_len);
	model_build(m, path);
	durable = m->durable_end;
	assert_true(durable > GCS_DATA_START && durable < m->ends[m->n - 1]);
	img = malloc(final_len);
	assert_non_null(img);
	for (int round = 0; round < 150; round++) {
		struct gcs_recover_report rep;
		struct gcs_reader *r;
		uint64_t kept = 0;
		size_t lost;

		/* Each sector written since the sync either made it or not. */
		memcpy(img, final, final_len);
		for (uint64_t s = durable / 512 * 512; s < final_len; s += 512) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			if ((rng >> 40) % 100 < (uint64_t)(round % 5) * 20 + 10)
				memcpy(img + s, synced + s,
				       final_len - s < 512 ? final_len - s : 512);
		}
		assert_int_equal(tu_write_file(cut, img, final_len), 0);
		assert_int_equal(gcs_recover(cut, &rep), 0);
		assert_int_equal(rep.lost_durable, 0);
		assert_int_equal(rep.damaged, 0);
		assert_int_equal(gcs_reader_open(&r, cut, GCS_OPEN_VERIFY), 0);
		assert_true(gcs_reader_info(r)->valid_end >= durable);
		assert_int_equal(gcs_reader_info(r)->n_lost, 0);
		assert_int_equal(gcs_reader_info(r)->n_damaged, 0);
		assert_true(tu_check_records(r, &lost) >= 0);
		assert_int_equal(lost, 0);
		/* Everything durable is there. */
		for (size_t i = 0; i < m->n_chunks; i++)
			if ((m->c[i].raw_end && m->c[i].raw_end <= durable) ||
			    (m->c[i].z_end && m->c[i].z_end <= durable))
				kept += m->c[i].n_records;
		assert_true((uint64_t)tu_check_records(r, NULL) >= kept);
		gcs_reader_close(r);
	}
	free(img);
	free(synced);
	free(final);
	free(m->buf);
	free(m);
	free(path);
	free(cut);
}

/* ---- Misc ------------------------------------------------------------------------ */

static void test_session_recover_refuses_live_writer(void **state)
{
	struct tu_dir *f = *state;
	char *path = tu_path(f->dir, "live");
	struct gcs_recover_report rep;
	struct gcs_writer *w;

	assert_int_equal(gcs_writer_create(&w, path, NULL, tu_meta), 0);
	assert_int_equal(tu_add_streams(w), 0);
	assert_int_equal(tu_put_fixed(w, 0, 8), 0);
	assert_int_equal(gcs_recover(path, &rep), -EBUSY);
	assert_false(rep.changed);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_recover(path, &rep), 0);
	assert_false(rep.changed);	/* closed and intact */
	free(path);
}

static void test_session_recover_garbage_tail(void **state)
{
	struct tu_dir *f = *state;
	char *path = tu_path(f->dir, "garbage");
	struct gcs_recover_report rep;
	struct gcs_reader *r;
	uint8_t *buf;
	size_t len;
	uint64_t offs[64], end;
	size_t n;

	assert_int_equal(tu_small_session(path, NULL, false), 0);
	assert_int_equal(tu_read_file(path, &buf, &len), 0);
	n = tu_record_offsets(buf, len, offs, 64);
	end = offs[n - 1] + ((struct gcs_rec_hdr *)(buf + offs[n - 1]))->size;
	/* Bytes that are no record where the next one would go. */
	memset(buf + end, 0xa5, 3000);
	assert_int_equal(tu_write_file(path, buf, len), 0);
	assert_int_equal(gcs_recover(path, &rep), 0);
	assert_true(rep.changed);
	assert_int_equal(rep.tail, GCS_TAIL_TORN);
	assert_int_equal(rep.valid_end, end);
	assert_int_equal(gcs_reader_open(&r, path, GCS_OPEN_VERIFY), 0);
	assert_int_equal(tu_check_records(r, NULL), 152);
	gcs_reader_close(r);
	free(buf);
	free(path);
}

static void test_session_recover_not_a_session(void **state)
{
	struct tu_dir *f = *state;
	char *path = tu_path(f->dir, "notsession");
	struct gcs_recover_report rep;
	uint8_t junk[20000], *back;
	size_t len;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131);
	assert_int_equal(tu_write_file(path, junk, sizeof(junk)), 0);
	assert_int_equal(gcs_recover(path, &rep), -GCS_ENOTSESSION);
	assert_int_equal(tu_read_file(path, &back, &len), 0);
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(back, junk, len);	/* untouched */
	free(back);
	free(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_recover_every_cut_crashed),
		cmocka_unit_test(test_session_recover_every_cut_closed_compacted),
		cmocka_unit_test(test_session_recover_sampled_cuts_large),
		cmocka_unit_test(test_session_recover_after_kill9),
		cmocka_unit_test(test_session_recover_power_loss_model),
		cmocka_unit_test(test_session_recover_refuses_live_writer),
		cmocka_unit_test(test_session_recover_garbage_tail),
		cmocka_unit_test(test_session_recover_not_a_session),
	};

	if (argc > 1)	/* run one test by name (or pattern) */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, tu_dir_setup, tu_dir_teardown);
}
