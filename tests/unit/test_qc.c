// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap qc (docs/qc.md): every check seen passing and failing on crafted
 * input (a gaitcap-v1 insole session written here, one fault at a time,
 * and refine folders written by hand), on `gaitcap synth` sessions with and
 * without lost scans, and on the imported Moticon fixture; exit statuses,
 * JSON, and clinical observations that never fail a session.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cairo/cairo.h>
#include <cmocka.h>
#include <fontconfig/fontconfig.h>
#include <json-c/json.h>

#include "ble/insole_gatt.h"
#include "gaitcap/gaitcap.h"
#include "qc/qc.h"
#include "session/gcsession.h"
#include "test_session_util.h"

#define FIXTURE TOP_DIR "/tests/fixtures/moticon-opengo/walk_data_with_events.txt"
#define NS 1000000000ll

/* One fault of a crafted insole session (zero: a clean one). */
struct craft {
	double drop_pct;	/* samples never sent */
	double jitter_ms;	/* on the insole clock */
	double clock_noise_ms;	/* on the clock records */
	double sat_pct;		/* loaded samples with a cell at full scale */
	double flat_s;		/* identical loaded samples */
	double offset_frac;	/* unloaded level / loaded level */
	double clock_unc_ms;	/* what the clock records say of themselves */
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

/* A deterministic stand-in for noise: a hash of the sample number. */
static double noise(uint64_t i)
{
	uint64_t z = i * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
	return (double)(z >> 11) / (double)(1ull << 53) - 0.5;
}

/* 30 s of a left insole at 100 Hz: 0.6 s stance, 0.4 s swing. */
static void craft_session(const char *path, const struct craft *c)
{
	const unsigned int n = 3000, full = 4000;
	const uint32_t len = 3 + INSOLE_DATA_HDR + INSOLE_SAMPLE_SIZE;
	struct gcs_stream_def d = {
		.kind = GCS_KIND_BLE_ATT, .ts_offset = GCS_NO_TS,
		.ts_clock = GCS_CLOCK_MONOTONIC,
		.desc_json = "{\"device\":\"insole0\",\"side\":\"left\",\"profile\":\"gaitcap-v1\","
			     "\"rate_hz\":100,\"full_scale_code\":4000,\"kpa_per_code\":0.25}",
	};
	struct gcs_writer_opts o;
	struct gcs_writer *w;
	uint32_t id;
	uint8_t *buf = malloc(100 * gcs_var_rec_size(len)), pdu[256];
	uint64_t flat_from = 1020, flat_n = (uint64_t)(c->flat_s * 100);
	int64_t t0 = 1000 * NS;

	assert_non_null(buf);
	/* Compacted whatever it frees: the cut below needs copies at the tail. */
	gcs_writer_opts_init(&o);
	o.compact_all = true;
	assert_int_equal(gcs_writer_create(&w, path, &o,
		"{\"subject\":\"LAB-01\",\"task\":\"walk\",\"appliance\":\"t\",\"software\":\"t\"}"), 0);
	assert_int_equal(gcs_writer_add_stream(w, &d, &id), 0);
	for (unsigned int s = 0; s <= 30; s++) {
		double noise_ms = c->clock_noise_ms * (s % 2 ? 1 : -1) * (0.5 + noise(s + 7));
		struct gcs_clock_sample cs = {
			.stream = id, .flags = GCS_CLOCKREC_F_DEVICE,
			/* 30 ppm fast, plus the fault */
			.device_ns = (int64_t)(s * 1e9 * (1 + 30e-6) + noise_ms * 1e6),
			.mono_ns = t0 + s * NS, .real_ns = t0 + s * NS, .boot_ns = t0 + s * NS,
			.uncertainty_ns = (int64_t)(c->clock_unc_ms * 1e6),
		};

		assert_int_equal(gcs_writer_clock(w, &cs), 0);
	}
	for (unsigned int c0 = 0; c0 < n; c0 += 100) {
		struct gcs_chunk_meta m = { 0 };

		for (unsigned int i = c0; i < c0 + 100; i++) {
			uint8_t *v = pdu + 3, *smp = v + INSOLE_DATA_HDR;
			double ph = fmod(i / 100.0, 1.0), load;
			uint64_t src = i;
			int64_t t = t0 + (int64_t)i * 10000000;

			if (c->drop_pct > 0 && fmod(i, 100.0 / c->drop_pct) < 1)
				continue;
			/* a stuck sensor: the same sample again and again */
			if (flat_n && i >= flat_from && i < flat_from + flat_n)
				src = flat_from;
			ph = fmod(src / 100.0, 1.0);
			load = ph < 0.6 ? sin(ph / 0.6 * M_PI) : 0;
			load = c->offset_frac + (1 - c->offset_frac) * load;
			pdu[0] = 0x1b;
			le16(pdu + 1, 0x2a);
			v[INSOLE_DATA_OFF_VERSION] = INSOLE_DATA_VERSION;
			v[INSOLE_DATA_OFF_N] = 1;
			le16(v + INSOLE_DATA_OFF_FLAGS, 0);
			le32(v + INSOLE_DATA_OFF_SEQ, i);
			le32(v + INSOLE_DATA_OFF_T_US, (uint32_t)(5000000 + i * 10000 +
					(int64_t)(c->jitter_ms * 1000 * 2 * noise(i))));
			le16(v + INSOLE_DATA_OFF_PERIOD, 10000);
			for (int k = 0; k < INSOLE_CELLS; k++)
				le16(smp + 2 * k, (uint16_t)(load * 2000 * (1 + 0.02 * noise(src * 16 + k)) +
							     (load > 0.05 ? 10 : 0)));
			if (c->sat_pct > 0 && load > 0.1 && fmod(i, 100.0 / c->sat_pct) < 1)
				le16(smp, full);
			for (int a = 0; a < 6; a++)
				le16(smp + 32 + 2 * a, (uint16_t)(int16_t)(1000 * noise(src * 6 + a + 99)));
			m.len += gcs_var_rec_put(buf + m.len, t + 3000000, pdu, len);
			if (!m.n_records++) {
				m.t_first_ns = t + 3000000;
				m.first_seq = i;
			}
			m.t_last_ns = t + 3000000;
			m.last_seq = i;
		}
		/* Record sequence numbers follow the samples: no flag, gaps allowed. */
		m.flags = m.last_seq - m.first_seq + 1 == m.n_records ? GCS_CHUNK_F_CONTIGUOUS : 0;
		if (m.n_records)
			assert_int_equal(gcs_writer_write_chunk(w, id, buf, &m), 0);
	}
	assert_int_equal(gcs_writer_close(w), 0);
	free(buf);
}

static const struct qc_check *find(const struct qc_result *r, const char *id,
				   const char *scope)
{
	for (size_t i = 0; i < r->n_checks; i++)
		if (!strcmp(r->check[i].id, id) &&
		    (!scope || !strcmp(r->check[i].scope, scope)))
			return &r->check[i];
	fail_msg("no check %s of %s", id, scope ? scope : "any");
	return NULL;
}

static void run_qc(const char *path, struct qc_result *r)
{
	char err[256];

	assert_int_equal(qc_run(path, r, err, sizeof(err)), 0);
}

/* Each fault makes exactly its own check fail; the clean session passes all. */
static void test_qc_each_check_passes_and_fails(void **state)
{
	static const struct {
		const char *id;
		struct craft c;
	} faults[] = {
		{ "packet_loss", { .drop_pct = 5 } },
		{ "timestamp_jitter", { .jitter_ms = 4 } },
		{ "clock_residual", { .clock_noise_ms = 30 } },
		{ "saturation", { .sat_pct = 10 } },
		{ "flat_line", { .flat_s = 2 } },
		{ "zero_offset", { .offset_frac = 0.5 } },
	};
	struct tu_dir *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char *clean = tu_path(f->dir, "clean.gcs");

	assert_non_null(r);
	craft_session(clean, &(struct craft){ 0 });
	run_qc(clean, r);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		const struct qc_check *c = find(r, faults[i].id, "insole0");

		if (c->status != QC_PASS)
			fail_msg("clean: %s is %s (%g %s: %s)", c->id, qc_status_name(c->status),
				 c->value, c->unit, c->why);
	}
	assert_int_equal(r->overall, QC_PASS);
	qc_result_free(r);
	free(clean);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char name[64], *p;

