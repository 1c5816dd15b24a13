// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap import moticon: a Moticon OpenGo text export into a session
 * (docs/import-moticon.md). Two passes: the first checks every line, the
 * second writes, so a malformed file never leaves half a session behind.
 *
 * Per side: a BLE ATT stream whose records are gaitcap-v1 data notifications
 * (userspace/ble/insole_gatt.h), one sample each, so that a record's sequence
 * number is the export's row number and a row without that side's sample is
 * a missing record named by a GAP; and a fixed-size stream of what the
 * vendor's software derived (total force, centre of pressure), which the
 * notification layout has no room for.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "ble/insole_gatt.h"
#include "gaitcap/gaitcap.h"
#include "qc/import.h"
#include "qc/moticon.h"
#include "session/gcsession.h"

#define CHUNK_RECS	100
#define PDU_LEN		(3 + INSOLE_DATA_HDR + INSOLE_SAMPLE_SIZE)

struct side_out {
	bool on;
	uint32_t att, der;		/* stream ids */
	uint64_t next_seq;		/* row expected next */
	int64_t miss_t0, last_t;	/* first missing row's time, last sample's */
	bool missing;
	uint64_t miss_first;
	/* chunk being filled */
	uint32_t n;
	uint64_t first_seq;
	int64_t t_first, t_last;
	uint32_t att_len;
	uint8_t att_buf[CHUNK_RECS * 80];
	uint8_t der_buf[CHUNK_RECS * MOT_DERIVED_SIZE];
};

struct imp {
	struct mot_parser p;
	struct gcs_writer *w;
	struct import_report *rep;
	struct side_out s[2];
	uint32_t period_us;
	int64_t prev_t;
	/*
	 * The session's timeline (host CLOCK_MONOTONIC in the format) is the
	 * recording's clock shifted to end just before the import ran, so the
	 * writer's own SESSION_END stamp comes after the data; CLOCK records
	 * map one onto the other.
	 */
	int64_t base;
};

static void le16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *b, uint32_t v)
{
	le16(b, (uint16_t)v);
	le16(b + 2, (uint16_t)(v >> 16));
}

static void le64(uint8_t *b, uint64_t v)
{
	le32(b, (uint32_t)v);
	le32(b + 4, (uint32_t)(v >> 32));
}

static void lef32(uint8_t *b, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	le32(b, u);
}

/* A value as a code of @step; counts it when it is off the grid. */
static long code(struct imp *m, double v, double step)
{
	double c = v / step;
	long r = lround(c);

	if (fabs(c - (double)r) > 0.01)
		m->rep->inexact++;
	return r;
}

/* Each line of @f through the parser; @fn gets each data row. */
static int each_row(struct imp *m, FILE *f,
		    int (*fn)(struct imp *m, const struct mot_row *row))
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct mot_row row;
	int ret = 0;

	while ((n = getline(&line, &cap, f)) >= 0) {
		bool ended = n && line[n - 1] == '\n';

		if (ended)
			n--;
		ret = mot_parser_line(&m->p, line, (size_t)n, &row);
		/* A copy cut inside its last row: keep the rows before it. */
		if (ret == -EINVAL && !ended && m->p.rows && line[0] != '#') {
			m->rep->cut_line = m->p.line_no;
			ret = 0;
			break;
		}
		if (ret < 0)
			break;
		if (ret == 1) {
			ret = fn(m, &row);
			if (ret < 0)
				break;
		}
		ret = 0;
	}
	if (!ret && ferror(f))
		ret = -errno ? -errno : -EIO;
	free(line);
	if (!ret)
		ret = mot_parser_finish(&m->p);
	return ret;
}

/* Pass 1: the shortest row interval is the sampling period. */
static int check_row(struct imp *m, const struct mot_row *row)
{
	int64_t dt = row->t_ns - m->prev_t;

	m->prev_t = row->t_ns;
	if (!row->index)
		return 0;
	if (dt > 0 && (!m->period_us || dt / 1000 < m->period_us))
		m->period_us = (uint32_t)(dt / 1000 > 65535 ? 65535 : dt / 1000);
	return 0;
}

