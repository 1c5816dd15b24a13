// SPDX-License-Identifier: GPL-2.0
/*
 * Tail recovery (docs/session-format.md section 9): keep every record up to
 * the first one that fails its checks, cut the rest, write a fresh index and
 * mark the file RECOVERED. Data then index, sync, then header, sync: a crash
 * during recovery leaves a file recovery can run on again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

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

/* Build the INDEX record for what the walk kept. */
static int build_index(const struct gcs_reader *r, uint8_t **out, size_t *len)
{
	const struct gcs_index_entry *recs;
	size_t n = gcs_reader_records(r, &recs), kept = 0;
	struct gcs_index_ext x = { 0 };
	struct gcs_rec_hdr h;
	uint64_t size;
	uint8_t *buf, *body;

	if ((uint64_t)n * sizeof(*recs) > GCS_MAX_BODY)
		return -E2BIG;
	size = gcs_align8(GCS_INDEX_HDR_LEN + n * sizeof(*recs));
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
	ret = build_index(r, &idx, &idx_len);
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

int gcs_recover(const char *path, struct gcs_recover_report *rep)
{
	const struct gcs_file_info *info;
	struct gcs_reader *r;
	int fd, ret;

	memset(rep, 0, sizeof(*rep));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A live writer holds LOCK_EX: never cut a file being written. */
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out_fd;
	}
	ret = gcs_reader_open_fd(&r, fd, 0);
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
	if (info->file_size > info->valid_end)
		rep->dropped = info->file_size - info->valid_end;
	if (info->durable_end > info->valid_end)
		rep->lost_durable = info->durable_end - info->valid_end;
	if (info->state != GCS_STATE_OPEN && info->tail == GCS_TAIL_CLEAN &&
	    info->valid_end == info->file_size &&
	    info->end_off == info->file_size)
		goto out_reader;	/* nothing to repair */
	ret = repair(fd, r, rep);
out_reader:
	gcs_reader_close(r);
out_fd:
	close(fd);
	return ret;
}