		snprintf(name, sizeof(name), "%s.gcs", faults[i].id);
		p = tu_path(f->dir, name);
		craft_session(p, &faults[i].c);
		run_qc(p, r);
		for (size_t j = 0; j < sizeof(faults) / sizeof(faults[0]); j++) {
			const struct qc_check *c = find(r, faults[j].id, "insole0");
			int want = i == j ? QC_FAIL : QC_PASS;

			if (c->status != want)
				fail_msg("fault %s: %s is %s, expected %s (%g %s: %s)",
					 faults[i].id, c->id, qc_status_name(c->status),
					 qc_status_name(want), c->value, c->unit, c->why);
		}
		assert_int_equal(r->overall, QC_FAIL);
		qc_result_free(r);
		free(p);
	}
	/* The same scatter from records that say they are only good to 40 ms. */
	craft_session(clean = tu_path(f->dir, "unc.gcs"),
		      &(struct craft){ .clock_noise_ms = 30, .clock_unc_ms = 40 });
	run_qc(clean, r);
	assert_int_equal(find(r, "clock_residual", "insole0")->status, QC_PASS);
	assert_int_equal(find(r, "clock_residual", "insole0")->fail, 40);
	qc_result_free(r);
	free(clean);
	free(r);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char *p = tu_path(dir, name);

	assert_int_equal(tu_write_file(p, text, strlen(text)), 0);
	free(p);
}

/* strides.tsv with @n valid strides per side (and two invalid ones). */
static void write_strides(const char *dir, int n)
{
	char buf[8192];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "side\tstride\tt_ic_s\tstride_s\tvalid\n");

	for (int k = 0; k < 2 * n + 4; k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\t%d\t%.2f\t1.05\t%d\n",
					k % 2 ? "right" : "left", k / 2, k * 0.55, k >= 4);
	write_text(dir, "strides.tsv", buf);
}

/* events.tsv: insole and mat initial contacts, the mat's scattered by @ms. */
static void write_events(const char *dir, double ms)
{
	char buf[16384];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "t_s\tside\tevent\tsource\n");

	for (int k = 0; k < 20; k++) {
		double t = 1 + k * 0.55, d = 0.005 + ms / 1000 * (k % 2 ? 1 : -1) * (k % 3) / 2;

		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"%.4f\t%s\tIC\tinsole\n%.4f\t%s\tTO\tinsole\n%.4f\t%s\tIC\tmat\n",
					t, k % 2 ? "right" : "left", t + 0.65,
					k % 2 ? "right" : "left", t + d, k % 2 ? "right" : "left");
	}
	write_text(dir, "events.tsv", buf);
}

