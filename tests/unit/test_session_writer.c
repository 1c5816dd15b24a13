// SPDX-License-Identifier: GPL-2.0
/*
 * The writer: in-order publishing, reservations filled by io_uring, the
 * split durability steps, compaction on another thread, growth in
 * preallocated steps, and a full filesystem (played by wrapping fallocate(),
 * then for real on a small tmpfs) ending the session cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <liburing.h>
#include <zstd.h>

#include "test_session_util.h"
#include "gcprobes.h"

/* ---- fallocate() that plays a filesystem of fake_limit bytes -------------- */

static off_t fake_limit;	/* 0: no limit */
static unsigned int fake_refusals;
static unsigned int fake_eintr;	/* fail the next N with EINTR, as tmpfs does */

int __real_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (fake_eintr && !(mode & FALLOC_FL_PUNCH_HOLE)) {
		fake_eintr--;
		errno = EINTR;
		return -1;
	}
	if (fake_limit && !(mode & FALLOC_FL_PUNCH_HOLE) &&
	    off + len > fake_limit) {
		fake_refusals++;
		errno = ENOSPC;
		return -1;
	}
	return __real_fallocate(fd, mode, off, len);
}

/* ---- fdatasync() that fails, as after a writeback error --------------- */

static int fsync_fail_in;	/* fail the Nth call from now; 0: never */
static int fsync_errno = EIO;

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	if (fsync_fail_in && !--fsync_fail_in) {
		errno = fsync_errno;
		return -1;
	}
	return __real_fdatasync(fd);
}

/* ---- zstd that corrupts its output, as a bit flip in memory would ------- */

static bool zstd_corrupt;

size_t __real_ZSTD_compressStream2(ZSTD_CCtx *c, ZSTD_outBuffer *out,
				   ZSTD_inBuffer *in, ZSTD_EndDirective end);
size_t __wrap_ZSTD_compressStream2(ZSTD_CCtx *c, ZSTD_outBuffer *out,
				   ZSTD_inBuffer *in, ZSTD_EndDirective end);
size_t __wrap_ZSTD_compressStream2(ZSTD_CCtx *c, ZSTD_outBuffer *out,
				   ZSTD_inBuffer *in, ZSTD_EndDirective end)
{
	size_t r = __real_ZSTD_compressStream2(c, out, in, end);

	/* One bit, past the frame header, once the frame is complete. */
	if (zstd_corrupt && end == ZSTD_e_end && r == 0 && out->pos > 64)
		((uint8_t *)out->dst)[out->pos / 2] ^= 0x10;
	return r;
}

struct fixture {
	char *dir;
	int n;
};

TU_DIR_FIRST(struct fixture);

static int setup(void **state)
{
	*state = tu_dir_fixture_new(sizeof(struct fixture));
	return *state ? 0 : -1;
}

static char *fresh(struct fixture *f)
{
	char name[32];

	snprintf(name, sizeof(name), "w%d", f->n++);
	return tu_path(f->dir, name);
}

static struct gcs_writer *new_writer(const char *path, struct gcs_writer_opts *o)
{
	struct gcs_writer *w;

	assert_int_equal(gcs_writer_create(&w, path, o, tu_meta), 0);
	assert_int_equal(tu_add_streams(w), 0);
	return w;
}

static long count_records(const char *path, unsigned int flags)
{
	struct gcs_reader *r;
	long n;

	if (gcs_reader_open(&r, path, flags))
		return -1;
	n = tu_check_records(r, NULL);
	gcs_reader_close(r);
	return n;
}

/* ---- Publishing ------------------------------------------------------------ */

static void fill(struct gcs_slot *s, uint64_t seq, uint32_t n,
		 struct gcs_chunk_meta *m)
{
	for (uint32_t i = 0; i < n; i++)
		tu_fixed_record(s->data + i * TU_FIXED_SIZE, seq + i);
	*m = (struct gcs_chunk_meta){
		.len = n * TU_FIXED_SIZE, .n_records = n, .first_seq = seq,
		.last_seq = seq + n - 1, .t_first_ns = tu_t(seq),
		.t_last_ns = tu_t(seq + n - 1), .flags = GCS_CHUNK_F_CONTIGUOUS,
	};
}

