// SPDX-License-Identifier: GPL-2.0
/*
 * Recovery (docs/session-format.md section 9). In place: keep every record
 * up to the end of the walk, cut the rest, write a fresh index and mark the
 * file RECOVERED -- data then index, sync, then header, sync, so a crash
 * during recovery leaves a file recovery can run on again -- but never cut
 * below the durable mark or into a closed file unless forced. Salvage: copy
 * every record the walk kept into a new file, lost ranges padded over.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "session/gcs_internal.h"

static bool superseded(const struct gcs_reader *r, uint64_t off)
{
	size_t lo = 0, hi = gcs_reader_n_chunks(r);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct gcs_chunk_info *c = gcs_reader_chunk(r, mid);

		if (c->orig_off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == gcs_reader_n_chunks(r))
		return false;
	return gcs_reader_chunk(r, lo)->orig_off == off &&
	       gcs_reader_chunk(r, lo)->have_zstd;
}

/* Build the INDEX record for what the walk kept, and @n_extra records after. */
static int build_index(const struct gcs_reader *r,
		       const struct gcs_index_entry *extra, size_t n_extra,
		       uint8_t **out, size_t *len)
{
	const struct gcs_index_entry *recs;
	size_t n = gcs_reader_records(r, &recs), kept = 0;
	struct gcs_index_ext x = { 0 };
	struct gcs_rec_hdr h;
	uint64_t size;
	uint8_t *buf, *body;

	if ((uint64_t)(n + n_extra) * sizeof(*recs) > GCS_MAX_BODY)
		return -E2BIG;
	size = gcs_align8(GCS_INDEX_HDR_LEN + (n + n_extra) * sizeof(*recs));
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	body = buf + GCS_INDEX_HDR_LEN;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].type == GCS_REC_CHUNK && superseded(r, recs[i].off))
			continue;
		memcpy(body + kept * sizeof(*recs), &recs[i], sizeof(*recs));
		kept++;
	}
	for (size_t i = 0; i < n_extra; i++)
		memcpy(body + kept++ * sizeof(*recs), &extra[i], sizeof(*recs));
	x.n_entries = (uint32_t)kept;
	size = gcs_align8(GCS_INDEX_HDR_LEN + kept * sizeof(*recs));
	h = (struct gcs_rec_hdr){
		.magic = GCS_REC_MAGIC, .type = GCS_REC_INDEX,
		.hdr_len = GCS_INDEX_HDR_LEN, .size = (uint32_t)size,
		.body_len = (uint32_t)(kept * sizeof(*recs)),
	};
	h.body_crc = gcs_reader_body_sum(r, body, h.body_len);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + GCS_REC_HDR_LEN, &x, sizeof(x));
	h.hdr_crc = gcs_rec_hdr_crc(gcs_reader_seed(r), buf, GCS_INDEX_HDR_LEN);
	memcpy(buf, &h, sizeof(h));
	*out = buf;
	*len = size;
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf = (const uint8_t *)buf + n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Punch the payload of raw chunks whose compressed copy checks out. Only
 * after the header sync: everything kept is durable by then (8.2).
 */
static void reclaim(int fd, struct gcs_reader *r,
		    struct gcs_recover_report *rep)
{
	for (size_t i = 0; i < gcs_reader_n_chunks(r); i++) {
		const struct gcs_chunk_info *c = gcs_reader_chunk(r, i);
		uint64_t a, b;
		const uint8_t *d;
		uint32_t len;

		if (!c->have_raw || !c->have_zstd)
			continue;
		if (gcs_reader_chunk_data(r, i, &d, &len) ||
		    c->form != GCS_FORM_ZSTD)
			continue;
		a = c->raw_body_off;
		b = a + c->raw_len;
		a = (a + GCS_BLOCK - 1) / GCS_BLOCK * GCS_BLOCK;
		b = b / GCS_BLOCK * GCS_BLOCK;
		if (b <= a)
			continue;
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)a, (off_t)(b - a)))
			return;	/* unsupported here: the space stays used */
		rep->reclaimed += b - a;
	}
}

