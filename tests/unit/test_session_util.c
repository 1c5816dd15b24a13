// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "test_session_util.h"

const char tu_meta[] =
	"{\"subject\":\"T-0001\",\"task\":\"unit_test\",\"appliance\":\"test-01\","
	"\"software\":\"tests-1.0\",\"devices\":[{\"id\":\"dev0\",\"serial\":\"SN-1\"}]}";

char *tu_tmpdir(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char *t;

	if (asprintf(&t, "%s/gcs-test-XXXXXX", base) < 0)
		return NULL;
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

char *tu_path(const char *dir, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

void tu_rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *p;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = tu_path(dir, e->d_name);
		if (p)
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

void *tu_dir_fixture_new(size_t size)
{
	char **dir;

	if (size < sizeof(*dir))
		return NULL;
	/* A struct's first member sits at its address (C11 6.7.2.1p15). */
	dir = calloc(1, size);
	if (!dir)
		return NULL;
	*dir = tu_tmpdir();
	if (!*dir) {
		free(dir);
		return NULL;
	}
	return dir;
}

void tu_dir_fixture_free(void *fixture)
{
	char **dir = fixture;

	if (!fixture)
		return;
	tu_rm_rf(*dir);
	free(*dir);
	free(fixture);
}

TU_DIR_FIRST(struct tu_cmd);

int tu_cmd_setup(void **state)
{
	struct tu_cmd *f = tu_dir_fixture_new(sizeof(*f));

	if (!f)
		return -1;
	f->out = tu_path(f->dir, "output");
	*state = f;
	return 0;
}

int tu_cmd_teardown(void **state)
{
	struct tu_cmd *f = *state;

	free(f->out);
	tu_dir_fixture_free(f);
	return 0;
}

int tu_cmd_run(struct tu_cmd *f, int (*cmd)(int, char **), ...)
{
	int argc = 0, saved_out, saved_err, fd, ret;
	char *argv[32];
	va_list ap;

	va_start(ap, cmd);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	fd = open(f->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	optind = 0;	/* a fresh getopt for every command */
	ret = cmd(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	close(fd);
	return ret;
}

char *tu_cmd_output(const struct tu_cmd *f)
{
	uint8_t *buf;
	size_t len;
	char *s;

	if (tu_read_file(f->out, &buf, &len))
		return NULL;
	s = realloc(buf, len + 1);
	if (!s) {
		free(buf);
		return NULL;
	}
	s[len] = 0;
	return s;
}

int tu_dir_setup(void **state)
{
	*state = tu_dir_fixture_new(sizeof(struct tu_dir));
	return *state ? 0 : -1;
}

int tu_dir_teardown(void **state)
{
	tu_dir_fixture_free(*state);
	return 0;
}

int tu_read_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat sb;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || fstat(fd, &sb))
		return -errno;
	*len = (size_t)sb.st_size;
	*buf = malloc(*len ? *len : 1);
	n = *buf ? pread(fd, *buf, *len, 0) : -1;
	close(fd);
	return n == (ssize_t)*len ? 0 : -EIO;
}

int tu_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = len ? pwrite(fd, buf, len, 0) : 0;
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

int64_t tu_t(uint64_t seq)
{
	return TU_T0 + (int64_t)seq * TU_PERIOD;
}

/* Mostly zeros, as mat frames are, with the sequence spelled out. */
void tu_fixed_record(uint8_t *dst, uint64_t seq)
{
	int64_t t = tu_t(seq);

	memset(dst, 0, TU_FIXED_SIZE);
	memcpy(dst, &seq, 8);
	dst[8 + seq % 40] = (uint8_t)(seq * 7 + 1);
	memcpy(dst + TU_TS_OFFSET, &t, 8);
}

uint32_t tu_var_len(uint64_t seq)
{
	return 1 + (uint32_t)(seq % 29);
}

void tu_var_data(uint8_t *dst, uint64_t seq)
{
	for (uint32_t i = 0; i < tu_var_len(seq); i++)
		dst[i] = (uint8_t)(seq + i * 13);
}

int tu_add_streams(struct gcs_writer *w)
{
	struct gcs_stream_def fixed = {
		.kind = GCS_KIND_IIO_SCAN, .record_size = TU_FIXED_SIZE,
		.ts_offset = TU_TS_OFFSET, .ts_clock = GCS_CLOCK_MONOTONIC,
		.desc_json = "{\"device\":\"dev0\",\"rate_hz\":100,\"layout\":\"le:u64\"}",
	};
	struct gcs_stream_def var = {
		.kind = GCS_KIND_BLE_ATT, .record_size = 0,
		.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_REALTIME,
		.desc_json = "{\"device\":\"dev1\",\"rate_hz\":100}",
	};
	uint32_t a, b;
	int ret;

	ret = gcs_writer_add_stream(w, &fixed, &a);
	if (!ret)
		ret = gcs_writer_add_stream(w, &var, &b);
	if (!ret && (a != 0 || b != 1))
		ret = -EINVAL;
	return ret;
}

int tu_put_fixed(struct gcs_writer *w, uint64_t seq, uint32_t n)
{
	struct gcs_slot *s;
	struct gcs_chunk_meta m = {
		.len = n * TU_FIXED_SIZE, .n_records = n, .first_seq = seq,
		.last_seq = seq + n - 1, .t_first_ns = tu_t(seq) + 1000,
		.t_last_ns = tu_t(seq + n - 1) + 1000,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	int ret = gcs_writer_reserve(w, 0, m.len, &s);

	if (ret)
		return ret;
	for (uint32_t i = 0; i < n; i++)
		tu_fixed_record(s->data + i * TU_FIXED_SIZE, seq + i);
	return gcs_writer_commit(w, s, &m);
}

int tu_put_var(struct gcs_writer *w, uint64_t seq, uint32_t n)
{
	struct gcs_slot *s;
	struct gcs_chunk_meta m = {
		.n_records = n, .first_seq = seq, .last_seq = seq + n - 1,
		.t_first_ns = tu_t(seq), .t_last_ns = tu_t(seq + n - 1),
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	uint8_t tmp[64];
	uint32_t cap = 0;
	int ret;

	for (uint32_t i = 0; i < n; i++)
		cap += gcs_var_rec_size(tu_var_len(seq + i));
	ret = gcs_writer_reserve(w, 1, cap + 64, &s);	/* a bit too much */
	if (ret)
		return ret;
	for (uint32_t i = 0; i < n; i++) {
		tu_var_data(tmp, seq + i);
		m.len += gcs_var_rec_put(s->data + m.len, tu_t(seq + i), tmp,
					 tu_var_len(seq + i));
	}
	return gcs_writer_commit(w, s, &m);
}

long tu_check_records(struct gcs_reader *r, size_t *lost)
{
	struct gcs_rec_iter it;
	struct gcs_record rec;
	uint8_t want[TU_FIXED_SIZE];
	long n = 0;
	int ret;

	if (lost)
		*lost = 0;
	gcs_rec_iter_init(&it, r, GCS_STREAM_NONE);
	while ((ret = gcs_rec_iter_next(&it, &rec)) != 0) {
		if (ret < 0) {
			if (ret != -EBADMSG)
				return -1;
			if (lost)
				++*lost;
			continue;
		}
		if (rec.seq == GCS_SEQ_UNKNOWN || rec.ts_source != GCS_TS_RECORD ||
		    rec.t_ns != tu_t(rec.seq))
			return -1;
		if (rec.stream == 0) {
			tu_fixed_record(want, rec.seq);
			if (rec.len != TU_FIXED_SIZE ||
			    memcmp(rec.data, want, TU_FIXED_SIZE) ||
			    rec.ts_clock != GCS_CLOCK_MONOTONIC)
				return -1;
		} else if (rec.stream == 1) {
			tu_var_data(want, rec.seq);
			if (rec.len != tu_var_len(rec.seq) ||
			    memcmp(rec.data, want, rec.len) ||
			    rec.ts_clock != GCS_CLOCK_REALTIME)
				return -1;
		} else {
			return -1;
		}
		n++;
	}
	return n;
}

int tu_small_session(const char *path, const struct gcs_writer_opts *o,
		     bool close_it)
{
	struct gcs_clock_sample c = {
		.stream = 0, .flags = GCS_CLOCKREC_F_DEVICE, .device_ns = 5,
		.mono_ns = TU_T0, .real_ns = 1700000000ll * 1000000000ll,
		.boot_ns = TU_T0 + 7, .uncertainty_ns = 1000,
	};
	struct gcs_writer_opts wo;
	struct gcs_writer *w;
	int ret;

	if (o)
		wo = *o;
	else
		gcs_writer_opts_init(&wo);
	/* Tiny chunks free nothing: compacted anyway, the cases need both copies. */
	wo.compact_all = true;
	ret = gcs_writer_create(&w, path, &wo, tu_meta);
	if (ret)
		return ret;
	ret = tu_add_streams(w);
	ret = ret ?: gcs_writer_marker(w, GCS_MARK_SESSION_START,
				       GCS_STREAM_NONE, TU_T0, 0);
	ret = ret ?: gcs_writer_clock(w, &c);
	ret = ret ?: tu_put_fixed(w, 0, 4);
	ret = ret ?: tu_put_var(w, 0, 3);
	ret = ret ?: tu_put_fixed(w, 4, 4);
	ret = ret ?: tu_put_fixed(w, 8, 130);	/* big enough to reclaim */
	ret = ret ?: tu_put_var(w, 3, 5);
	ret = ret ?: gcs_writer_sync(w);
	ret = ret ?: gcs_writer_gap(w, 0, GCS_GAP_DEVICE_OVERFLOW, 138, 139,
				    tu_t(138), tu_t(140));
	ret = ret ?: tu_put_fixed(w, 140, 3);
	ret = ret ?: gcs_writer_marker(w, GCS_MARK_EVENT, 1, tu_t(144), 42);
	ret = ret ?: tu_put_var(w, 8, 2);
	ret = ret ?: tu_put_fixed(w, 143, 1);
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

size_t tu_record_offsets(const uint8_t *buf, size_t len, uint64_t *offs,
			 size_t max)
{
	uint64_t off = GCS_DATA_START;
	size_t n = 0;

	while (off + GCS_REC_HDR_LEN <= len && n < max) {
		struct gcs_rec_hdr h;

		memcpy(&h, buf + off, sizeof(h));
		if (h.magic != GCS_REC_MAGIC || !h.size || h.size % 8)
			break;
		offs[n++] = off;
		off += h.size;
	}
	return n;
}

/* The newer header slot: its salt and incompat bits seal the records. */
static struct gcs_disk_header hdr_of(const uint8_t *buf)
{
	struct gcs_disk_header a, b;

	memcpy(&a, buf, sizeof(a));
	memcpy(&b, buf + GCS_BLOCK, sizeof(b));
	return a.generation > b.generation ? a : b;
}

void tu_fix_record(uint8_t *buf, size_t len, uint64_t off)
{
	struct gcs_disk_header fh = hdr_of(buf);
	uint32_t seed = gcs_crc32c(0, &fh.salt, sizeof(fh.salt)), crc;
	struct gcs_rec_hdr h;
	static const uint8_t zero[4];

	memcpy(&h, buf + off, sizeof(h));
	if (off + h.hdr_len + (uint64_t)h.body_len <= len)
		h.body_crc = gcs_body_sum(fh.incompat, fh.salt,
					  buf + off + h.hdr_len, h.body_len);
	h.hdr_crc = 0;
	memcpy(buf + off, &h, sizeof(h));
	if (off + h.hdr_len > len || h.hdr_len < GCS_REC_HDR_LEN)
		return;
	crc = gcs_crc32c(seed, buf + off, 28);
	crc = gcs_crc32c(crc, zero, 4);
	crc = gcs_crc32c(crc, buf + off + 32, h.hdr_len - 32);
	h.hdr_crc = crc;
	memcpy(buf + off, &h, sizeof(h));
}

void tu_fix_slot(uint8_t *buf, int i)
{
	struct gcs_disk_header h;

	memcpy(&h, buf + i * GCS_BLOCK, sizeof(h));
	h.crc = gcs_crc32c(0, &h, offsetof(struct gcs_disk_header, crc));
	memcpy(buf + i * GCS_BLOCK, &h, sizeof(h));
}
