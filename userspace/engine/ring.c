// SPDX-License-Identifier: GPL-2.0
/*
 * The ring layer: submissions, completions, cancels, timers and range
 * syncs on one io_uring. Every completion goes back to the struct ring_op
 * that was submitted; the layer above decides what it means.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/ring.h"

#define NS_PER_S	1000000000ll

int64_t eng_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t eng_now(void)
{
	return eng_clock_ns(CLOCK_MONOTONIC);
}

static int probe(struct io_uring *ring, unsigned int feats,
		 struct eng_features *f)
{
	struct io_uring_probe *p;

	f->feat_fast_poll = feats & IORING_FEAT_FAST_POLL;
	f->feat_nodrop = feats & IORING_FEAT_NODROP;
	f->feat_submit_stable = feats & IORING_FEAT_SUBMIT_STABLE;
	f->feat_ext_arg = feats & IORING_FEAT_EXT_ARG;
	f->feat_rw_cur_pos = feats & IORING_FEAT_RW_CUR_POS;
	p = io_uring_get_probe_ring(ring);
	if (!p) {
		/* Before 5.6 there is no probe, and none of what we need. */
		return -EOPNOTSUPP;
	}
	f->op_read = io_uring_opcode_supported(p, IORING_OP_READ);
	f->op_readv = io_uring_opcode_supported(p, IORING_OP_READV);
	f->op_poll_add = io_uring_opcode_supported(p, IORING_OP_POLL_ADD);
	f->op_fsync = io_uring_opcode_supported(p, IORING_OP_FSYNC);
	f->op_recvmsg = io_uring_opcode_supported(p, IORING_OP_RECVMSG);
	f->op_sendmsg = io_uring_opcode_supported(p, IORING_OP_SENDMSG);
	f->op_async_cancel = io_uring_opcode_supported(p, IORING_OP_ASYNC_CANCEL);
	f->op_timeout = io_uring_opcode_supported(p, IORING_OP_TIMEOUT);
	io_uring_free_probe(p);
	if (!f->op_read && !f->op_readv)
		return -EOPNOTSUPP;
	return 0;
}

/* Cancels are fire and forget: counted so that the end waits for them. */
static void cancel_done(struct ring_op *op, int res)
{
	(void)op;
	(void)res;
}

/*
 * The operations capture submits (chan.c, engine.c, control.c, this file;
 * TIMEOUT is liburing's own wait on kernels without IORING_FEAT_EXT_ARG),
 * and the one SQE flag it sets. A source that needs another opcode adds it
 * here; anything else fails with -EACCES (docs/capture.md, "Least
 * privilege"). No io_uring_register() opcode is allowed once enabled.
 */
const uint8_t ring_allowed_ops[] = {
	IORING_OP_READ, IORING_OP_READV, IORING_OP_POLL_ADD, IORING_OP_FSYNC,
	IORING_OP_RECVMSG, IORING_OP_SENDMSG, IORING_OP_ASYNC_CANCEL,
	IORING_OP_TIMEOUT,
};
const size_t ring_n_allowed_ops = sizeof(ring_allowed_ops);
#define RING_ALLOWED_FLAGS	IOSQE_ASYNC

static int restrict_ring(struct io_uring *u)
{
	struct io_uring_restriction res[sizeof(ring_allowed_ops) + 1];
	size_t n = 0;

	memset(res, 0, sizeof(res));
	for (; n < ring_n_allowed_ops; n++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n].sqe_op = ring_allowed_ops[n];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = RING_ALLOWED_FLAGS;
	/*
	 * Raw io_uring_register(): Debian's liburing 2.3 declares
	 * io_uring_register_restrictions() and io_uring_enable_rings() but its
	 * shared library does not export them (only liburing.a has them).
	 */
	if (syscall(__NR_io_uring_register, u->ring_fd,
		    IORING_REGISTER_RESTRICTIONS, res, (unsigned int)n) ||
	    syscall(__NR_io_uring_register, u->ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0))
		return -errno;
	return 0;
}

int ring_init(struct ring *r, unsigned int entries, struct eng_features *f)
{
	return ring_init_restricted(r, entries, f, false);
}

int ring_init_restricted(struct ring *r, unsigned int entries,
			 struct eng_features *f, bool restricted)
{
	struct io_uring_params params = { 0 };
	int ret;

	memset(r, 0, sizeof(*r));
	r->op_cancel.done = cancel_done;
	/*
	 * The completion queue is twice the submission queue (the default),
	 * and with IORING_FEAT_NODROP the kernel never drops a completion.
	 * Restrictions can only be registered on a ring created disabled.
	 */
	if (restricted)
		params.flags = IORING_SETUP_R_DISABLED;
	ret = io_uring_queue_init_params(entries, &r->uring, &params);
	if (ret == -EINVAL && restricted) {
		/* Before 5.10: no restrictions; eng_features says so. */
		memset(&params, 0, sizeof(params));
		restricted = false;
		ret = io_uring_queue_init_params(entries, &r->uring, &params);
	}
	if (ret)
		return ret;
	r->ok = true;
	/* The probe is an io_uring_register() call: before the limits. */
	ret = probe(&r->uring, params.features, f);
	if (!ret && restricted)
		ret = restrict_ring(&r->uring);
	if (ret) {
		ring_exit(r);
		return ret;
	}
	f->restricted = restricted;
	f->sq_entries = params.sq_entries;
	f->cq_entries = params.cq_entries;
	r->can_cancel = f->op_async_cancel;
	return 0;
}