static int repair(int fd, struct gcs_reader *r, struct gcs_recover_report *rep)
{
	const struct gcs_disk_header *old = gcs_reader_header(r);
	const struct gcs_file_info *info = gcs_reader_info(r);
	struct gcs_disk_header h;
	uint64_t end = info->valid_end, index_off = 0;
	uint8_t *idx = NULL;
	size_t idx_len = 0;
	int ret;

	if (ftruncate(fd, (off_t)end))
		return -errno;
	rep->changed = true;
	ret = build_index(r, NULL, 0, &idx, &idx_len);
	if (!ret) {
		ret = pwrite_all(fd, idx, idx_len, end);
		if (!ret) {
			index_off = end;
			end += idx_len;
			rep->wrote_index = true;
		} else if (ftruncate(fd, (off_t)end)) {	/* optional: drop it */
			ret = -errno;
			goto out;
		}
	}
	ret = 0;
	if (fdatasync(fd)) {
		ret = -errno;
		goto out;
	}
	h = (struct gcs_disk_header){
		.ver_major = old->ver_major, .ver_minor = old->ver_minor,
		.incompat = old->incompat, .compat = old->compat,
		.salt = old->salt, .generation = old->generation + 1,
		.state = GCS_STATE_RECOVERED, .durable_end = end,
		.end_off = end, .index_off = index_off,
		.sync_interval_ms = old->sync_interval_ms,
		.sync_error = old->sync_error,
	};
	/* A writer's sync failed: our sync cannot vouch for its pages (7.2). */
	if (old->sync_error)
		h.durable_end = gcs_min_u64(old->durable_end, end);
	gcs_hdr_seal(&h);
	ret = pwrite_all(fd, &h, sizeof(h),
			 (h.generation % GCS_HDR_SLOTS) * GCS_BLOCK);
	if (!ret && fdatasync(fd))
		ret = -errno;
	rep->new_size = end;
	if (!ret && !old->sync_error)
		reclaim(fd, r, rep);
out:
	free(idx);
	return ret;
}

/* ---- A dead writer's lock ------------------------------------------------- */

/*
 * The pid that holds the flock on @fd, from /proc/locks: 0 when unknown
 * (no /proc, another pid namespace), -1 when nobody seems to hold it.
 */
static pid_t lock_holder(int fd)
{
	char line[256];
	struct stat st;
	pid_t pid = -1;
	FILE *f;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned int maj, min;
		unsigned long long ino;
		char kind[16];
		int p;

		if (strstr(line, "->"))
			continue;	/* a waiter, not the holder */
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%llu", kind, &p,
			   &maj, &min, &ino) != 5 || strcmp(kind, "FLOCK"))
			continue;
		if (maj == major(st.st_dev) && min == minor(st.st_dev) &&
		    ino == (unsigned long long)st.st_ino) {
			pid = p > 0 ? p : 0;
			break;
		}
	}
	fclose(f);
	return pid;
}

/* Gone, or a zombie: a process that can write nothing more. */
static bool pid_dead(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

bool gcs_file_live_writer(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);	/* a FIFO */
	bool live = false;
	pid_t pid;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK) {
		pid = lock_holder(fd);
		live = pid <= 0 || !pid_dead(pid);	/* unknown: assume live */
	}
	close(fd);
	return live;
}

/*
 * Take the writer's lock. A writer killed with SIGKILL keeps it until the
 * kernel has torn down its io_uring, which holds the file: wait, up to
 * @dead_ms, while the holder is dead (briefly when it cannot be told).
 */
static int lock_file(int fd, int dead_ms, int *waited)
{
	const int step = 20, unknown_ms = 1000;

	for (*waited = 0;; *waited += step) {
		pid_t pid;

		if (!flock(fd, LOCK_EX | LOCK_NB))
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		pid = lock_holder(fd);
		if (pid > 0 && !pid_dead(pid))
			return -EBUSY;		/* a live writer */
		if (*waited >= (pid > 0 || dead_ms < unknown_ms ? dead_ms :
							      unknown_ms))
			return -EBUSY;
		usleep(step * 1000);
	}
}

/* ---- Salvage into a new file ------------------------------------------------ */

static bool zero_block(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Copy [from, to) of @in to @out at the same offsets, leaving holes for zeros. */
static int copy_range(int in, int out, uint64_t from, uint64_t to)
{
	const size_t blk = 1u << 20;
	uint8_t *buf = malloc(blk);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (from < to && !ret) {
		size_t n = (size_t)gcs_min_u64(blk, to - from);
		ssize_t got = pread(in, buf, n, (off_t)from);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			ret = got < 0 ? -errno : -EIO;
			break;
		}
		for (size_t i = 0; i < (size_t)got && !ret; i += GCS_BLOCK) {
			size_t m = gcs_min_u64(GCS_BLOCK, (size_t)got - i);

			if (!zero_block(buf + i, m))
				ret = pwrite_all(out, buf + i, m, from + i);
		}
		from += (uint64_t)got;
	}
	free(buf);
	return ret;
}