static void test_session_writer_publishes_in_file_order(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer *w = new_writer(p, NULL);
	struct gcs_slot *a, *b, *c, *d;
	struct gcs_chunk_meta ma, mb, mc, md;
	struct gcs_reader *r;

	/* Two reads in flight, into two reservations. */
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &a), 0);
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &b), 0);
	assert_true(b->off > a->off);
	fill(a, 0, 2, &ma);
	fill(b, 2, 2, &mb);
	/* The later one completes first: it waits for the earlier. */
	assert_int_equal(gcs_writer_commit(w, b, &mb), 0);
	assert_int_equal(gcs_writer_marker(w, GCS_MARK_SYNC, 0, tu_t(3), 0), 0);
	assert_int_equal(count_records(p, 0), 0);
	assert_int_equal(gcs_reader_open(&r, p, 0), 0);
	assert_int_equal(gcs_reader_n_markers(r), 0);
	assert_int_equal(gcs_reader_info(r)->tail, GCS_TAIL_UNCOMMITTED);
	gcs_reader_close(r);
	assert_int_equal(gcs_writer_commit(w, a, &ma), 0);
	assert_int_equal(count_records(p, GCS_OPEN_VERIFY), 4);

	/* Sequence numbers follow file order, whatever the commit order. */
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &c), 0);
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &d), 0);
	fill(d, 6, 2, &md);
	fill(c, 8, 2, &mc);
	assert_int_equal(gcs_writer_commit(w, d, &md), 0);
	assert_int_equal(gcs_writer_commit(w, c, &mc), -EINVAL);
	/* The refused one, not last, became padding: d is out now. */
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	assert_int_equal(tu_check_records(r, NULL), 6);
	assert_int_equal(gcs_reader_info(r)->n_pad, 1);
	assert_int_equal(gcs_reader_n_markers(r), 1);
	gcs_reader_close(r);

	/* An abandoned last reservation just gives its space back. */
	assert_int_equal(gcs_writer_reserve(w, 0, 4096, &c), 0);
	gcs_writer_abandon(w, c);
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &c), 0);
	fill(c, 8, 2, &mc);
	assert_int_equal(gcs_writer_commit(w, c, &mc), 0);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	assert_int_equal(tu_check_records(r, NULL), 8);
	assert_int_equal(gcs_reader_info(r)->n_pad, 1);
	assert_int_equal(gcs_reader_info(r)->tail, GCS_TAIL_CLEAN);
	gcs_reader_close(r);
	free(p);
}

static void test_session_writer_reservation_limit(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer *w = new_writer(p, NULL);
	struct gcs_slot *s[64], *extra;
	struct gcs_writer_stats st;

	for (int i = 0; i < 64; i++) {
		assert_int_equal(gcs_writer_reserve(w, 0, TU_FIXED_SIZE, &s[i]), 0);
		tu_fixed_record(s[i]->data, (uint64_t)i);
	}
	assert_int_equal(gcs_writer_reserve(w, 0, TU_FIXED_SIZE, &extra), -EBUSY);
	/* Completed in reverse: nothing shows until the first one is in. */
	for (int i = 63; i >= 0; i--) {
		struct gcs_chunk_meta m = {
			.len = TU_FIXED_SIZE, .n_records = 1,
			.first_seq = (uint64_t)i, .last_seq = (uint64_t)i,
			.t_first_ns = tu_t((uint64_t)i),
			.t_last_ns = tu_t((uint64_t)i),
			.flags = GCS_CHUNK_F_CONTIGUOUS,
		};

		assert_int_equal(gcs_writer_commit(w, s[i], &m), 0);
		gcs_writer_stats(w, &st);
		assert_int_equal(st.outstanding, i ? 64 : 0);
	}
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(count_records(p, GCS_OPEN_VERIFY), 64);
	free(p);
}

/* ---- io_uring straight into the mapping ------------------------------------- */

static void test_session_writer_io_uring_read_into_slot(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f), *src = tu_path(f->dir, "device");
	uint8_t dev[50 * TU_FIXED_SIZE];
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct gcs_writer *w;
	struct gcs_slot *s;
	struct gcs_chunk_meta m;
	int fd, ret;

	/* A "device" that returns 50 scans. */
	for (int i = 0; i < 50; i++)
		tu_fixed_record(dev + i * TU_FIXED_SIZE, (uint64_t)i);
	assert_int_equal(tu_write_file(src, dev, sizeof(dev)), 0);
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret) {
		print_message("# io_uring unavailable here (%s)\n", strerror(-ret));
		skip();
	}
	fd = open(src, O_RDONLY);
	assert_true(fd >= 0);
	w = new_writer(p, NULL);
	assert_int_equal(gcs_writer_reserve(w, 0, 64 * TU_FIXED_SIZE, &s), 0);
	/* The kernel writes into the file's pages: no copy in userspace. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, s->data, s->cap, 0);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
	assert_int_equal(cqe->res, (int)sizeof(dev));
	io_uring_cqe_seen(&ring, cqe);
	m = (struct gcs_chunk_meta){
		.len = sizeof(dev), .n_records = 50, .first_seq = 0,
		.last_seq = 49, .t_first_ns = tu_t(0), .t_last_ns = tu_t(49),
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	assert_int_equal(gcs_writer_commit(w, s, &m), 0);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(count_records(p, GCS_OPEN_VERIFY), 50);
	io_uring_queue_exit(&ring);
	close(fd);
	free(src);
	free(p);
}

/* ---- Durability ---------------------------------------------------------------- */

static uint64_t header_durable(const char *path)
{
	struct gcs_disk_header h[2];
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h[0], sizeof(h[0]), 0), sizeof(h[0]));
	assert_int_equal(pread(fd, &h[1], sizeof(h[1]), GCS_BLOCK), sizeof(h[1]));
	close(fd);
	return h[0].generation > h[1].generation ? h[0].durable_end :
						   h[1].durable_end;
}

static bool bytes_zero(const char *path, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	int fd = open(path, O_RDONLY);
	bool zero = true;

	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		zero &= buf[i] == 0;
	close(fd);
	free(buf);
	return zero;
}