static int flush(struct imp *m, int k)
{
	struct side_out *s = &m->s[k];
	struct gcs_chunk_meta cm = {
		.n_records = s->n, .first_seq = s->first_seq,
		.last_seq = s->first_seq + s->n - 1,
		.t_first_ns = m->base + s->t_first, .t_last_ns = m->base + s->t_last,
		.flags = GCS_CHUNK_F_CONTIGUOUS,
	};
	int ret;

	if (!s->n)
		return 0;
	cm.len = s->att_len;
	ret = gcs_writer_write_chunk(m->w, s->att, s->att_buf, &cm);
	if (!ret) {
		cm.len = s->n * MOT_DERIVED_SIZE;
		ret = gcs_writer_write_chunk(m->w, s->der, s->der_buf, &cm);
	}
	s->n = 0;
	s->att_len = 0;
	return ret;
}

static int end_missing(struct imp *m, int k, int64_t t_end)
{
	struct side_out *s = &m->s[k];
	int ret;

	if (!s->missing)
		return 0;
	s->missing = false;
	ret = gcs_writer_gap(m->w, s->att, GCS_GAP_UNKNOWN, s->miss_first,
			     s->next_seq - 1, m->base + s->miss_t0,
			     m->base + t_end);
	if (!ret)
		ret = gcs_writer_gap(m->w, s->der, GCS_GAP_UNKNOWN, s->miss_first,
				     s->next_seq - 1, m->base + s->miss_t0,
			     m->base + t_end);
	if (!ret)
		m->rep->gaps[k]++;
	return ret;
}

static void put_sample(struct imp *m, int k, const struct mot_row *row)
{
	struct side_out *s = &m->s[k];
	const struct mot_side *d = &row->side[k];
	uint8_t pdu[PDU_LEN] = { 0 };
	uint8_t *v = pdu + 3, *smp = v + INSOLE_DATA_HDR;
	uint8_t *der = s->der_buf + (size_t)s->n * MOT_DERIVED_SIZE;
	uint32_t flags = 0;

	pdu[0] = 0x1b;		/* ATT Handle Value Notification */
	le16(pdu + 1, MOT_ATT_HANDLE);
	v[INSOLE_DATA_OFF_VERSION] = INSOLE_DATA_VERSION;
	v[INSOLE_DATA_OFF_N] = 1;
	le16(v + INSOLE_DATA_OFF_FLAGS, 0);
	le32(v + INSOLE_DATA_OFF_SEQ, (uint32_t)row->index);
	/* The insole clock is a u32 of microseconds: it wraps, as devices do. */
	le32(v + INSOLE_DATA_OFF_T_US, (uint32_t)(uint64_t)(row->t_ns / 1000));
	le16(v + INSOLE_DATA_OFF_PERIOD, (uint16_t)m->period_us);
	for (int c = 0; c < INSOLE_CELLS; c++)
		le16(smp + 2 * c, (uint16_t)code(m, d->cell[c], MOT_NCM2_PER_CODE));
	if (d->have & MOT_HAVE_IMU) {
		for (int a = 0; a < 3; a++) {
			le16(smp + 32 + 2 * a,
			     (uint16_t)(int16_t)code(m, d->acc[a], MOT_G_PER_CODE));
			le16(smp + 38 + 2 * a,
			     (uint16_t)(int16_t)code(m, d->gyro[a], MOT_DPS_PER_CODE));
		}
	}
	if (!s->n) {
		s->first_seq = row->index;
		s->t_first = row->t_ns;
	}
	s->t_last = row->t_ns;
	s->att_len += gcs_var_rec_put(s->att_buf + s->att_len, row->t_ns, pdu,
				      sizeof(pdu));
	if (d->have & MOT_HAVE_FORCE)
		flags |= MOT_DERIVED_F_FORCE;
	if (d->have & MOT_HAVE_COP)
		flags |= MOT_DERIVED_F_COP;
	memset(der, 0, MOT_DERIVED_SIZE);
	le64(der, (uint64_t)row->t_ns);
	le32(der + 8, (uint32_t)row->index);
	le32(der + 12, flags);
	lef32(der + 16, d->have & MOT_HAVE_FORCE ? d->force : 0);
	lef32(der + 20, d->have & MOT_HAVE_COP ? d->cop[0] : 0);
	lef32(der + 24, d->have & MOT_HAVE_COP ? d->cop[1] : 0);
	s->n++;
}