static void test_qc_refine_folder_checks(void **state)
{
	struct tu_dir *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char *sess = tu_path(f->dir, "refined.gcs");

	assert_non_null(r);
	craft_session(sess, &(struct craft){ 0 });
	write_strides(f->dir, 12);
	write_events(f->dir, 2);
	write_text(f->dir, "parameters.json",
		   "{\"insole\":{\"left\":{\"stride_s\":{\"mean\":1.05,\"sd\":0.02,\"n\":12},"
		   "\"stance_s\":{\"mean\":0.63,\"sd\":0.02,\"n\":12}},"
		   "\"right\":{\"stride_s\":{\"mean\":1.05,\"sd\":0.02,\"n\":12},"
		   "\"stance_s\":{\"mean\":0.64,\"sd\":0.02,\"n\":12}},"
		   "\"cadence_steps_per_min\":114},\"mat\":{\"velocity_m_s\":1.2,"
		   "\"step_length_m\":{\"mean\":0.63,\"sd\":0.02,\"n\":20}}}");
	run_qc(f->dir, r);
	assert_string_equal(r->input, "refine");
	assert_int_equal(find(r, "valid_strides", "left")->status, QC_PASS);
	assert_int_equal(find(r, "valid_strides", "left")->value, 12);
	assert_int_equal(find(r, "insole_mat_agreement", NULL)->status, QC_PASS);
	assert_int_equal(find(r, "cadence", NULL)->status, QC_NOTE);
	assert_non_null(strstr(find(r, "cadence", NULL)->why, "usual range"));
	assert_non_null(r->params);
	assert_int_equal(r->overall, QC_PASS);
	qc_result_free(r);
	/* Refine's layout: insole and mat strides in one file, counted apart. */
	write_text(f->dir, "strides.tsv",
		   "source\tside\tic_s\tstride_s\tused\tflags\n"
		   "insole\tleft\t1.0\t1.05\t1\t0x000\ninsole\tleft\t2.0\t1.05\t0\t0x004\n"
		   "mat\tright\t1.5\t1.06\t1\t0x000\nmat\tright\t2.5\t1.06\t1\t0x000\n");
	run_qc(f->dir, r);
	assert_int_equal(find(r, "valid_strides", "insole left")->value, 1);
	assert_int_equal(find(r, "valid_strides", "insole right")->value, 0);
	assert_int_equal(find(r, "valid_strides", "mat right")->value, 2);
	qc_result_free(r);
	/* Too few strides, insole and mat disagreeing: both fail. */
	write_strides(f->dir, 2);
	write_events(f->dir, 120);
	run_qc(f->dir, r);
	assert_int_equal(find(r, "valid_strides", "right")->status, QC_FAIL);
	assert_int_equal(find(r, "insole_mat_agreement", NULL)->status, QC_FAIL);
	assert_int_equal(r->overall, QC_FAIL);
	qc_result_free(r);
	free(sess);
	free(r);
}

/* Slow, asymmetric, shuffling: reported as such, and the session passes. */
static void test_qc_clinical_outliers_never_fail(void **state)
{
	struct tu_dir *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char *sess = tu_path(f->dir, "refined.gcs");

	assert_non_null(r);
	craft_session(sess, &(struct craft){ 0 });
	write_strides(f->dir, 12);
	write_events(f->dir, 2);
	write_text(f->dir, "parameters.json",
		   "{\"insole\":{\"left\":{\"stance_s\":{\"mean\":0.9,\"sd\":0.05,\"n\":12}},"
		   "\"right\":{\"stance_s\":{\"mean\":1.3,\"sd\":0.05,\"n\":12}},"
		   "\"cadence_steps_per_min\":52},\"mat\":{\"velocity_m_s\":0.25,"
		   "\"step_length_m\":{\"mean\":0.21,\"sd\":0.02,\"n\":20}}}");
	run_qc(f->dir, r);
	assert_non_null(strstr(find(r, "cadence", NULL)->why, "slow cadence"));
	assert_non_null(strstr(find(r, "velocity", NULL)->why, "very slow"));
	assert_non_null(strstr(find(r, "stance_asymmetry", NULL)->why, "asymmetric"));
	assert_non_null(strstr(find(r, "step_length", NULL)->why, "shuffling"));
	for (size_t i = 0; i < r->n_checks; i++)
		assert_int_not_equal(r->check[i].status, QC_FAIL);
	assert_int_equal(r->overall, QC_PASS);
	qc_result_free(r);
	free(sess);
	free(r);
}

/*
 * refined.gcs as gaitcap refine writes it: fixed records described field
 * by field. A calibrated left insole, and a copy whose force is stuck.
 */
static void craft_refined(const char *path, bool stuck)
{
	struct gcs_stream_def d = {
		.kind = GCS_KIND_GENERIC, .record_size = 96, .ts_offset = 0,
		.ts_clock = GCS_CLOCK_MONOTONIC,
		.desc_json = "{\"device\":\"refined-insole0\",\"side\":\"left\",\"record\":"
			     "[\"t_ns:le:s64\",\"device_us:le:u64\",\"seq:le:u32\",\"flags:le:u32\","
			     "\"force_n:le:f32\",\"cells_kpa:16xle:f32\",\"pad:4\"]}",
	};
	struct gcs_writer *w;
	uint8_t buf[100 * 96];
	uint32_t id;

	assert_int_equal(gcs_writer_create(&w, path, NULL,
		"{\"subject\":\"LAB-01\",\"task\":\"walk\",\"appliance\":\"t\",\"software\":\"t\"}"), 0);
	assert_int_equal(gcs_writer_add_stream(w, &d, &id), 0);
	for (unsigned int c0 = 0; c0 < 2000; c0 += 100) {
		struct gcs_chunk_meta m = {
			.len = sizeof(buf), .n_records = 100, .first_seq = c0,
			.last_seq = c0 + 99, .t_first_ns = 1000 * NS + c0 * 10000000ll,
			.t_last_ns = 1000 * NS + (c0 + 99) * 10000000ll,
			.flags = GCS_CHUNK_F_CONTIGUOUS,
		};

		memset(buf, 0, sizeof(buf));
		for (unsigned int i = 0; i < 100; i++) {
			uint8_t *r = buf + 96 * i;
			unsigned int j = stuck && c0 + i >= 500 && c0 + i < 700 ? 520 : c0 + i;
			double ph = fmod(j / 100.0, 1.0);
			float force = ph < 0.6 ? (float)(700 * sin(ph / 0.6 * M_PI) + 5 * noise(j)) : 0;
			int64_t t = 1000 * NS + (int64_t)(c0 + i) * 10000000;

			memcpy(r, &t, 8);
			le32(r + 16, c0 + i);
			memcpy(r + 24, &force, 4);
			for (int k = 0; k < 16; k++) {
				float kpa = force / 16 * (1 + 0.1f * (float)(k / 2));

				memcpy(r + 28 + 4 * k, &kpa, 4);
			}
		}
		assert_int_equal(gcs_writer_write_chunk(w, id, buf, &m), 0);
	}
	assert_int_equal(gcs_writer_close(w), 0);
}