/* Cover a lost range with PAD records, so that the copy walks cleanly. */
static int pad_range(int out, const struct gcs_reader *r, uint64_t a, uint64_t b)
{
	const uint64_t most = GCS_MAX_RECORD & ~(uint64_t)(GCS_REC_ALIGN - 1);
	uint8_t zero[GCS_REC_HDR_LEN] = { 0 };
	struct gcs_rec_hdr h;
	int ret;

	while (b - a >= GCS_REC_HDR_LEN) {
		uint64_t n = b - a;

		if (n > most)
			n = n - most < GCS_REC_HDR_LEN ? n - GCS_REC_HDR_LEN : most;
		h = (struct gcs_rec_hdr){
			.magic = GCS_REC_MAGIC, .type = GCS_REC_PAD,
			.hdr_len = GCS_REC_HDR_LEN, .size = (uint32_t)n,
			.body_crc = gcs_reader_body_sum(r, zero, 0),
		};
		h.hdr_crc = gcs_rec_hdr_crc(gcs_reader_seed(r), &h, sizeof(h));
		ret = pwrite_all(out, &h, sizeof(h), a);
		if (ret)
			return ret;
		a += n;
	}
	/* Only forged files have records closer than a header apart. */
	return b > a ? pwrite_all(out, zero, (size_t)(b - a), a) : 0;
}

/*
 * A GAP record (reason DAMAGED) for every sequence jump across a lost range,
 * appended at @end: the copy then says which records the damage took.
 */
static int damage_gaps(int out, const struct gcs_reader *r, uint64_t *end,
		       struct gcs_index_entry **gaps, size_t *n_gaps)
{
	const struct gcs_chunk_info *last[GCS_MAX_STREAMS] = { NULL };
	size_t n = gcs_reader_n_chunks(r), cap = 0, lo, hi;
	int ret;

	*gaps = NULL;
	*n_gaps = 0;
	if (!gcs_reader_n_lost_ranges(r))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct gcs_chunk_info *c = gcs_reader_chunk(r, i);
		const struct gcs_chunk_info *p = c->stream < GCS_MAX_STREAMS ?
						 last[c->stream] : NULL;
		uint8_t rec[GCS_GAP_HDR_LEN] = { 0 };
		struct gcs_rec_hdr h;
		struct gcs_gap_ext g;
		bool between;

		if (c->stream >= GCS_MAX_STREAMS)
			continue;
		last[c->stream] = c;
		if (!p || c->first_seq <= p->last_seq + 1 ||
		    p->last_seq == GCS_SEQ_UNKNOWN)
			continue;
		/* Is there a lost range (sorted by offset) between p and c? */
		lo = 0;
		hi = gcs_reader_n_lost_ranges(r);
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (gcs_reader_lost_range(r, mid)->off <= p->orig_off)
				lo = mid + 1;
			else
				hi = mid;
		}
		between = lo < gcs_reader_n_lost_ranges(r) &&
			  gcs_reader_lost_range(r, lo)->off < c->orig_off;
		if (!between)
			continue;
		g = (struct gcs_gap_ext){
			.stream = c->stream, .reason = GCS_GAP_DAMAGED,
			.first_seq = p->last_seq + 1, .last_seq = c->first_seq - 1,
			.t_start_ns = p->t_last_ns,
			.t_end_ns = c->t_first_ns < p->t_last_ns ? p->t_last_ns :
								   c->t_first_ns,
		};
		h = (struct gcs_rec_hdr){
			.magic = GCS_REC_MAGIC, .type = GCS_REC_GAP,
			.hdr_len = GCS_GAP_HDR_LEN, .size = GCS_GAP_HDR_LEN,
			.body_crc = gcs_reader_body_sum(r, rec, 0),
		};
		memcpy(rec, &h, sizeof(h));
		memcpy(rec + GCS_REC_HDR_LEN, &g, sizeof(g));
		h.hdr_crc = gcs_rec_hdr_crc(gcs_reader_seed(r), rec, sizeof(rec));
		memcpy(rec, &h, sizeof(h));
		ret = pwrite_all(out, rec, sizeof(rec), *end);
		if (!ret)
			ret = GCS_ARRAY_GROW(*gaps, *n_gaps, cap);
		if (ret)
			return ret;
		(*gaps)[(*n_gaps)++] = (struct gcs_index_entry){
			.off = *end, .type = GCS_REC_GAP, .stream = GCS_STREAM_NONE,
		};
		*end += sizeof(rec);
	}
	return 0;
}

static int sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, ret = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