static void test_session_writer_split_sync_and_reclaim(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	struct gcs_writer_stats st;
	struct gcs_compact_job *job;
	struct gcs_sync s;
	uint64_t first_payload;

	gcs_writer_opts_init(&o);
	o.compact_target = 64 << 10;
	w = new_writer(p, &o);
	struct gcs_reader *r;

	for (int i = 0; i < 4; i++)
		assert_int_equal(tu_put_fixed(w, (uint64_t)i * 512, 512), 0);
	/* A reader may open the file while it is being written. */
	assert_int_equal(gcs_reader_open(&r, p, 0), 0);
	first_payload = gcs_reader_chunk(r, 0)->raw_body_off;
	gcs_reader_close(r);
	gcs_writer_stats(w, &st);
	assert_true(st.committed_end > st.durable_end);

	/* Compact now; the raw data must stay until the copy is durable. */
	assert_int_equal(gcs_writer_compact_prepare(w, false, &job), 0);
	assert_non_null(job);
	assert_int_equal(gcs_compact_run(job), 0);
	assert_int_equal(gcs_writer_compact_finish(w, job), 0);
	gcs_writer_stats(w, &st);
	assert_int_equal(st.zchunks, 1);
	assert_false(bytes_zero(p, first_payload + 4096, 4096));

	/* The event loop's way: three steps around its own fdatasync()s. */
	gcs_writer_stats(w, &st);
	assert_int_equal(gcs_writer_sync_begin(w, &s), 0);
	assert_int_equal(gcs_writer_sync_begin(w, &s), -EBUSY);
	/* The ranges: what is new since the mark, and one header slot. */
	assert_int_equal(s.from, st.durable_end);
	assert_int_equal(s.target, st.committed_end);
	assert_true(s.from < s.target);
	assert_int_equal(s.hdr_len, GCS_BLOCK);
	assert_true(s.hdr_off % GCS_BLOCK == 0 && s.hdr_off + s.hdr_len <= s.from);
	{
		/* Its range has no page tables left for writeback to walk. */
		uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

		gcs_writer_stats(w, &st);
		assert_int_equal((GCS_DATA_START + page - 1) / page * page + st.unmapped,
				 s.target / page * page);
	}
	assert_int_equal(fdatasync(s.fd), 0);
	assert_int_equal(gcs_writer_sync_header(w, &s), 0);
	assert_int_equal(header_durable(p), s.target);
	{
		/* sync_header wrote the slot its range names. */
		struct gcs_disk_header h;
		int fd = open(p, O_RDONLY);

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &h, sizeof(h), (off_t)s.hdr_off), sizeof(h));
		close(fd);
		assert_int_equal(h.generation, s.generation);
		assert_int_equal(h.durable_end, s.target);
	}
	assert_false(bytes_zero(p, first_payload + 4096, 4096));
	assert_int_equal(fdatasync(s.fd), 0);
	assert_int_equal(gcs_writer_sync_end(w, &s), 0);
	/* Durable now: the raw payload's whole pages are reclaimed. */
	assert_true(bytes_zero(p, first_payload + 4096, 4096));
	gcs_writer_stats(w, &st);
	/* Two chunks fit the 64 KiB target; each keeps at most 2 partial pages. */
	assert_true(st.reclaimed >= 2 * (512 * TU_FIXED_SIZE - 8192));
	assert_int_equal(st.durable_end, st.committed_end);
	assert_int_equal(gcs_writer_sync_begin(w, &s), 1);	/* nothing new */
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(count_records(p, GCS_OPEN_VERIFY), 4 * 512);
	free(p);
}

/* Whether @addr has a page table entry (/proc/self/pagemap, bit 63). */
static int page_present(const void *addr)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, &e, sizeof(e), (off_t)((uintptr_t)addr / page * sizeof(e)));
	close(fd);
	return n == sizeof(e) ? (int)(e >> 63) : -1;
}