static void test_qc_refined_streams(void **state)
{
	struct tu_dir *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char *sess = tu_path(f->dir, "refined.gcs");

	assert_non_null(r);
	craft_refined(sess, false);
	run_qc(f->dir, r);
	assert_int_equal(find(r, "packet_loss", "refined-insole0")->status, QC_PASS);
	assert_int_equal(find(r, "flat_line", "refined-insole0")->status, QC_PASS);
	assert_int_equal(find(r, "zero_offset", "refined-insole0")->status, QC_PASS);
	assert_int_equal(find(r, "saturation", "refined-insole0")->status, QC_NA);
	assert_int_equal(r->side[0].load.n, 2000);
	assert_string_equal(r->side[0].load_unit, "N");
	assert_true(r->side[0].cop.n > 1000);
	/* 20 strides: the first (range not yet known) left out of the step plot. */
	assert_int_equal(r->side[0].steps.n, 19);
	assert_int_equal(r->side[0].steps.n_keep, 19);
	assert_true(fabs(r->side[0].steps.sum[50] / 19 - 700) < 10);
	assert_true(fabs(r->side[0].load.y_max - 700) < 10);
	assert_true(r->side[0].load.nbins <= QC_ENV_BINS);
	qc_result_free(r);
	unlink(sess);
	craft_refined(sess, true);
	run_qc(f->dir, r);
	assert_int_equal(find(r, "flat_line", "refined-insole0")->status, QC_FAIL);
	qc_result_free(r);
	free(sess);
	free(r);
}

/* A refine folder with files missing: what is missing is said, not guessed. */
static void test_qc_refine_folder_missing_files(void **state)
{
	struct tu_dir *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char err[256];

	assert_non_null(r);
	/* A folder with none of refine's outputs is refused, not passed. */
	assert_int_equal(qc_run(f->dir, r, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "not a refine folder"));
	qc_result_free(r);
	write_text(f->dir, "parameters.json", "not json");
	run_qc(f->dir, r);
	assert_int_equal(r->n_notes, 3);
	assert_non_null(strstr(r->notes[0], "no refined.gcs"));
	assert_int_equal(find(r, "valid_strides", "left")->status, QC_NA);
	assert_non_null(strstr(find(r, "valid_strides", "left")->why, "no strides.tsv"));
	assert_int_equal(find(r, "insole_mat_agreement", NULL)->status, QC_NA);
	assert_null(r->params);
	qc_result_free(r);
	/* A strides.tsv without a side column: not refine's, it fails. */
	write_text(f->dir, "strides.tsv", "stride\tvalid\n1\t1\n");
	run_qc(f->dir, r);
	assert_non_null(strstr(find(r, "valid_strides", "left")->why, "no side column"));
	assert_int_equal(find(r, "valid_strides", "left")->status, QC_FAIL);
	assert_null(r->params);
	qc_result_free(r);
	free(r);
}

/*
 * refine's files damaged: an empty, garbage or header-only strides.tsv
 * fails valid_strides as no strides would; a FIFO, a link to /dev/zero or
 * a file beyond 64 MiB is refused at once (exit 1), never read for ever.
 */
static void test_qc_refine_folder_bad_files(void **state)
{
	static const struct { const char *text, *why; } strides[] = {
		{ "", "is empty" },
		{ "\x93\x01garbage\xff with no line end", "no side column" },
		{ "side\tvalid\n", "strides in strides.tsv" },
	};
	struct tu_dir *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char *st = tu_path(f->dir, "strides.tsv"), *ev = tu_path(f->dir, "events.tsv");
	char *pj = tu_path(f->dir, "parameters.json"), err[256];

	assert_non_null(r);
	for (size_t i = 0; i < sizeof(strides) / sizeof(strides[0]); i++) {
		unlink(st);
		write_text(f->dir, "strides.tsv", strides[i].text);
		run_qc(f->dir, r);
		for (int k = 0; k < 2; k++) {
			const struct qc_check *c = find(r, "valid_strides", k ? "right" : "left");

			if (c->status != QC_FAIL || !strstr(c->why, strides[i].why))
				fail_msg("strides.tsv %zu: %s: %s", i, qc_status_name(c->status),
					 c->why);
		}
		assert_int_equal(r->overall, QC_FAIL);
		qc_result_free(r);
	}
	/* Would block or never end: refused before anything is read. */
	alarm(60);
	unlink(st);
	assert_int_equal(symlink("/dev/zero", st), 0);
	assert_int_equal(qc_run(f->dir, r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "strides.tsv: not a regular file"));
	qc_result_free(r);
	assert_int_equal(mkfifo(ev, 0600), 0);
	assert_int_equal(qc_run(f->dir, r, err, sizeof(err)), -EINVAL);
	qc_result_free(r);
	unlink(st);
	unlink(ev);
	write_text(f->dir, "strides.tsv", "side\n");
	write_text(f->dir, "parameters.json", "{}");
	assert_int_equal(truncate(pj, 65 << 20), 0);
	assert_int_equal(qc_run(f->dir, r, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "parameters.json: 68157440 bytes, more than the 64 MiB"));
	qc_result_free(r);
	alarm(0);
	free(st);
	free(ev);
	free(pj);
	free(r);
}

