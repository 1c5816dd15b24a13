// SPDX-License-Identifier: GPL-2.0
/*
 * The generic fd source: a file, fifo or character device read as a stream
 * of fixed-size records. Used by the tests (pipes, fifos, files) and for
 * devices that need no set-up. Spec: see eng_source_fd_create() in engine.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "engine/engine_internal.h"

#define NO_OFF	UINT32_MAX

struct src_fd {
	struct eng_source s;
	char *path;
	int fd;
	uint32_t record, batch;
	uint32_t seq_off, ts_off, dev_off;
	uint32_t stream;
};

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));	/* little-endian hosts only (gcs_format.h) */
	return v;
}

static void fd_rec_info(void *priv, const uint8_t *rec, uint32_t len,
			struct eng_rec_info *ri)
{
	struct src_fd *f = priv;

	(void)len;
	if (f->seq_off != NO_OFF)
		ri->seq = get_le64(rec + f->seq_off);
	if (f->ts_off != NO_OFF)
		ri->t_ns = (int64_t)get_le64(rec + f->ts_off);
	if (f->dev_off != NO_OFF) {
		ri->device_ns = (int64_t)get_le64(rec + f->dev_off);
		ri->has_device_ns = true;
	}
}

static int fd_start(struct eng_source *s)
{
	struct src_fd *f = s->priv;
	struct gcs_stream_def def;
	struct eng_chan_def cd;
	struct json_object *desc;
	int fl, ret;

	if (!strcmp(f->path, "-")) {
		f->fd = dup(0);
	} else {
		/* Blocking open: a fifo waits here for its writer. */
		f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (f->fd >= 0) {
			fl = fcntl(f->fd, F_GETFL);
			if (fl >= 0)
				fcntl(f->fd, F_SETFL, fl | O_NONBLOCK);
		}
	}
	if (f->fd < 0)
		return -errno;
	desc = json_object_new_object();
	if (!desc ||
	    json_object_object_add(desc, "device", json_object_new_string(s->name)) ||
	    json_object_object_add(desc, "source", json_object_new_string("fd")) ||
	    json_object_object_add(desc, "record_size", json_object_new_int64(f->record))) {
		json_object_put(desc);
		return -ENOMEM;
	}
	def = (struct gcs_stream_def){
		.kind = GCS_KIND_GENERIC, .record_size = f->record,
		.ts_offset = f->ts_off == NO_OFF ? GCS_NO_TS : f->ts_off,
		.ts_clock = f->ts_off == NO_OFF ? GCS_CLOCK_NONE :
						  GCS_CLOCK_MONOTONIC,
		.desc_json = json_object_to_json_string_ext(desc, JSON_C_TO_STRING_PLAIN),
	};
	ret = gcs_writer_add_stream(eng_writer(s->e), &def, &f->stream);
	json_object_put(desc);
	if (ret)
		return ret;
	cd = (struct eng_chan_def){
		.label = s->name, .fd = f->fd, .kind = ENG_CHAN_RECORDS,
		.stream = f->stream, .record_size = f->record,
		.batch_records = f->batch, .gap_reason = GCS_GAP_UNKNOWN,
		.has_seq = f->seq_off != NO_OFF, .rec_ts = f->ts_off != NO_OFF,
		.rec_info = fd_rec_info, .priv = f,
	};
	return eng_chan_add(s->e, s, &cd, NULL);
}

static int fd_chan_end(struct eng_source *s, struct eng_chan *c, int err)
{
	(void)s;
	(void)c;
	return err;	/* end of file is the normal end; errors stop it all */
}

static void fd_destroy(struct eng_source *s)
{
	struct src_fd *f = s->priv;

	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

static const struct eng_source_ops fd_ops = {
	.kind = "fd",
	.start = fd_start,
	.chan_end = fd_chan_end,
	.destroy = fd_destroy,
};

static int parse_u32(const char *v, uint32_t *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 0);
	if (errno || end == v || *end || n > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

/* Each field of a spec, checked; *why says what is wrong in words. */
static int parse_spec(struct src_fd *f, char *opts, const char **why)
{
	char *tok, *save, *eq;
	bool have_record = false;
	int ret;

	for (tok = strtok_r(opts, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		if (!eq) {
			*why = "each field after the path is KEY=VALUE";
			return -EINVAL;
		}
		*eq++ = '\0';
		*why = "offsets and sizes are numbers";
		if (!strcmp(tok, "record")) {
			ret = parse_u32(eq, &f->record);
			have_record = true;
		} else if (!strcmp(tok, "seq")) {
			ret = parse_u32(eq, &f->seq_off);
		} else if (!strcmp(tok, "ts")) {
			ret = parse_u32(eq, &f->ts_off);
		} else if (!strcmp(tok, "devclk")) {
			ret = parse_u32(eq, &f->dev_off);
		} else if (!strcmp(tok, "batch")) {
			ret = parse_u32(eq, &f->batch);
		} else if (!strcmp(tok, "name")) {
			*why = "name= is 1..31 characters";
			ret = *eq && strlen(eq) < sizeof(f->s.name) ?
			      (strcpy(f->s.name, eq), 0) : -EINVAL;
		} else {
			*why = "unknown field: record, seq, ts, devclk, batch, name";
			ret = -EINVAL;
		}
		if (ret)
			return ret;
	}
	/* A default record size would silently cut records into bytes. */
	if (!have_record) {
		*why = "record=N (the record size in bytes) is required";
		return -EINVAL;
	}
	if (!f->record || f->record > GCS_MAX_BODY) {
		*why = "record= must be 1..16 MiB";
		return -EINVAL;
	}
	if ((f->seq_off != NO_OFF && (f->record < 8 || f->seq_off > f->record - 8)) ||
	    (f->ts_off != NO_OFF && (f->record < 8 || f->ts_off > f->record - 8)) ||
	    (f->dev_off != NO_OFF && (f->record < 8 || f->dev_off > f->record - 8))) {
		*why = "seq=, ts= and devclk= must leave 8 bytes inside the record";
		return -EINVAL;
	}
	return 0;
}

int eng_source_fd_create(struct eng_source **sp, const char *spec)
{
	return eng_source_fd_create_why(sp, spec, NULL);
}

int eng_source_fd_create_why(struct eng_source **sp, const char *spec,
			     const char **why)
{
	const char *dummy;
	struct src_fd *f;
	char *copy, *comma;
	int ret;

	*sp = NULL;
	if (!why)
		why = &dummy;
	*why = "a source is fd:PATH,record=N[,...]";
	if (strncmp(spec, "fd:", 3) || !spec[3] || spec[3] == ',')
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	copy = strdup(spec + 3);
	if (!f || !copy) {
		free(f);
		free(copy);
		return -ENOMEM;
	}
	f->fd = -1;
	f->record = 1;
	f->seq_off = f->ts_off = f->dev_off = NO_OFF;
	snprintf(f->s.name, sizeof(f->s.name), "fd0");
	comma = strchr(copy, ',');
	if (comma)
		*comma++ = '\0';
	f->path = strdup(copy);
	if (!f->path) {
		ret = -ENOMEM;
		goto err;
	}
	ret = parse_spec(f, comma ? comma : copy + strlen(copy), why);
	if (ret)
		goto err;
	free(copy);
	f->s.ops = &fd_ops;
	f->s.priv = f;
	*sp = &f->s;
	return 0;
err:
	free(copy);
	free(f->path);
	free(f);
	return ret;
}