/* Page tables behind the committed records go; the records stay. */
static void test_session_writer_unmaps_behind(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	long page = sysconf(_SC_PAGESIZE);
	struct gcs_writer_opts o;
	struct gcs_writer_stats st;
	struct gcs_compact_job *job;
	struct gcs_chunk_meta m = {
		.len = 512 * TU_FIXED_SIZE, .n_records = 512, .first_seq = 0,
		.last_seq = 511, .t_first_ns = tu_t(0) + 1000,
		.t_last_ns = tu_t(511) + 1000, .flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	uint8_t want[TU_FIXED_SIZE];
	struct gcs_writer *w;
	struct gcs_slot *s0;
	uint8_t *first;

	gcs_writer_opts_init(&o);
	assert_true(o.unmap_step > 0);
	o.unmap_step = 64 << 10;
	o.compact_target = 256 << 10;
	w = new_writer(p, &o);
	/* The first chunk by hand, to know where its records are mapped. */
	assert_int_equal(gcs_writer_reserve(w, 0, m.len, &s0), 0);
	first = s0->data;
	for (uint32_t i = 0; i < 512; i++)
		tu_fixed_record(first + i * TU_FIXED_SIZE, i);
	assert_int_equal(gcs_writer_commit(w, s0, &m), 0);
	for (int i = 1; i < 16; i++)
		assert_int_equal(tu_put_fixed(w, (uint64_t)i * 512, 512), 0);
	gcs_writer_stats(w, &st);
	/* 512 KiB committed: the page tables behind went, in 64 KiB steps. */
	assert_true(st.unmapped + 2 * (64 << 10) >= st.committed_end - GCS_DATA_START);
	assert_true(st.unmapped % page == 0);
	if (page_present(first + page) < 0) {
		assert_int_equal(gcs_writer_close(w), 0);
		free(p);
		skip();		/* no /proc/self/pagemap here */
	}
	assert_int_equal(page_present(first + page), 0);
	/* The records are still there, in the page cache: read them back. */
	for (uint32_t i = 0; i < 512; i++) {
		tu_fixed_record(want, i);
		assert_memory_equal(first + i * TU_FIXED_SIZE, want, TU_FIXED_SIZE);
	}
	assert_int_equal(page_present(first + page), 1);
	/* Compaction reads through the mapping: it faults the rest back. */
	assert_int_equal(gcs_writer_compact_prepare(w, false, &job), 0);
	assert_non_null(job);
	assert_int_equal(gcs_compact_run(job), 0);
	assert_int_equal(gcs_writer_compact_finish(w, job), 0);
	/*
	 * ... and zaps them again when done: the pages a chunk shares with
	 * its neighbours' headers and what fault-around mapped too, or a
	 * long refine's resident set grew with each batch.
	 */
	for (uint8_t *q = first - (uintptr_t)first % page; q < first + 4 * m.len; q += page)
		if (page_present(q))
			fail_msg("page %td of the compacted chunks still mapped",
				 (q - first) / page);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(count_records(p, GCS_OPEN_VERIFY), 16 * 512);
	free(p);
}

struct job_arg {
	struct gcs_compact_job *job;
	int ret;
};

static void *run_job(void *arg)
{
	struct job_arg *a = arg;

	a->ret = gcs_compact_run(a->job);
	return NULL;
}

static void test_session_writer_threaded_compaction(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	struct gcs_reader *r;
	struct job_arg a = { 0 };
	pthread_t t;
	uint64_t seq = 0;

	gcs_writer_opts_init(&o);
	o.compact_target = 256 << 10;
	w = new_writer(p, &o);
	for (int i = 0; i < 16; i++, seq += 400)
		assert_int_equal(tu_put_fixed(w, seq, 400), 0);
	assert_int_equal(gcs_writer_compact_prepare(w, false, &a.job), 0);
	assert_non_null(a.job);
	assert_int_equal(gcs_writer_compact_prepare(w, false, &(struct gcs_compact_job *){ NULL }),
			 -EBUSY);
	assert_int_equal(pthread_create(&t, NULL, run_job, &a), 0);
	/* Capture goes on while the compactor works. */
	for (int i = 0; i < 16; i++, seq += 400)
		assert_int_equal(tu_put_fixed(w, seq, 400), 0);
	assert_int_equal(tu_put_var(w, 0, 5), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(a.ret, 0);
	assert_int_equal(gcs_writer_close(w), -EBUSY);	/* job still out */
	assert_int_equal(gcs_writer_compact_finish(w, a.job), 0);
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	assert_int_equal(tu_check_records(r, NULL), 32 * 400 + 5);
	assert_true(gcs_reader_info(r)->n_by_type[3] >= 2);
	assert_true(gcs_reader_info(r)->allocated < gcs_reader_info(r)->raw_bytes / 2);
	gcs_reader_close(r);
	free(p);
}

/*
 * A compressed copy that does not decompress to the raw chunks' data is
 * never written, so the raw chunks are never punched out for it.
 */
static void test_session_writer_compaction_verifies_copy(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_opts o;
	struct gcs_writer_stats st;
	struct gcs_compact_job *job;
	struct gcs_writer *w;
	struct gcs_reader *r;
	size_t lost = 1;

	gcs_writer_opts_init(&o);
	o.compact_target = 64 << 10;
	w = new_writer(p, &o);
	for (int i = 0; i < 4; i++)
		assert_int_equal(tu_put_fixed(w, (uint64_t)i * 512, 512), 0);
	zstd_corrupt = true;
	assert_int_equal(gcs_writer_compact_prepare(w, false, &job), 0);
	assert_non_null(job);
	gcs_compact_run(job);
	assert_int_equal(gcs_writer_compact_finish(w, job), 0);
	/* Close compacts what is left: with the same faulty compressor. */
	assert_int_equal(gcs_writer_sync(w), 0);
	gcs_writer_stats(w, &st);
	assert_int_equal(st.zchunks, 0);
	assert_int_equal(st.compact_rejected, 1);
	assert_int_equal(st.reclaimed, 0);
	assert_int_equal(gcs_writer_close(w), 0);
	zstd_corrupt = false;
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	assert_int_equal(tu_check_records(r, &lost), 4 * 512);
	assert_int_equal(lost, 0);
	assert_int_equal(gcs_reader_info(r)->n_lost, 0);
	gcs_reader_close(r);
	free(p);
}

/*
 * Chunks smaller than a block free nothing when punched: a compressed copy
 * would only add to the file (an insole's 0.1 s batches), so they stay raw.
 * compact_all compacts them anyway; large chunks are compacted either way.
 */
static void test_session_writer_small_chunks_stay_raw(void **state)
{
	struct fixture *f = *state;
	struct gcs_writer_stats st;
	struct gcs_compact_job *job;
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	struct gcs_reader *r;
	size_t lost = 1;

	for (int all = 0; all < 2; all++) {
		char *p = fresh(f);
		uint64_t seq = 0;

		gcs_writer_opts_init(&o);
		o.compact_target = 16 << 10;
		o.compact_all = all;
		w = new_writer(p, &o);
		for (int i = 0; i < 400; i++, seq += 5)
			assert_int_equal(tu_put_var(w, seq, 5), 0);
		assert_int_equal(gcs_writer_compact_prepare(w, false, &job), 0);
		if (!all) {
			assert_null(job);
			gcs_writer_stats(w, &st);
			assert_true(st.compact_skipped >= 1);
		} else {
			assert_non_null(job);
			gcs_compact_run(job);
			assert_int_equal(gcs_writer_compact_finish(w, job), 0);
		}
		/* 64 KiB chunks: the whole blocks inside are freed. */
		for (int i = 0; i < 4; i++)
			assert_int_equal(tu_put_fixed(w, (uint64_t)i * 512, 512), 0);
		assert_int_equal(gcs_writer_close(w), 0);
		assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
		assert_int_equal(tu_check_records(r, &lost), 4 * 512 + 2000);
		assert_int_equal(lost, 0);
		for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
			const struct gcs_chunk_info *c = gcs_reader_chunk(r, i);

			/* Stream 0 holds the fixed records, 1 the small ones. */
			assert_int_equal(c->have_zstd, c->stream == 0 || all);
		}
		gcs_reader_close(r);
		free(p);
	}
}

/* ---- A failed sync ---------------------------------------------------------------- */

static void read_header(const char *path, struct gcs_disk_header *out)
{
	struct gcs_disk_header h[2];
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h[0], sizeof(h[0]), 0), sizeof(h[0]));
	assert_int_equal(pread(fd, &h[1], sizeof(h[1]), GCS_BLOCK), sizeof(h[1]));
	close(fd);
	*out = h[0].generation > h[1].generation ? h[0] : h[1];
}