/*
 * The file's own state: a clean session passes; one cut short fails
 * integrity (what gaitcap info lists) and its loss counts what could not
 * be read; with no record left, data fails too.
 */
static void test_qc_file_checks(void **state)
{
	struct tu_dir *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char *clean = tu_path(f->dir, "clean.gcs"), *cut = tu_path(f->dir, "cut.gcs");
	struct stat st;

	assert_non_null(r);
	craft_session(clean, &(struct craft){ 0 });
	run_qc(clean, r);
	assert_int_equal(find(r, "integrity", "session")->status, QC_PASS);
	assert_int_equal(find(r, "data", "session")->status, QC_PASS);
	assert_int_equal(find(r, "data", "session")->value, 1);
	qc_result_free(r);

	assert_int_equal(stat(clean, &st), 0);
	craft_session(cut, &(struct craft){ 0 });
	assert_int_equal(truncate(cut, st.st_size / 2), 0);
	run_qc(cut, r);
	assert_int_equal(find(r, "integrity", "session")->status, QC_FAIL);
	/* What was cut is missing, not counted as received. */
	assert_int_equal(find(r, "packet_loss", "insole0")->status, QC_FAIL);
	assert_non_null(strstr(find(r, "integrity", "session")->why, "gaitcap info lists all"));
	assert_int_equal(r->overall, QC_FAIL);
	qc_result_free(r);

	assert_int_equal(truncate(cut, 3000), 0);	/* the header and no record */
	run_qc(cut, r);
	assert_int_equal(find(r, "integrity", "session")->status, QC_FAIL);
	assert_int_equal(find(r, "data", "session")->status, QC_FAIL);
	assert_int_equal(r->overall, QC_FAIL);
	qc_result_free(r);
	free(clean);
	free(cut);
	free(r);
}

/*
 * Damage the data of the @nth record of @type (CHUNK, ZCHUNK) of @stream
 * in @img: a byte flipped, or with @page the first whole page inside it
 * zeroed (its header and the next left whole; @nth counts those that have one).
 */
static void damage_chunk(uint8_t *img, size_t len, uint16_t type, uint32_t stream,
			 int nth, bool page)
{
	uint64_t offs[4096];
	size_t n = tu_record_offsets(img, len, offs, 4096);

	for (size_t i = 0; i < n; i++) {
		struct gcs_rec_hdr h;
		uint64_t body, pg;
		uint32_t id;

		memcpy(&h, img + offs[i], sizeof(h));
		memcpy(&id, img + offs[i] + GCS_REC_HDR_LEN, sizeof(id));
		body = offs[i] + h.hdr_len;
		pg = (body + 4095) & ~4095ull;
		if (h.type != type || id != stream || (page && pg + 4096 > body + h.body_len) ||
		    nth--)
			continue;
		if (page)
			memset(img + pg, 0, 4096);
		else
			img[body + h.body_len / 2] ^= 0xff;
		return;
	}
	fail_msg("no record %#x %d of stream %u", type, nth, stream);
}

/* @src damaged by damage_chunk() into @dst. */
static void write_damaged(const char *src, const char *dst, uint16_t type, uint32_t stream,
			  int nth, bool page)
{
	uint8_t *img;
	size_t len;

	assert_int_equal(tu_read_file(src, &img, &len), 0);
	damage_chunk(img, len, type, stream, nth, page);
	unlink(dst);
	assert_int_equal(tu_write_file(dst, img, len), 0);
	free(img);
}

/* 10 s of a 1-tile mat and two insoles, compacted or not. */
static void synth_small(struct tu_cmd *f, const char *path, bool compact)
{
	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--seconds", "10", "--tiles", "1",
				    "--rows", "16", "--cols", "16", "--no-truth", "--quiet", path,
				    compact ? NULL : "--no-compact", NULL), 0);
}

/*
 * Damage in a chunk's data is found only when qc reads the chunk: a mat
 * chunk, an insole's first chunk, a zeroed page, a compressed chunk. Each
 * fails integrity, named as gaitcap info names it.
 */
static void test_qc_damaged_chunks(void **state)
{
	static const struct {
		bool compact, page;
		uint16_t type;
		uint32_t stream;
		int nth;
	} dmg[] = {
		{ false, false, GCS_REC_CHUNK, 0, 1 },	/* the mat's second chunk */
		{ false, false, GCS_REC_CHUNK, 1, 0 },	/* insole0's first */
		{ false, true, GCS_REC_CHUNK, 0, 0 },	/* a page inside a mat chunk */
		{ true, false, GCS_REC_ZCHUNK, 0, 0 },	/* the mat's compressed chunk */
	};
	struct tu_cmd *f = *state;
	struct qc_result *r = calloc(1, sizeof(*r));
	char *raw = tu_path(f->dir, "raw.gcs"), *zst = tu_path(f->dir, "z.gcs");
	char *d = tu_path(f->dir, "d.gcs");

	assert_non_null(r);
	synth_small(f, raw, false);
	synth_small(f, zst, true);
	for (size_t v = 0; v < sizeof(dmg) / sizeof(dmg[0]); v++) {
		const struct qc_check *c;

		write_damaged(dmg[v].compact ? zst : raw, d, dmg[v].type, dmg[v].stream,
			      dmg[v].nth, dmg[v].page);
		run_qc(d, r);
		c = find(r, "integrity", "session");
		if (c->status != QC_FAIL || !strstr(c->why, "chunks lost"))
			fail_msg("damage %zu: integrity %s: %s", v, qc_status_name(c->status),
				 c->why);
		assert_int_equal(r->overall, QC_FAIL);
		qc_result_free(r);
	}
	free(raw);
	free(zst);
	free(d);
	free(r);
}

