// SPDX-License-Identifier: GPL-2.0
/*
 * refined.gcs written on a second thread. Compressing and checking the
 * refined records is half of refine's time on an insole session; it now
 * runs beside the reading. The writer gets the same calls in the same
 * order as before, so the file is the same byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "refine/refine_int.h"

static int write_one(struct gcs_writer *w, const struct outq_item *it)
{
	int ret = gcs_writer_write_chunk(w, it->stream, it->data, &it->m);

	/*
	 * Compact as we go (no syncs: the file is durable at close), so that
	 * close has not the whole refined stream left to read back at once.
	 */
	if (ret >= 0)
		ret = gcs_writer_poll(w, 0, true);
	return ret < 0 ? ret : 0;
}

static void *outq_main(void *arg)
{
	struct outq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct outq_item *it;
		int ret = 0;
		bool failed;

		while (!q->n && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if (!q->n)
			break;
		/* The slot stays counted, so the producer leaves it alone. */
		it = &q->it[q->head];
		failed = q->err;
		pthread_mutex_unlock(&q->lock);
		if (!failed)
			ret = write_one(q->w, it);
		pthread_mutex_lock(&q->lock);
		if (ret && !q->err)
			q->err = ret;
		q->head = (q->head + 1) % OUTQ_LEN;
		q->n--;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Without a thread the chunks are written in place, as they come. */
void refine_outq_start(struct outq *q, struct gcs_writer *w)
{
	memset(q, 0, sizeof(*q));
	q->w = w;
	if (pthread_mutex_init(&q->lock, NULL))
		return;
	if (pthread_cond_init(&q->cond, NULL)) {
		pthread_mutex_destroy(&q->lock);
		return;
	}
	q->running = !pthread_create(&q->th, NULL, outq_main, q);
	if (!q->running) {
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		return;
	}
	pthread_setname_np(q->th, "refine-out");	/* for top and perf */
}

/* Queue one chunk (copied); waits while the queue is full. */
int refine_outq_put(struct outq *q, uint32_t stream, const void *data,
		    const struct gcs_chunk_meta *m)
{
	struct outq_item *it;
	int ret = 0;

	if (!q->running) {
		struct outq_item one = { .stream = stream, .m = *m,
					 .data = (uint8_t *)data };

		return write_one(q->w, &one);
	}
	pthread_mutex_lock(&q->lock);
	while (q->n == OUTQ_LEN && !q->err)
		pthread_cond_wait(&q->cond, &q->lock);
	if (q->err) {
		ret = q->err;
		goto out;
	}
	it = &q->it[(q->head + q->n) % OUTQ_LEN];
	if (it->cap < m->len) {
		uint8_t *p = realloc(it->data, m->len);

		if (!p) {
			ret = -ENOMEM;
			goto out;
		}
		it->data = p;
		it->cap = m->len;
	}
	memcpy(it->data, data, m->len);
	it->stream = stream;
	it->m = *m;
	q->n++;
	pthread_cond_broadcast(&q->cond);
out:
	pthread_mutex_unlock(&q->lock);
	return ret;
}

/* Everything queued written (or dropped after an error); the writer's again. */
int refine_outq_stop(struct outq *q)
{
	int ret;

	if (!q->running)
		return 0;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->th, NULL);
	q->running = false;
	ret = q->err;
	for (unsigned int i = 0; i < OUTQ_LEN; i++)
		free(q->it[i].data);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	memset(q->it, 0, sizeof(q->it));
	return ret;
}