void ring_exit(struct ring *r)
{
	if (r->ok)
		io_uring_queue_exit(&r->uring);
	r->ok = false;
	r->timers = NULL;
}

struct io_uring_sqe *ring_sqe(struct ring *r, struct ring_op *op)
{
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(&r->uring);
	if (!sqe) {
		ret = io_uring_submit(&r->uring);
		if (ret < 0) {
			if (!r->err)
				r->err = ret;
			return NULL;
		}
		r->submits++;
		sqe = io_uring_get_sqe(&r->uring);
		if (!sqe) {
			if (!r->err)
				r->err = -EBUSY;
			return NULL;
		}
	}
	io_uring_sqe_set_data(sqe, op);
	if (op == &r->op_cancel) {
		r->cancels++;
	} else {
		op->busy = true;
		r->inflight++;
	}
	return sqe;
}

void ring_cancel(struct ring *r, struct ring_op *op)
{
	struct io_uring_sqe *sqe;

	if (!op->busy || !r->can_cancel)
		return;
	sqe = ring_sqe(r, &r->op_cancel);
	if (sqe)
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
}

/*
 * The range only (session format 7.2): pages prefaulted beyond the
 * committed end stay dirty and writable instead of being written out as
 * zeros. The SQE's length is 32 bits; a longer range syncs the whole file.
 */
int ring_fsync(struct ring *r, struct ring_op *op, int fd, uint64_t off,
	       uint64_t len)
{
	struct io_uring_sqe *sqe = ring_sqe(r, op);

	if (!sqe)
		return r->err ? r->err : -EBUSY;
	if (len > UINT32_MAX)
		off = len = 0;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	sqe->off = off;
	sqe->len = (uint32_t)len;
	return 0;
}

bool ring_idle(const struct ring *r)
{
	return !r->inflight && !r->cancels;
}

void ring_timer_set(struct ring *r, struct ring_timer *t, int64_t at)
{
	t->at = at;
	if (t->armed)
		return;
	t->armed = true;
	t->next = r->timers;
	r->timers = t;
}

void ring_timer_clear(struct ring *r, struct ring_timer *t)
{
	struct ring_timer **pp;

	if (!t->armed)
		return;
	t->armed = false;
	for (pp = &r->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
}

static int64_t earliest(const struct ring *r)
{
	int64_t at = INT64_MAX;

	for (const struct ring_timer *t = r->timers; t; t = t->next)
		if (t->at < at)
			at = t->at;
	return at;
}

/* A timer's callback may set or clear timers: look again after each. */
static void fire_due(struct ring *r)
{
	struct ring_timer *t;
	int64_t now = eng_now();

	for (;;) {
		for (t = r->timers; t && t->at > now; t = t->next)
			;
		if (!t)
			return;
		ring_timer_clear(r, t);
		if (t->fire)
			t->fire(t, now);
	}
}

static void deliver(struct ring *r, struct ring_op *op, int res)
{
	/* liburing's own timeout entry on kernels without EXT_ARG */
	if (!op || (uintptr_t)op == (uintptr_t)LIBURING_UDATA_TIMEOUT)
		return;
	if (op == &r->op_cancel) {
		r->cancels--;
		return;
	}
	op->busy = false;
	r->inflight--;
	op->done(op, res);
}

int ring_turn(struct ring *r)
{
	struct __kernel_timespec ts, *tsp = NULL;
	struct io_uring_cqe *cqe;
	int64_t at, wait;
	int ret, res, failed = 0;

	at = earliest(r);
	if (at != INT64_MAX) {
		wait = at - eng_now();
		if (wait < 0)
			wait = 0;
		ts.tv_sec = wait / NS_PER_S;
		ts.tv_nsec = wait % NS_PER_S;
		tsp = &ts;
	}
	ret = io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, tsp, NULL);
	r->loops++;
	r->submits++;
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN &&
	    ret != -EBUSY)
		failed = ret;
	/*
	 * One at a time, each seen before its owner runs: an owner may
	 * submit again (and the queue be flushed) from inside its callback.
	 * What completed is delivered even when the wait failed.
	 */
	while (!io_uring_peek_cqe(&r->uring, &cqe)) {
		struct ring_op *op = io_uring_cqe_get_data(cqe);

		res = cqe->res;
		io_uring_cqe_seen(&r->uring, cqe);
		r->cqes++;
		deliver(r, op, res);
	}
	fire_due(r);
	if (!failed)
		failed = r->err;
	r->err = 0;
	return failed;
}