/*
 * Records lost at a stream's start are invisible to its counter (an
 * insole's samples, the mat's scans, seen from the first read): qc of the
 * session and of its refine OUTDIR count them as lost to damage, alike.
 */
static void test_qc_lost_at_start(void **state)
{
	static const char *const raw[] = { "insole0", "mat0" };
	static const char *const refined[] = { "refined-insole0", "mat" };
	struct tu_cmd *f = *state;
	struct qc_result *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char *s = tu_path(f->dir, "s.gcs"), *d = tu_path(f->dir, "d.gcs");
	char *out = tu_path(f->dir, "out");
	uint8_t *img;
	size_t len;

	assert_non_null(a);
	assert_non_null(b);
	synth_small(f, s, false);
	assert_int_equal(tu_read_file(s, &img, &len), 0);
	damage_chunk(img, len, GCS_REC_CHUNK, 1, 0, false);	/* insole0: 11 records */
	damage_chunk(img, len, GCS_REC_CHUNK, 0, 0, false);	/* the mat: 10 scans */
	assert_int_equal(tu_write_file(d, img, len), 0);
	free(img);
	assert_int_equal(tu_cmd_run(f, cmd_refine, "refine", d, "-o", out, "--quiet", NULL), 0);
	run_qc(d, a);
	run_qc(out, b);
	for (int k = 0; k < 2; k++) {
		const struct qc_check *x = find(a, "packet_loss", raw[k]);
		const struct qc_check *y = find(b, "packet_loss", refined[k]);

		print_message("%s %.4f %% (%s), refined %.4f %% (%s): %s\n", raw[k], x->value,
			      qc_status_name(x->status), y->value, qc_status_name(y->status),
			      y->why);
		assert_true(x->value > 0.9);
		assert_true(fabs(x->value - y->value) < 1e-9);
		assert_int_equal(x->status, QC_WARN);
		assert_int_equal(y->status, QC_WARN);
	}
	qc_result_free(a);
	qc_result_free(b);
	free(a);
	free(b);
	free(s);
	free(d);
	free(out);
}

/*
 * refined.gcs holds no clock records: qc of the OUTDIR judges the session's
 * as refine recorded them, and keeps the session's clock warning.
 */
static void test_qc_refine_folder_clock(void **state)
{
	struct tu_cmd *f = *state;
	struct qc_result *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char *s = tu_path(f->dir, "s.gcs"), *out = tu_path(f->dir, "out");
	bool bad = false;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--seconds", "10", "--ble-delay-ms", "60",
				    "--no-truth", "--quiet", s, NULL), 0);
	assert_int_equal(tu_cmd_run(f, cmd_refine, "refine", s, "-o", out, "--quiet", NULL), 0);
	run_qc(s, a);
	run_qc(out, b);
	for (int k = 0; k < 2; k++) {
		static const char *const raw[] = { "insole0", "insole1" };
		static const char *const refined[] = { "refined-insole0", "refined-insole1" };
		const struct qc_check *x = find(a, "clock_residual", raw[k]);
		const struct qc_check *y = find(b, "clock_residual", refined[k]);

		print_message("%s %.3f ms (%s), refined %.3f ms (%s): %s\n", raw[k], x->value,
			      qc_status_name(x->status), y->value, qc_status_name(y->status),
			      y->why);
		assert_true(fabs(x->value - y->value) < 1e-6 * x->value);
		assert_true(fabs(x->warn - y->warn) < 1e-6 * x->warn);
		assert_true(fabs(x->fail - y->fail) < 1e-6 * x->fail);
		assert_int_equal(x->status, y->status);
		bad |= x->status != QC_PASS;
	}
	assert_true(bad);
	assert_int_equal(a->overall, b->overall);
	qc_result_free(a);
	qc_result_free(b);
	free(a);
	free(b);
	free(s);
	free(out);
}

static int qc_cmd(struct tu_cmd *f, const char *in, const char *json, const char *html)
{
	return tu_cmd_run(f, cmd_qc, "qc", in, "--json", json, "--report", html, NULL);
}

/* The bytes of @path, or NULL when it cannot be read (free it). */
static char *slurp(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char *s;

	if (tu_read_file(path, &buf, &len))
		return NULL;
	s = realloc(buf, len + 1);
	assert_non_null(s);
	s[len] = '\0';
	return s;
}

/* A verdict line ("qc: pass") among what qc printed. */
static bool has_verdict(const char *out)
{
	return !strncmp(out, "qc: ", 4) || strstr(out, "\nqc: ");
}

/* Files in @dir whose name starts with @prefix and goes on (temp files). */
static int count_longer(const char *dir, const char *prefix)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix)) &&
		     strlen(e->d_name) > strlen(prefix);
	closedir(d);
	return n;
}

/*
 * Outputs that would destroy data are refused before anything is read or
 * written: the input, any session file, refine's files in an input OUTDIR,
 * and one path for both outputs.
 */