/*
 * The sync that fails keeps the mark where it was, says so in the header,
 * and no later sync, ours or recovery's through a new descriptor (which
 * would not see the error again), raises the mark over that range.
 */
static void test_session_writer_failed_sync_never_durable(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_stats st;
	struct gcs_recover_report rep;
	struct gcs_disk_header h;
	struct gcs_writer *w = new_writer(p, NULL);
	uint64_t mark;

	assert_int_equal(tu_put_fixed(w, 0, 100), 0);
	assert_int_equal(gcs_writer_sync(w), 0);
	gcs_writer_stats(w, &st);
	mark = st.durable_end;
	assert_int_equal(tu_put_fixed(w, 100, 100), 0);
	fsync_fail_in = 1;
	assert_int_equal(gcs_writer_sync(w), -EIO);
	fsync_fail_in = 0;
	gcs_writer_stats(w, &st);
	assert_int_equal(st.durable_end, mark);
	assert_int_equal(st.failed, -EIO);
	assert_int_equal(st.sync_error, -EIO);
	read_header(p, &h);
	assert_int_equal(h.state, GCS_STATE_OPEN);
	assert_int_equal(h.durable_end, mark);
	assert_int_equal(h.sync_error, EIO);
	/* Sticky: the next sync succeeds on the disk, but claims nothing. */
	assert_int_equal(tu_put_fixed(w, 200, 100), -EIO);
	assert_int_equal(gcs_writer_sync(w), -EIO);
	assert_int_equal(gcs_writer_close(w), -EIO);
	read_header(p, &h);
	assert_int_equal(h.state, GCS_STATE_OPEN);
	assert_int_equal(h.durable_end, mark);

	/* Recovery keeps the records, not the claim. */
	assert_int_equal(gcs_recover(p, &rep), 0);
	read_header(p, &h);
	assert_int_equal(h.state, GCS_STATE_RECOVERED);
	assert_int_equal(h.durable_end, mark);
	assert_int_equal(h.sync_error, EIO);
	assert_int_equal(count_records(p, GCS_OPEN_VERIFY), 200);
	/* ... and readers are told. */
	{
		struct gcs_reader *r;

		assert_int_equal(gcs_reader_open(&r, p, 0), 0);
		assert_int_equal(gcs_reader_info(r)->sync_error, EIO);
		assert_int_equal(gcs_reader_info(r)->durable_end, mark);
		gcs_reader_close(r);
	}
	free(p);
}

/* The same when the event loop's own datasync (IORING_OP_FSYNC) fails. */
static void test_session_writer_failed_split_sync(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_stats st;
	struct gcs_disk_header h;
	struct gcs_writer *w = new_writer(p, NULL);
	struct gcs_sync s;
	uint64_t mark;

	assert_int_equal(tu_put_fixed(w, 0, 100), 0);
	gcs_writer_stats(w, &st);
	mark = st.durable_end;
	/* The data step passed, the header step failed: header written. */
	assert_int_equal(gcs_writer_sync_begin(w, &s), 0);
	assert_int_equal(fdatasync(s.fd), 0);
	assert_int_equal(gcs_writer_sync_header(w, &s), 0);
	assert_int_equal(header_durable(p), s.target);
	assert_int_equal(gcs_writer_sync_fail(w, &s, -EIO), -EIO);
	assert_int_equal(gcs_writer_sync_fail(w, &s, -EIO), -EINVAL);
	read_header(p, &h);
	assert_int_equal(h.durable_end, mark);
	assert_int_equal(h.sync_error, EIO);
	gcs_writer_stats(w, &st);
	assert_int_equal(st.durable_end, mark);
	assert_int_equal(gcs_writer_sync_begin(w, &s), -EIO);
	/* Close reports the error; it is not left busy. */
	assert_int_equal(gcs_writer_close(w), -EIO);
	read_header(p, &h);
	assert_int_equal(h.state, GCS_STATE_OPEN);
	assert_int_equal(h.durable_end, mark);
	assert_int_equal(count_records(p, GCS_OPEN_VERIFY), 100);
	free(p);
}