/* Pass 2: samples into chunks, empty samples into gaps, events into markers. */
static int write_row(struct imp *m, const struct mot_row *row)
{
	int ret = 0;

	for (int k = 0; k < 2 && !ret; k++) {
		struct side_out *s = &m->s[k];
		const struct mot_side *d = &row->side[k];
		bool have = (d->have & MOT_HAVE_CELLS) && !(d->have & MOT_PARTIAL) &&
			    (!(m->p.side_cols[k] & MOT_HAVE_IMU) || (d->have & MOT_HAVE_IMU));

		if (d->has_event) {
			ret = gcs_writer_marker(m->w, GCS_MARK_EVENT,
						s->on ? s->att : GCS_STREAM_NONE,
						m->base + row->t_ns, d->event);
			m->rep->events[k]++;
		}
		if (!s->on || ret)
			continue;
		if (!have) {
			if (d->have & MOT_PARTIAL)
				m->rep->partial[k]++;
			m->rep->missing[k]++;
			if (!s->missing) {
				ret = flush(m, k);
				s->missing = true;
				s->miss_first = row->index;
				s->miss_t0 = row->t_ns;
			}
			s->next_seq = row->index + 1;
			continue;
		}
		ret = end_missing(m, k, row->t_ns);
		if (ret)
			break;
		put_sample(m, k, row);
		m->rep->samples[k]++;
		s->next_seq = row->index + 1;
		if (s->n == CHUNK_RECS)
			ret = flush(m, k);
	}
	return ret;
}