static void test_qc_output_refusals(void **state)
{
	struct tu_cmd *f = *state;
	char *s = tu_path(f->dir, "s.gcs"), *other = tu_path(f->dir, "other.gcs");
	char *dots = NULL, *params = NULL, *events = NULL, *js = tu_path(f->dir, "qc.json");
	char *before, *after, *out;
	struct {
		const char *in, *json, *html, *why;
	} runs[6];
	size_t n = 0;

	craft_session(s, &(struct craft){ 0 });
	craft_session(other, &(struct craft){ 0 });
	write_text(f->dir, "parameters.json", "{\"lost_chunks\":0}");
	params = tu_path(f->dir, "parameters.json");
	events = tu_path(f->dir, "events.tsv");
	assert_true(asprintf(&dots, "%s/./s.gcs", f->dir) > 0);
	runs[n++] = (typeof(runs[0])){ s, dots, NULL, "that is the input" };
	runs[n++] = (typeof(runs[0])){ s, NULL, s, "that is the input" };
	runs[n++] = (typeof(runs[0])){ s, other, NULL, "a gaitcap session file" };
	runs[n++] = (typeof(runs[0])){ f->dir, params, NULL, "refine's parameters.json" };
	runs[n++] = (typeof(runs[0])){ f->dir, NULL, events, "refine's events.tsv" };
	runs[n++] = (typeof(runs[0])){ s, js, js, "both name" };
	for (size_t i = 0; i < n; i++) {
		const char *path = runs[i].json ? runs[i].json : runs[i].html;

		before = slurp(path);
		if (runs[i].json && runs[i].html)
			assert_int_equal(qc_cmd(f, runs[i].in, runs[i].json, runs[i].html), 1);
		else
			assert_int_equal(tu_cmd_run(f, cmd_qc, "qc", runs[i].in,
						    runs[i].json ? "--json" : "--report", path,
						    NULL), 1);
		out = tu_cmd_output(f);
		assert_non_null(strstr(out, runs[i].why));
		assert_false(has_verdict(out));
		free(out);
		after = slurp(path);
		if (before) {
			assert_non_null(after);
			assert_string_equal(before, after);
		} else {
			assert_null(after);
		}
		free(before);
		free(after);
	}
	assert_int_equal(count_longer(f->dir, "s.gcs"), 0);
	free(s);
	free(other);
	free(dots);
	free(params);
	free(events);
	free(js);
}

/*
 * An output is replaced by a new file, never rewritten in place: another
 * link to the old one keeps its bytes, and no temporary file is left.
 */
static void test_qc_output_replaced_whole(void **state)
{
	struct tu_cmd *f = *state;
	char *s = tu_path(f->dir, "s.gcs"), *js = tu_path(f->dir, "qc.json");
	char *html = tu_path(f->dir, "qc.html"), *keep = tu_path(f->dir, "keep.json");
	char *txt;
	struct stat st;

	craft_session(s, &(struct craft){ 0 });
	write_text(f->dir, "qc.json", "old");
	assert_int_equal(link(js, keep), 0);
	assert_int_equal(qc_cmd(f, s, js, html), 0);
	txt = slurp(keep);
	assert_string_equal(txt, "old");
	free(txt);
	txt = slurp(js);
	assert_non_null(strstr(txt, "\"overall\""));
	/* A text file: its last line ends. */
	assert_string_equal(txt + strlen(txt) - 2, "}\n");
	free(txt);
	assert_int_equal(stat(js, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(count_longer(f->dir, "qc.json"), 0);
	assert_int_equal(count_longer(f->dir, "qc.html"), 0);
	assert_int_equal(count_longer(f->dir, ".qc-out."), 0);
	/* The longest name a folder takes: no room for a suffix on it. */
	free(js);
	js = malloc(strlen(f->dir) + 258);
	assert_non_null(js);
	sprintf(js, "%s/%0250d.json", f->dir, 0);
	assert_int_equal(tu_cmd_run(f, cmd_qc, "qc", s, "--json", js, NULL), 0);
	assert_int_equal(stat(js, &st), 0);
	assert_int_equal(count_longer(f->dir, ".qc-out."), 0);
	free(s);
	free(js);
	free(html);
	free(keep);
}

/*
 * An output that cannot be written: the file and the cause are named, exit
 * 1, no verdict. A folder that is a regular file fails even for root;
 * /dev/full where the system has it.
 */
static void test_qc_write_errors(void **state)
{
	struct tu_cmd *f = *state;
	char *s = tu_path(f->dir, "s.gcs"), *bad = tu_path(f->dir, "s.gcs/qc.json");
	char *html = tu_path(f->dir, "s.gcs/qc.html"), *js = tu_path(f->dir, "qc.json");
	char *out;

	craft_session(s, &(struct craft){ 0 });
	assert_int_equal(tu_cmd_run(f, cmd_qc, "qc", s, "--json", bad, NULL), 1);
	out = tu_cmd_output(f);
	assert_non_null(strstr(out, bad));
	assert_non_null(strstr(out, strerror(ENOTDIR)));
	assert_false(has_verdict(out));
	free(out);
	assert_int_equal(qc_cmd(f, s, js, html), 1);
	out = tu_cmd_output(f);
	assert_non_null(strstr(out, html));
	assert_non_null(strstr(out, strerror(ENOTDIR)));
	assert_false(has_verdict(out));
	free(out);
	if (access("/dev/full", W_OK)) {
		print_message("skipped /dev/full: not on this system\n");
	} else {
		assert_int_equal(tu_cmd_run(f, cmd_qc, "qc", s, "--json", "/dev/full", NULL), 1);
		out = tu_cmd_output(f);
		assert_non_null(strstr(out, "/dev/full"));
		assert_non_null(strstr(out, strerror(ENOSPC)));
		assert_false(has_verdict(out));
		free(out);
	}
	free(s);
	free(bad);
	free(html);
	free(js);
}

/*
 * qc of a session and qc of its refine OUTDIR agree on what was lost:
 * insole samples (refined.gcs keeps the insole's counter) and mat scans
 * (parameters.json), with link drops and lost scans injected by synth.
 */
static void test_qc_refine_folder_losses(void **state)
{
	struct tu_cmd *f = *state;
	struct qc_result *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char *s = tu_path(f->dir, "s.gcs"), *out = tu_path(f->dir, "out");
	const struct qc_check *x, *y;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--seconds", "10", "--drop-every", "3",
				    "--gap-every", "2", "--no-truth", "--quiet", s, NULL), 0);
	assert_int_equal(tu_cmd_run(f, cmd_refine, "refine", s, "-o", out, "--quiet", NULL), 0);
	run_qc(s, a);
	run_qc(out, b);
	for (int k = 0; k < 3; k++) {
		static const char *const raw[] = { "insole0", "insole1", "mat0" };
		static const char *const refined[] = { "refined-insole0", "refined-insole1", "mat" };

		x = find(a, "packet_loss", raw[k]);
		y = find(b, "packet_loss", refined[k]);
		print_message("%s %.4f %% (%s), refined %.4f %% (%s)\n", raw[k], x->value,
			      qc_status_name(x->status), y->value, qc_status_name(y->status));
		assert_true(x->value > 0.5);
		assert_true(fabs(x->value - y->value) < 1e-9);
		assert_int_equal(x->status, y->status);
	}
	assert_int_equal(b->overall, QC_FAIL);
	qc_result_free(a);
	qc_result_free(b);
	free(a);
	free(b);
	free(s);
	free(out);
}