/* ---- Space ---------------------------------------------------------------------- */

static void test_session_writer_grows_preallocated(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	struct gcs_space sp;
	struct stat sb;
	off_t last = 0;
	int steps = 0;

	gcs_writer_opts_init(&o);
	o.grow_step = 1 << 20;
	o.no_compact = true;
	w = new_writer(p, &o);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(tu_put_fixed(w, (uint64_t)i * 1000, 1000), 0);
		assert_int_equal(stat(p, &sb), 0);
		/* Every byte of the file is allocated: no holes to fault in. */
		assert_true((off_t)sb.st_blocks * 512 >= sb.st_size);
		assert_int_equal(sb.st_size % 4096, 0);
		steps += sb.st_size != last;
		last = sb.st_size;
		assert_int_equal(gcs_writer_space(w, 0, &sp), 0);
		assert_true(sp.prealloc_left >= o.tail_reserve);
		assert_true(sp.file_used + sp.prealloc_left == (uint64_t)sb.st_size);
	}
	assert_true(steps >= 6);	/* 6.4 MB in 1 MiB steps */
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_size < last);	/* the preallocation is trimmed */
	free(p);
}

static void test_session_writer_space_estimate(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	struct gcs_space sp;
	int64_t t0 = 5000000000ll;

	gcs_writer_opts_init(&o);
	o.no_compact = true;
	w = new_writer(p, &o);
	assert_int_equal(gcs_writer_space(w, t0, &sp), 0);
	assert_true(sp.fs_avail > 0);
	assert_true(sp.seconds_left < 0);	/* no rate yet */
	for (int i = 0; i < 20; i++)
		assert_int_equal(tu_put_fixed(w, (uint64_t)i * 1024, 1024), 0);
	/* 20 x 64 KiB (+ headers) in two seconds. */
	assert_int_equal(gcs_writer_space(w, t0 + 2000000000ll, &sp), 0);
	assert_true(sp.rate > 20 * 65536 / 2.0 * 0.99);
	assert_true(sp.rate < 20 * 65536 / 2.0 * 1.05);
	assert_true(sp.seconds_left > 0);
	assert_true(sp.seconds_left <
		    ((double)sp.fs_avail + (double)sp.prealloc_left) / sp.rate + 1);
	assert_false(sp.full);
	assert_int_equal(gcs_writer_close(w), 0);
	free(p);
}

/* Closed, clean, all data good and ended by a full disk. */
static bool full_file_ok(const char *path, long min_records)
{
	struct gcs_reader *r;
	const struct gcs_marker *end;
	bool ok;

	if (gcs_reader_open(&r, path, GCS_OPEN_VERIFY))
		return false;
	end = gcs_reader_n_markers(r) ?
	      gcs_reader_marker(r, gcs_reader_n_markers(r) - 1) : NULL;
	ok = gcs_reader_info(r)->state == GCS_STATE_CLOSED &&
	     gcs_reader_info(r)->tail == GCS_TAIL_CLEAN &&
	     tu_check_records(r, NULL) >= min_records &&
	     end && end->code == GCS_MARK_SESSION_END && end->value == ENOSPC;
	gcs_reader_close(r);
	return ok;
}

static void test_session_writer_disk_full_ends_cleanly(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	struct gcs_space sp;
	struct stat sb;
	uint64_t seq = 0;
	long committed = 0;
	int ret = 0;

	gcs_writer_opts_init(&o);
	o.grow_step = 1 << 20;
	o.tail_reserve = 64 << 10;
	fake_limit = 3 << 20;
	fake_refusals = 0;
	w = new_writer(p, &o);
	while (!(ret = tu_put_fixed(w, seq, 300))) {
		seq += 300;
		committed += 300;
	}
	assert_int_equal(ret, -ENOSPC);
	assert_true(fake_refusals >= 2);	/* a step, then the last bit */
	assert_int_equal(gcs_writer_space(w, 0, &sp), 0);
	assert_true(sp.full);
	/* It stays full: no room for another chunk, no SIGBUS either. */
	assert_int_equal(tu_put_fixed(w, seq, 300), -ENOSPC);
	assert_int_equal(gcs_writer_close(w), 0);
	fake_limit = 0;
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_size <= 3 << 20);
	assert_true(sb.st_size > (3 << 20) - (128 << 10));	/* used it all */
	assert_true(full_file_ok(p, committed));
	free(p);
}

/*
 * tmpfs's fallocate() says EINTR while io_uring task work is pending on the
 * capture (signal_pending()): the file must still grow, nothing is lost.
 */
