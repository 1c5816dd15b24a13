// SPDX-License-Identifier: GPL-2.0
/*
 * Process crash on the host: a child captures a pipe through the engine and
 * is killed with SIGKILL at random instants; gcs_recover() must then give a
 * file in which every record the child had reported committed is present,
 * intact and in sequence. The guest scenario capture-crash.sh does the same
 * with the real driver; this one runs in every `make check` in seconds.
 *
 * TEST_ENGINE_KILLS sets the number of kills (default 25).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "test_engine_util.h"
#include "test_session_util.h"

/* What the child says, in memory shared with the parent. */
struct shared {
	volatile uint64_t committed;	/* records committed, a lower bound */
	volatile int started;		/* the session file exists */
};

static void publish(struct eng *e, void *ctx, int64_t now)
{
	struct shared *sh = ctx;
	struct eng_chan_stats st;

	(void)now;
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	__atomic_store_n(&sh->committed, st.committed_records, __ATOMIC_RELEASE);
}

static void child(const char *path, int fd, struct shared *sh, int mode)
{
	struct gcs_writer *w;
	struct eng_source *s;
	struct eng_opts o;
	struct eng *e;
	char spec[96];

	w = te_writer(path, mode & 1);
	if (!w)
		_exit(2);
	sh->started = 1;
	eng_opts_init(&o);
	o.tick_ms = 2;
	o.sync_interval_ms = 50;
	/* Alternate the read modes: each must leave a recoverable file. */
	o.io_mode = mode & 2 ? ENG_IO_FAST_POLL : ENG_IO_POLL_FIRST;
	if (eng_create(&e, w, &o))
		_exit(3);
	snprintf(spec, sizeof(spec), "fd:/proc/self/fd/%d,record=%u,seq=0,ts=8",
		 fd, TE_REC);
	if (eng_source_fd_create(&s, spec) || eng_add_source(e, s))
		_exit(4);
	eng_set_tick(e, 2, publish, sh);
	eng_run(e, 0);
	_exit(0);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void test_engine_crash_kill9_recover(void **state)
{
	const char *env = getenv("TEST_ENGINE_KILLS");
	int kills = env ? atoi(env) : 25, checked = 0, early = 0;
	uint64_t seed = 0x6761697463617000ull, total = 0;
	char *dir = tu_tmpdir();
	struct shared *sh;

	(void)state;
	assert_non_null(dir);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	for (int i = 0; i < kills; i++) {
		struct te_feeder fd = { .forever = true, .max_piece = 700,
					.pause_us = 50, .seed = seed + i };
		struct gcs_recover_report rep;
		char name[32], *path;
		uint64_t *seqs, committed;
		unsigned int delay_ms;
		long n;
		pid_t pid;
		int p[2], st;

		snprintf(name, sizeof(name), "crash-%03d.gcs", i);
		path = tu_path(dir, name);
		memset(sh, 0, sizeof(*sh));
		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (!pid) {
			close(p[1]);
			child(path, p[0], sh, i);
		}
		close(p[0]);
		fd.fd = p[1];
		assert_int_equal(te_feeder_start(&fd), 0);
		delay_ms = 20 + (unsigned int)(rnd(&seed) % 400);
		usleep(delay_ms * 1000);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		committed = __atomic_load_n(&sh->committed, __ATOMIC_ACQUIRE);
		fd.stop = true;
		te_feeder_join(&fd);	/* its next write fails: no reader */
		close(p[1]);
		if (!sh->started) {
			early++;	/* killed before the file existed */
			free(path);
			continue;
		}
		/*
		 * The kernel tears a dead process's io_uring down after it is
		 * reaped (io_ring_exit_work): until then a request still in
		 * flight (a sync) holds the file and its flock, and recover
		 * rightly says EBUSY. Wait for that, up to 5 s.
		 */
		for (int t = 0; t < 250 && (st = gcs_recover(path, &rep)) == -EBUSY; t++)
			usleep(20 * 1000);
		assert_int_equal(st, 0);
		seqs = calloc(fd.sent + 1, sizeof(*seqs));
		assert_non_null(seqs);
		n = te_check_stream(path, 0, seqs, fd.sent + 1);
		if (n < (long)committed || n > (long)fd.sent)
			fail_msg("kill %d after %u ms: %ld records recovered, %llu committed, %llu sent",
				 i, delay_ms, n, (unsigned long long)committed,
				 (unsigned long long)fd.sent);
		for (long k = 0; k < n; k++)
			assert_int_equal(seqs[k], (uint64_t)k);
		/* Running recovery again changes nothing. */
		assert_int_equal(gcs_recover(path, &rep), 0);
		assert_false(rep.changed);
		total += (uint64_t)n;
		checked++;
		free(seqs);
		unlink(path);
		free(path);
	}
	printf("# %d kills: %d files recovered and checked (%llu records), %d before the file existed\n",
	       kills, checked, (unsigned long long)total, early);
	assert_true(checked >= kills / 2);
	munmap(sh, sizeof(*sh));
	tu_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_crash_kill9_recover),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