/* gaitcap synth: lost mat scans seen as packet loss, and the exit status. */
static void test_qc_synth_gap_every(void **state)
{
	static const struct { const char *every; int status, rc; } runs[] = {
		{ "0", QC_PASS, 0 }, { "3", QC_WARN, 2 }, { "1", QC_FAIL, 3 },
	};
	struct tu_cmd *f = *state;

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		char name[32], *s, *js, *html;
		struct json_object *j, *checks, *o;
		const char *want = qc_status_name(runs[i].status);
		bool seen = false;

		snprintf(name, sizeof(name), "synth%zu.gcs", i);
		s = tu_path(f->dir, name);
		js = tu_path(f->dir, "qc.json");
		html = tu_path(f->dir, "qc.html");
		assert_int_equal(tu_cmd_run(f, cmd_synth, "synth", "--seconds", "10", "--insoles", "0",
					    "--gap-every", runs[i].every, "--quiet", s, NULL), 0);
		assert_int_equal(qc_cmd(f, s, js, html), runs[i].rc);
		j = json_object_from_file(js);
		assert_non_null(j);
		assert_true(json_object_object_get_ex(j, "overall", &o));
		assert_string_equal(json_object_get_string(o), want);
		assert_true(json_object_object_get_ex(j, "checks", &checks));
		for (size_t k = 0; k < json_object_array_length(checks); k++) {
			struct json_object *c = json_object_array_get_idx(checks, k), *id, *st;

			json_object_object_get_ex(c, "id", &id);
			json_object_object_get_ex(c, "status", &st);
			if (strcmp(json_object_get_string(id), "packet_loss"))
				continue;
			assert_string_equal(json_object_get_string(st), want);
			seen = true;
		}
		assert_true(seen);
		json_object_put(j);
		assert_int_equal(access(html, R_OK), 0);
		free(s);
		free(js);
		free(html);
	}
}

/* The imported fixture: every check the session allows passes. */
static void test_qc_moticon_fixture(void **state)
{
	struct tu_cmd *f = *state;
	char *s = tu_path(f->dir, "m.gcs"), *js = tu_path(f->dir, "m.json");
	char *html = tu_path(f->dir, "m.html"), *out;
	struct qc_result *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(tu_cmd_run(f, cmd_import, "import", "moticon", FIXTURE, "-o", s,
				    "--subject", "LAB-01", NULL), 0);
	assert_int_equal(qc_cmd(f, s, js, html), 0);
	out = tu_cmd_output(f);
	assert_non_null(strstr(out, "qc: pass, report "));
	free(out);
	run_qc(s, r);
	for (int k = 0; k < 2; k++) {
		const char *side = k ? "insole_right" : "insole_left";
		static const char *const ids[] = { "packet_loss", "timestamp_jitter", "saturation",
						   "flat_line", "zero_offset" };

		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
			assert_int_equal(find(r, ids[i], side)->status, QC_PASS);
		/* Two clock records (one clock in the export): not enough for a fit. */
		assert_int_equal(find(r, "clock_residual", side)->status, QC_NA);
		assert_true(r->side[k].load.n == 499);
		assert_string_equal(r->side[k].load_unit, "N");
	}
	assert_int_equal(r->n_events, 16);
	qc_result_free(r);
	free(r);
	free(s);
	free(js);
	free(html);
}

static void test_qc_usage(void **state)
{
	struct tu_cmd *f = *state;
	char *out;

	assert_int_equal(tu_cmd_run(f, cmd_qc, "qc", NULL), 1);
	out = tu_cmd_output(f);
	assert_non_null(strstr(out, "no input given"));
	free(out);
	assert_int_equal(tu_cmd_run(f, cmd_qc, "qc", "/nonexistent/x.gcs", NULL), 1);
	out = tu_cmd_output(f);
	assert_non_null(strstr(out, "No such file or directory"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_qc_each_check_passes_and_fails,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_qc_refine_folder_checks,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_qc_clinical_outliers_never_fail,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_qc_refined_streams,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_qc_refine_folder_missing_files,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_qc_refine_folder_bad_files,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_qc_file_checks,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_qc_synth_gap_every,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_moticon_fixture,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_usage,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_output_refusals,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_output_replaced_whole,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_write_errors,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_refine_folder_losses,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_damaged_chunks,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_lost_at_start,
						tu_cmd_setup, tu_cmd_teardown),
		cmocka_unit_test_setup_teardown(test_qc_refine_folder_clock,
						tu_cmd_setup, tu_cmd_teardown),
	};

	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	/* cairo's and fontconfig's caches live until exit: free them for LSan. */
	cairo_debug_reset_static_data();
	FcFini();
	return ret;
}