static void test_session_writer_grow_interrupted(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	uint64_t seq = 0;
	long committed = 0;

	struct gcs_reader *r;
	struct stat sb;

	gcs_writer_opts_init(&o);
	o.grow_step = 64 << 10;
	w = new_writer(p, &o);
	for (int i = 0; i < 40; i++) {
		fake_eintr = 2;
		assert_int_equal(tu_put_fixed(w, seq, 300), 0);
		seq += 300;
		committed += 300;
	}
	fake_eintr = 0;
	assert_int_equal(gcs_writer_close(w), 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_size > 40 * 300 * TU_FIXED_SIZE);	/* it grew */
	assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
	assert_int_equal(gcs_reader_info(r)->state, GCS_STATE_CLOSED);
	assert_int_equal(tu_check_records(r, NULL), committed);
	gcs_reader_close(r);
	free(p);
}

/* The same for real: a 3 MiB tmpfs in a private mount namespace. */
static void test_session_writer_disk_full_tmpfs(void **state)
{
	struct fixture *f = *state;
	char *mnt = tu_path(f->dir, "mnt");
	int status;
	pid_t pid;

	assert_int_equal(mkdir(mnt, 0700), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct gcs_writer_opts o;
		struct gcs_writer *w;
		char *p = tu_path(mnt, "s");
		uint64_t seq = 0;
		int ret;

		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", mnt, "tmpfs", 0, "size=3m"))
			_exit(77);
		gcs_writer_opts_init(&o);
		o.grow_step = 1 << 20;
		o.tail_reserve = 64 << 10;
		if (gcs_writer_create(&w, p, &o, tu_meta) || tu_add_streams(w))
			_exit(2);
		/* Writing through the mapping until the disk is full: no SIGBUS. */
		while (!(ret = tu_put_fixed(w, seq, 300)))
			seq += 300;
		if (ret != -ENOSPC || gcs_writer_close(w))
			_exit(3);
		_exit(full_file_ok(p, (long)seq) ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		print_message("# no private tmpfs here (needs root and unshare)\n");
		rmdir(mnt);
		free(mnt);
		skip();
	}
	if (WIFSIGNALED(status))
		fail_msg("the writer died of signal %d on a full disk",
			 WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	rmdir(mnt);
	free(mnt);
}

/*
 * A session file appears under its name only whole: a writer killed at any
 * instant of gcs_writer_create() leaves either no file or a session that
 * opens with its metadata, never a file of zeros. Children are killed at
 * spread-out instants across the creation (a 64 MiB preallocation keeps it
 * busy for a while).
 */
static void test_session_writer_named_only_when_whole(void **state)
{
	struct fixture *f = *state;
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	struct timespec t0, t1;
	int absent = 0, whole = 0, probe;
	long span_ns;
	char *p;

	/* Where O_TMPFILE is missing the file has its name from the start. */
	probe = open(f->dir, O_TMPFILE | O_RDWR, 0600);
	if (probe < 0) {
		print_message("# no O_TMPFILE in %s: %s\n", f->dir, strerror(errno));
		skip();
	}
	close(probe);
	gcs_writer_opts_init(&o);
	o.grow_step = 64u << 20;
	/* How long one creation takes here: the kills spread over 3 times. */
	p = fresh(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(gcs_writer_create(&w, p, &o, tu_meta), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	gcs_writer_abort(w);
	unlink(p);
	free(p);
	span_ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec - t0.tv_nsec;
	span_ns = span_ns * 3 + 1000000;	/* and the fork */

	for (int i = 0; i < 40; i++) {
		struct gcs_reader *r = NULL;
		long at = span_ns * (i % 20) / 19;
		struct timespec d = { at / 1000000000L, at % 1000000000L };
		struct stat st;
		pid_t pid;

		p = fresh(f);
		pid = fork();
		assert_true(pid >= 0);
		if (!pid)
			_exit(gcs_writer_create(&w, p, &o, tu_meta) ? 1 : 0);
		/* One in 20 is not killed: it must end whole. */
		if (i % 20 != 19) {
			nanosleep(&d, NULL);
			kill(pid, SIGKILL);
		}
		waitpid(pid, NULL, 0);
		if (stat(p, &st)) {
			assert_int_equal(errno, ENOENT);
			absent++;
		} else {
			assert_int_equal(gcs_reader_open(&r, p, GCS_OPEN_VERIFY), 0);
			assert_non_null(gcs_reader_meta(r));
			assert_int_equal(st.st_mode & 0077 & ~0040, 0);
			gcs_reader_close(r);
			unlink(p);
			whole++;
		}
		free(p);
	}
	/* Both outcomes happened: the kills did land inside the creation. */
	print_message("# %d killed before the name, %d whole\n", absent, whole);
	assert_true(absent > 0);
	assert_true(whole > 0);
}

/* A name that exists is refused and its file left exactly as it was. */
static void test_session_writer_never_replaces(void **state)
{
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer *w = NULL;
	uint8_t *buf;
	size_t len;

	assert_int_equal(tu_write_file(p, "not ours", 8), 0);
	assert_int_equal(gcs_writer_create(&w, p, NULL, tu_meta), -EEXIST);
	assert_null(w);
	assert_int_equal(tu_read_file(p, &buf, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(buf, "not ours", 8);
	free(buf);
	free(p);
}

/*
 * The message notes a tool reads at chunk_commit (gcprobes.h): a stream's
 * ring is only handed out once it holds a note of that stream, each note
 * is found by sequence number, and the PDU's head is zero past its end.
 */
static void test_session_writer_probe_notes(void **state)
{
	static const uint8_t pdu[] = { 0x1b, 0x10, 0x00, 0x01, 0x02 };
	const struct gcprobe_msg *ring, *m;
	uint8_t head[GCPROBE_MSG_HEAD] = { 0 };

	(void)state;
	assert_int_equal(gcprobe_msg_notes(3), 0);
	gcprobe_note_msg(3, 700, 0x1234, 5555, pdu, sizeof(pdu));
	ring = (const struct gcprobe_msg *)gcprobe_msg_notes(3);
	assert_non_null(ring);
	m = &ring[700 % GCPROBE_MSG_RING];
	assert_int_equal(m->seq, 700);
	assert_int_equal(m->stream, 3);
	assert_int_equal(m->op, 0x1234);
	assert_int_equal(m->t_reap, 5555);
	assert_int_equal(m->len, sizeof(pdu));
	memcpy(head, pdu, sizeof(pdu));
	assert_memory_equal(m->head, head, sizeof(head));
	/* Another stream in the same ring (19 % 16 == 3) takes it over. */
	assert_int_equal(gcprobe_msg_notes(19), 0);
	gcprobe_note_msg(19, 1, 0, 0, pdu, sizeof(pdu));
	assert_int_equal(gcprobe_msg_notes(3), 0);
	assert_ptr_equal((const void *)gcprobe_msg_notes(19), ring);
	assert_int_equal(gcprobe_msg_notes(4), 0);
}

/*
 * Polled notes (msg_notes attached): a commit stamps the notes of its
 * records and only those; without the probe it stamps none; a note
 * written again is pending again.
 */
static void test_session_writer_probe_commit_stamps(void **state)
{
	static const uint8_t pdu[] = { 0x1b, 0x10, 0x00, 0x07 };
	struct fixture *f = *state;
	char *p = fresh(f);
	struct gcs_writer *w = new_writer(p, NULL);
	const struct gcprobe_msg *ring;
	struct gcs_chunk_meta m;
	struct gcs_slot *s;
	uint64_t seq;

	for (seq = 0; seq < 6; seq++)
		gcprobe_note_msg(0, seq, 0x99, 1000 + seq, pdu, sizeof(pdu));
	ring = (const struct gcprobe_msg *)gcprobe_msg_notes(0);
	assert_non_null(ring);
	GCPROBE_SEMA(msg_notes) = 1;
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &s), 0);
	fill(s, 0, 2, &m);
	assert_int_equal(gcs_writer_commit(w, s, &m), 0);
	assert_true(ring[0].t_commit > 0);
	assert_int_equal(ring[1].t_commit, ring[0].t_commit);
	assert_int_equal(ring[2].t_commit, 0);
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &s), 0);
	fill(s, 2, 2, &m);
	assert_int_equal(gcs_writer_commit(w, s, &m), 0);
	assert_true(ring[2].t_commit >= ring[1].t_commit);
	assert_true(ring[3].t_commit > 0);
	GCPROBE_SEMA(msg_notes) = 0;
	assert_int_equal(gcs_writer_reserve(w, 0, 2 * TU_FIXED_SIZE, &s), 0);
	fill(s, 4, 2, &m);
	assert_int_equal(gcs_writer_commit(w, s, &m), 0);
	assert_int_equal(ring[4].t_commit, 0);
	assert_int_equal(ring[5].t_commit, 0);
	gcprobe_note_msg(0, GCPROBE_MSG_RING, 0x99, 2000, pdu, sizeof(pdu));
	assert_int_equal(ring[0].seq, GCPROBE_MSG_RING);
	assert_int_equal(ring[0].t_commit, 0);
	assert_int_equal(gcs_writer_close(w), 0);
	free(p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_writer_publishes_in_file_order),
		cmocka_unit_test(test_session_writer_reservation_limit),
		cmocka_unit_test(test_session_writer_probe_commit_stamps),
		cmocka_unit_test(test_session_writer_io_uring_read_into_slot),
		cmocka_unit_test(test_session_writer_split_sync_and_reclaim),
		cmocka_unit_test(test_session_writer_unmaps_behind),
		cmocka_unit_test(test_session_writer_threaded_compaction),
		cmocka_unit_test(test_session_writer_compaction_verifies_copy),
		cmocka_unit_test(test_session_writer_small_chunks_stay_raw),
		cmocka_unit_test(test_session_writer_failed_sync_never_durable),
		cmocka_unit_test(test_session_writer_failed_split_sync),
		cmocka_unit_test(test_session_writer_grows_preallocated),
		cmocka_unit_test(test_session_writer_space_estimate),
		cmocka_unit_test(test_session_writer_disk_full_ends_cleanly),
		cmocka_unit_test(test_session_writer_disk_full_tmpfs),
		cmocka_unit_test(test_session_writer_grow_interrupted),
		cmocka_unit_test(test_session_writer_named_only_when_whole),
		cmocka_unit_test(test_session_writer_never_replaces),
		cmocka_unit_test(test_session_writer_probe_notes),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, setup, tu_dir_teardown);
}