static int salvage(int in, const char *path, struct gcs_reader *r,
		   struct gcs_recover_report *rep)
{
	const struct gcs_disk_header *old = gcs_reader_header(r);
	const struct gcs_file_info *info = gcs_reader_info(r);
	uint64_t end = info->valid_end;
	struct gcs_index_entry *gaps = NULL;
	struct gcs_disk_header h;
	uint8_t *idx = NULL;
	size_t idx_len = 0, n_gaps = 0;
	int out, ret;

	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (out < 0)
		return -errno;
	ret = copy_range(in, out, old->data_start, end);
	for (size_t i = 0; !ret && i < gcs_reader_n_lost_ranges(r); i++) {
		const struct gcs_lost_range *l = gcs_reader_lost_range(r, i);

		ret = pad_range(out, r, l->off, l->end);
	}
	if (!ret)
		ret = damage_gaps(out, r, &end, &gaps, &n_gaps);
	if (!ret)
		ret = build_index(r, gaps, n_gaps, &idx, &idx_len);
	if (!ret)
		ret = pwrite_all(out, idx, idx_len, end);
	if (!ret) {
		rep->wrote_index = true;
		h = (struct gcs_disk_header){
			.ver_major = old->ver_major, .ver_minor = old->ver_minor,
			.incompat = old->incompat, .compat = old->compat,
			.salt = old->salt, .generation = old->generation + 1,
			.state = GCS_STATE_RECOVERED, .durable_end = end + idx_len,
			.end_off = end + idx_len, .index_off = end,
			.sync_interval_ms = old->sync_interval_ms,
		};
		/* Both copies: the second one generation ahead. */
		for (int i = 0; i < GCS_HDR_SLOTS && !ret; i++, h.generation++) {
			gcs_hdr_seal(&h);
			ret = pwrite_all(out, &h, sizeof(h),
					 (h.generation % GCS_HDR_SLOTS) * GCS_BLOCK);
		}
	}
	if (!ret && fdatasync(out))
		ret = -errno;
	if (close(out) && !ret)
		ret = -errno;
	free(idx);
	free(gaps);
	if (!ret)
		ret = sync_dir(path);	/* the copy's name is durable too */
	if (ret) {
		unlink(path);
		return ret;
	}
	rep->wrote_copy = true;
	rep->new_size = end + idx_len;
	return 0;
}

int gcs_recover_opts(const char *path, const struct gcs_recover_opts *o,
		     struct gcs_recover_report *rep)
{
	const struct gcs_file_info *info;
	struct gcs_reader *r;
	int fd, ret;
	bool intact, cut_below;

	memset(rep, 0, sizeof(*rep));
	fd = open(path, (o->out ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* A live writer holds LOCK_EX: never cut a file being written. */
	ret = lock_file(fd, o->dead_wait_ms, &rep->waited_ms);
	if (ret)
		goto out_fd;
	/* Every body checked: damage below the mark is reported, not kept quiet. */
	ret = gcs_reader_open_fd(&r, fd, GCS_OPEN_VERIFY);
	if (ret)
		goto out_fd;
	info = gcs_reader_info(r);
	rep->old_state = info->state;
	rep->old_size = info->file_size;
	rep->new_size = info->file_size;
	rep->valid_end = info->valid_end;
	rep->tail = info->tail;
	rep->records = info->n_records;
	rep->damaged = info->n_damaged;
	rep->lost_ranges = info->n_lost_ranges;
	rep->lost_bytes = info->lost_bytes;
	rep->lost_records = info->n_lost_records;
	rep->lost_records_known = info->lost_records_known;
	rep->lost_chunks = info->n_lost;
	for (size_t i = 0; i < gcs_reader_n_streams(r); i++)
		rep->lost_stream_records += gcs_reader_stream(r, i)->lost_records;
	if (info->file_size > info->valid_end)
		rep->dropped = info->file_size - info->valid_end;
	if (info->durable_end > info->valid_end)
		rep->lost_durable = info->durable_end - info->valid_end;
	if (o->out) {
		ret = salvage(fd, o->out, r, rep);
		rep->copy_failed = ret != 0;
		goto out_reader;
	}
	intact = info->state != GCS_STATE_OPEN && info->tail == GCS_TAIL_CLEAN &&
		 info->valid_end == info->file_size &&
		 info->end_off == info->file_size;
	if (intact)
		goto out_reader;	/* nothing to cut; damage is reported */
	/*
	 * A stretch stepped over is damage too: repaired in place, the new
	 * index could no longer name what it held.
	 */
	cut_below = rep->lost_durable || info->state != GCS_STATE_OPEN ||
		    info->n_lost_ranges;
	if (cut_below && !o->force) {
		rep->refused = true;
		ret = -GCS_ECORRUPT;
		goto out_reader;
	}
	ret = repair(fd, r, rep);
out_reader:
	gcs_reader_close(r);
out_fd:
	close(fd);
	return ret;
}

int gcs_recover(const char *path, struct gcs_recover_report *rep)
{
	const struct gcs_recover_opts o = { .dead_wait_ms = 10000 };

	return gcs_recover_opts(path, &o, rep);
}
