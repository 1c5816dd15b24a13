// SPDX-License-Identifier: GPL-2.0
/*
 * The writer's disk-time-left estimate (gcs_writer_space), which the
 * capture's status line shows as "disk 41.2 GiB (16h30m)": on a steady
 * input it must hold still, although compaction frees raw data in bursts,
 * and it must follow a real change of the input rate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "test_session_util.h"

#define SEC		1000000000ll
#define TICK		(SEC / 10)

struct space_run {
	struct gcs_writer *w;
	int64_t now;
	uint64_t seq;
};

static int64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* Net bytes the session holds on disk: what it appended, minus what it punched. */
static double net_bytes(struct gcs_writer *w)
{
	struct gcs_writer_stats st;

	gcs_writer_stats(w, &st);
	return (double)st.committed_end - (double)st.reclaimed;
}

/*
 * @secs seconds of input at @per_tick records every 100 ms, the writer's
 * timer work run as an event loop would. The estimated rate is sampled once
 * a second into @rates (if not NULL). The net size is noted right after
 * each reclaim: between two such instants, both just after a burst, its
 * growth is what the disk really lost (*@truth, bytes per second).
 */
static void run(struct space_run *r, int secs, uint32_t per_tick, double *rates,
		double *truth)
{
	double net0 = -1, net1 = 0;
	int64_t t0 = 0, t1 = 0;
	uint64_t reclaimed = 0;
	struct gcs_writer_stats st;
	struct gcs_space sp;

	for (int s = 0; s < secs; s++) {
		for (int t = 0; t < 10; t++) {
			assert_int_equal(tu_put_fixed(r->w, r->seq, per_tick), 0);
			r->seq += per_tick;
			r->now += TICK;
			assert_true(gcs_writer_poll(r->w, r->now, false) >= 0);
			gcs_writer_stats(r->w, &st);
			if (st.reclaimed == reclaimed)
				continue;
			reclaimed = st.reclaimed;
			if (net0 < 0) {
				net0 = net_bytes(r->w);
				t0 = r->now;
			}
			net1 = net_bytes(r->w);
			t1 = r->now;
		}
		assert_int_equal(gcs_writer_space(r->w, r->now, &sp), 0);
		if (rates)
			rates[s] = sp.rate;
	}
	if (truth)
		*truth = t1 > t0 ? (net1 - net0) / ((double)(t1 - t0) / SEC) : -1;
}

static struct gcs_writer *open_writer(const char *dir, struct gcs_writer_opts *o)
{
	char *p = tu_path(dir, "s");
	struct gcs_writer *w;

	assert_int_equal(gcs_writer_create(&w, p, o, tu_meta), 0);
	assert_int_equal(tu_add_streams(w), 0);
	free(p);
	return w;
}

/* The defaults: compaction of every 4 MiB of raw data, freed in a burst. */
static void space_opts(struct gcs_writer_opts *o)
{
	gcs_writer_opts_init(o);
	o->grow_step = 8 << 20;
}

static void test_session_space_steady_under_compaction(void **state)
{
	struct tu_dir *f = *state;
	struct gcs_writer_opts o;
	struct space_run r = { .now = mono_now() };
	struct gcs_writer_stats st;
	double rates[600], lo = 1e300, hi = -1e300, truth;
	struct gcs_space sp;

	space_opts(&o);
	r.w = open_writer(f->dir, &o);
	/* 640 KB/s in 64 KB reads: a compaction every 6.5 s. Warm up for 30 s. */
	run(&r, 30, 1000, NULL, NULL);
	/*
	 * Ten minutes: one compaction more or less in the window moves the
	 * measured growth by its burst, under 5 % of ten minutes' growth.
	 */
	run(&r, 600, 1000, rates, &truth);
	gcs_writer_stats(r.w, &st);
	assert_true(st.zchunks >= 80);		/* compaction did run */
	assert_true(truth > 0);
	for (int i = 0; i < 600; i++) {
		if (rates[i] < lo)
			lo = rates[i];
		if (rates[i] > hi)
			hi = rates[i];
	}
	print_message("net growth %.0f B/s; estimate %.0f..%.0f B/s\n", truth, lo, hi);
	/* Every second's estimate within 15 % of the truth. */
	assert_true(lo > truth * 0.85);
	assert_true(hi < truth * 1.15);
	/* And the time left is that rate's. */
	assert_int_equal(gcs_writer_space(r.w, r.now, &sp), 0);
	assert_true(sp.seconds_left > 0);
	assert_true(sp.seconds_left < ((double)sp.fs_avail + (double)sp.prealloc_left) /
				      sp.rate + 1);
	assert_int_equal(gcs_writer_close(r.w), 0);
}

static void test_session_space_follows_a_rate_change(void **state)
{
	struct tu_dir *f = *state;
	struct gcs_writer_opts o;
	struct space_run r = { .now = mono_now() };
	double before[60], after[60], truth;

	space_opts(&o);
	r.w = open_writer(f->dir, &o);
	run(&r, 30, 1000, NULL, NULL);
	run(&r, 60, 1000, before, NULL);
	/* The input doubles (a second mat, a higher scan rate). */
	run(&r, 60, 2000, after, &truth);
	print_message("estimate %.0f B/s, then %.0f B/s 60 s after the input doubled"
		      " (net growth %.0f B/s)\n", before[59], after[59], truth);
	assert_true(after[59] > before[59] * 1.6);
	assert_true(after[59] < before[59] * 2.4);
	assert_int_equal(gcs_writer_close(r.w), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session_space_steady_under_compaction,
						tu_dir_setup, tu_dir_teardown),
		cmocka_unit_test_setup_teardown(test_session_space_follows_a_rate_change,
						tu_dir_setup, tu_dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
