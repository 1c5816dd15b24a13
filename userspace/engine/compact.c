// SPDX-License-Identifier: GPL-2.0
/*
 * Compaction off the capture loop. zstd over a few MiB takes milliseconds
 * on the appliance and much longer in an emulated guest; done inline it
 * would stall the reads while the kernel buffer fills. The writer's split
 * API (prepare on the loop, run anywhere, finish on the loop) lets a worker
 * thread do the compression; the worker says it is done through an eventfd
 * that the loop reads on the ring, and the finished job is handed back at
 * the next quiet moment (it reserves a record, like any other write).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/engine_internal.h"

struct eng_compact {
	struct eng *e;
	pthread_t thread;
	bool have_thread;
	pthread_mutex_t lock;	/* protects todo, done, quit */
	pthread_cond_t cond;
	struct gcs_compact_job *todo, *done;
	bool quit;
	int efd;
	uint64_t ev;
	struct eng_svc svc;
	bool busy;		/* a job is out, from prepare to finish */
	struct gcs_compact_job *ready;	/* back from the worker */
};

static void *worker(void *arg)
{
	struct eng_compact *c = arg;
	struct gcs_compact_job *j;
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->quit && !c->todo)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->quit)
			break;
		j = c->todo;
		c->todo = NULL;
		pthread_mutex_unlock(&c->lock);
		gcs_compact_run(j);	/* its result travels in the job */
		pthread_mutex_lock(&c->lock);
		c->done = j;
		pthread_cond_broadcast(&c->cond);
		/* Only fails past 2^64 - 2 unread events. */
		(void)!write(c->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void take_done(struct eng_compact *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->done) {
		c->ready = c->done;
		c->done = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

static void svc_done(struct eng *e, struct eng_svc *s, int res)
{
	struct eng_compact *c = s->ctx;

	if (res < 0 && res != -ECANCELED) {
		eng_fail(e, res);
		return;
	}
	take_done(c);
	if (c->busy && !c->ready)
		eng_svc_arm(e, s);	/* a stale count: wait for the real one */
}

int compact_create(struct eng *e, struct eng_compact **cp)
{
	struct eng_compact *c = calloc(1, sizeof(*c));
	sigset_t all, old;
	int ret;

	if (!c)
		return -ENOMEM;
	c->e = e;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		ret = -errno;
		free(c);
		return ret;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->svc = (struct eng_svc){
		.what = "compaction", .fd = c->efd, .buf = &c->ev,
		.len = sizeof(c->ev), .done = svc_done, .ctx = c, .keep = true,
	};
	/*
	 * The worker must never take a signal: the capture reads them from
	 * a signalfd, which only works while every thread blocks them.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&c->thread, NULL, worker, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		compact_destroy(c);
		return ret;
	}
	c->have_thread = true;
	*cp = c;
	return 0;
}

void compact_destroy(struct eng_compact *c)
{
	if (c->have_thread) {
		pthread_mutex_lock(&c->lock);
		c->quit = true;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	close(c->efd);
	free(c);
}

static void finish(struct eng *e, struct gcs_compact_job *j)
{
	int ret = gcs_writer_compact_finish(e->w, j);

	/*
	 * A failed compaction leaves the raw chunks as they are, valid and
	 * committed: nothing is lost, the file is just bigger.
	 */
	if (!ret)
		e->st.compactions++;
}

void compact_tick(struct eng *e)
{
	struct eng_compact *c = e->cw;
	struct gcs_compact_job *j;

	if (e->o.no_compact)
		return;
	if (!c) {
		if (gcs_writer_compact_prepare(e->w, false, &j) || !j)
			return;
		gcs_compact_run(j);
		finish(e, j);
		return;
	}
	if (c->busy)
		return;
	if (gcs_writer_compact_prepare(e->w, false, &j) || !j)
		return;
	pthread_mutex_lock(&c->lock);
	c->todo = j;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	c->busy = true;
	eng_svc_arm(e, &c->svc);
}

void compact_quiet(struct eng *e)
{
	struct eng_compact *c = e->cw;

	if (!c || !c->ready)
		return;
	finish(e, c->ready);
	c->ready = NULL;
	c->busy = false;
}

bool compact_idle(const struct eng *e)
{
	return !e->cw || !e->cw->busy;
}

/* The loop is gone (the ring failed): wait for the worker by hand. */
void compact_drain(struct eng *e)
{
	struct eng_compact *c = e->cw;

	if (!c || !c->busy)
		return;
	pthread_mutex_lock(&c->lock);
	while (!c->done && !c->ready)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	take_done(c);
	compact_quiet(e);
}