static int jadd(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v || json_object_object_add(o, k, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_side(struct imp *m, int k)
{
	static const char *const sides[2] = { "left", "right" };
	const struct mot_header *h = &m->p.hdr;
	struct json_object *d = json_object_new_object();
	char dev[32];
	struct gcs_stream_def def = {
		.kind = GCS_KIND_BLE_ATT, .record_size = 0,
		.ts_offset = GCS_NO_TS, .ts_clock = GCS_CLOCK_DEVICE,
	};
	int ret = -ENOMEM;
	uint32_t rate = m->period_us ? (uint32_t)lround(1e6 / m->period_us) : 0;

	snprintf(dev, sizeof(dev), "insole_%s", sides[k]);
	if (!d || jadd(d, "device", json_object_new_string(dev)) ||
	    jadd(d, "side", json_object_new_string(sides[k])) ||
	    jadd(d, "profile", json_object_new_string("gaitcap-v1")) ||
	    jadd(d, "model", json_object_new_string("moticon-opengo")) ||
	    jadd(d, "source", json_object_new_string("moticon-text-export")) ||
	    (*h->serial[k] && jadd(d, "serial", json_object_new_string(h->serial[k]))) ||
	    (*h->size && jadd(d, "insole_size", json_object_new_string(h->size))) ||
	    jadd(d, "rate_hz", json_object_new_int64(rate)) ||
	    jadd(d, "att_handle", json_object_new_int64(MOT_ATT_HANDLE)) ||
	    jadd(d, "cells", json_object_new_int64(INSOLE_CELLS)) ||
	    jadd(d, "kpa_per_code", json_object_new_double_s(0.1, "0.1")) ||
	    jadd(d, "g_per_code", json_object_new_double_s(MOT_G_PER_CODE, "0.00048828125")) ||
	    jadd(d, "dps_per_code", json_object_new_double_s(MOT_DPS_PER_CODE, "0.07")) ||
	    jadd(d, "full_scale_code", json_object_new_int64(65535)) ||
	    jadd(d, "imu", json_object_new_boolean(!!(m->p.side_cols[k] & MOT_HAVE_IMU))) ||
	    jadd(d, "timestamp", json_object_new_string("recording_clock")))
		goto out;
	def.desc_json = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
	ret = gcs_writer_add_stream(m->w, &def, &m->s[k].att);
	if (ret)
		goto out;
	json_object_object_del(d, "profile");
	json_object_object_del(d, "att_handle");
	json_object_object_del(d, "kpa_per_code");
	json_object_object_del(d, "g_per_code");
	json_object_object_del(d, "dps_per_code");
	json_object_object_del(d, "full_scale_code");
	json_object_object_del(d, "imu");
	json_object_object_del(d, "cells");
	snprintf(dev, sizeof(dev), "insole_%s_derived", sides[k]);
	if (jadd(d, "device", json_object_new_string(dev)) ||
	    jadd(d, "layout", json_object_new_string("moticon-derived-v1")) ||
	    jadd(d, "of_stream", json_object_new_int64(m->s[k].att)) ||
	    jadd(d, "force_unit", json_object_new_string("N")) ||
	    jadd(d, "cop_unit", json_object_new_string("-0.5..+0.5"))) {
		ret = -ENOMEM;
		goto out;
	}
	def = (struct gcs_stream_def){
		.kind = GCS_KIND_GENERIC, .record_size = MOT_DERIVED_SIZE,
		.ts_offset = 0, .ts_clock = GCS_CLOCK_DEVICE,
		.desc_json = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN),
	};
	ret = gcs_writer_add_stream(m->w, &def, &m->s[k].der);
	m->s[k].on = !ret;
out:
	json_object_put(d);
	return ret;
}

static char *session_meta(const struct imp *m, const struct import_opts *o)
{
	const struct mot_header *h = &m->p.hdr;
	struct json_object *s = json_object_new_object(), *devs = json_object_new_array();
	char *out = NULL;

	if (!s || !devs)
		goto out;
	for (int k = 0; k < 2; k++) {
		struct json_object *d = json_object_new_object();

		if (!m->p.side_cols[k])
			continue;
		if (!d || json_object_array_add(devs, d)) {
			json_object_put(d);
			goto out;
		}
		if (jadd(d, "id", json_object_new_string(k ? "insole_right" : "insole_left")) ||
		    jadd(d, "kind", json_object_new_string("insole")))
			goto out;
	}
	if (jadd(s, "subject", json_object_new_string(o->subject)) ||
	    jadd(s, "task", json_object_new_string(o->keep_labels && *h->label ?
						    h->label : "moticon_import")) ||
	    jadd(s, "appliance", json_object_new_string("import")) ||
	    jadd(s, "software", json_object_new_string("gaitcap-" GAITCAP_VERSION)) ||
	    jadd(s, "protocol", json_object_new_string("moticon-opengo")) ||
	    (o->keep_labels && *h->tag &&
	     jadd(s, "condition", json_object_new_string(h->tag))) ||
	    jadd(s, "devices", json_object_get(devs)))
		goto out;
	out = strdup(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(devs);
	json_object_put(s);
	return out;
}

static int write_session(struct imp *m, FILE *f, const char *out,
			 const struct import_opts *o, char *err, size_t errlen)
{
	struct gcs_writer_opts wo;
	char *meta = session_meta(m, o);
	const char *why = NULL;
	struct gcs_clock_sample c = { 0 };
	struct timespec now;
	int ret;

	if (!meta)
		return -ENOMEM;
	if (gcs_meta_check(meta, true, &why)) {
		snprintf(err, errlen, "the session metadata breaks the privacy policy: %s",
			 why ? why : "?");
		free(meta);
		return -EINVAL;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	m->base = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
		  m->p.last_t_ns - 2 * (int64_t)m->period_us * 1000;
	if (m->base < 0)
		m->base = 0;
	gcs_writer_opts_init(&wo);
	wo.grow_step = 1 << 20;
	ret = gcs_writer_create(&m->w, out, &wo, meta);
	free(meta);
	if (ret) {
		snprintf(err, errlen, "%s: %s", out, gcs_strerror(ret));
		return ret;
	}
	for (int k = 0; k < 2 && !ret; k++)
		if (m->p.side_cols[k] & MOT_HAVE_CELLS)
			ret = add_side(m, k);
	/* The recording's start: the only absolute date kept (docs). */
	c.stream = GCS_STREAM_NONE;
	c.mono_ns = c.boot_ns = m->base;
	c.real_ns = m->p.hdr.start_ms * 1000000;
	if (!ret && m->p.hdr.have_start)
		ret = gcs_writer_clock(m->w, &c);
	if (!ret)
		ret = gcs_writer_marker(m->w, GCS_MARK_SESSION_START, GCS_STREAM_NONE,
					m->base, 0);
	mot_parser_init(&m->p, o->keep_labels);
	if (!ret)
		ret = each_row(m, f, write_row);
	for (int k = 0; k < 2 && !ret; k++) {
		if (!m->s[k].on)
			continue;
		ret = flush(m, k);
		if (!ret)
			ret = end_missing(m, k, m->p.last_t_ns);
		/* One clock: the device's is the session's timeline. */
		c = (struct gcs_clock_sample){
			.stream = m->s[k].att, .flags = GCS_CLOCKREC_F_DEVICE,
		};
		for (int e = 0; e < 2 && !ret; e++) {
			c.device_ns = e ? m->p.last_t_ns : 0;
			c.mono_ns = c.boot_ns = m->base + c.device_ns;
			c.real_ns = m->p.hdr.start_ms * 1000000 + c.device_ns;
			ret = gcs_writer_clock(m->w, &c);
		}
	}
	if (ret) {
		snprintf(err, errlen, "%s: writing: %s", out, gcs_strerror(ret));
		gcs_writer_abort(m->w);
		unlink(out);
		return ret;
	}
	ret = gcs_writer_close(m->w);
	if (ret) {
		snprintf(err, errlen, "%s: closing: %s", out, gcs_strerror(ret));
		unlink(out);
	}
	return ret;
}

int import_moticon(const char *in, const char *out,
		   const struct import_opts *o, struct import_report *rep,
		   char *err, size_t errlen)
{
	struct imp *m = calloc(1, sizeof(*m));
	struct stat sb;
	FILE *f;
	int fd, ret;

	memset(rep, 0, sizeof(*rep));
	if (!m)
		return -ENOMEM;
	m->rep = rep;
	/* Non-blocking: a FIFO with no writer must not hang the open. */
	fd = open(in, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", in, strerror(-ret));
		goto out_fd;
	}
	if (!S_ISREG(sb.st_mode)) {
		ret = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, errlen, "%s: %s", in, S_ISDIR(sb.st_mode) ? strerror(EISDIR) :
			 "not a regular file: the import reads it twice (check, then write)");
		goto out_fd;
	}
	f = fdopen(fd, "r");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", in, strerror(-ret));
		goto out_fd;
	}
	mot_parser_init(&m->p, o->keep_labels);
	ret = each_row(m, f, check_row);
	if (ret) {
		snprintf(err, errlen, "%s: %s", in, ret == -EINVAL || ret == -E2BIG ?
			 m->p.err : strerror(-ret));
		if (ret == -E2BIG)
			ret = -EINVAL;
		goto out_close;
	}
	if (!m->period_us)
		m->period_us = 10000;	/* a single row: the OpenGo's 100 Hz */
	rep->rows = m->p.rows;
	rep->period_us = m->period_us;
	rep->dropped_notes = m->p.hdr.has_notes;
	rep->unknown_fields = m->p.hdr.unknown_fields;
	rewind(f);
	ret = write_session(m, f, out, o, err, errlen);
out_close:
	fclose(f);
	goto out;
out_fd:
	if (fd >= 0)
		close(fd);
out:
	free(m);
	return ret;
}
