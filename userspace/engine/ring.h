/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ring layer of libgcengine: one io_uring, its submissions, completions,
 * cancels, timers and range syncs. It knows nothing of channels, sources or
 * the session: whoever submits embeds a struct ring_op and is called back
 * through it (docs/capture.md, "Layers").
 */
#ifndef GCENGINE_RING_H
#define GCENGINE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

#include "engine/engine.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/*
 * The one completion interface: io_uring_sqe_set_data() always gets a
 * struct ring_op, and its owner is called back with the result.
 */
struct ring_op;
typedef void (*ring_done_fn)(struct ring_op *op, int res);

struct ring_op {
	ring_done_fn done;
	bool busy;		/* submitted, completion not yet delivered */
};

/*
 * A moment the loop must wake up at. @fire (may be NULL: only a wake-up)
 * runs after the completions of the loop turn that reaches it, once.
 */
struct ring_timer;
typedef void (*ring_timer_fn)(struct ring_timer *t, int64_t now);

struct ring_timer {
	int64_t at;
	ring_timer_fn fire;
	struct ring_timer *next;
	bool armed;
};

struct ring {
	struct io_uring uring;
	bool ok;
	bool can_cancel;	/* IORING_OP_ASYNC_CANCEL */
	unsigned int inflight;	/* ops in flight, cancels excepted */
	unsigned int cancels;
	struct ring_op op_cancel;
	struct ring_timer *timers;
	int err;		/* a submission failed: ring_turn returns it */
	uint64_t loops, cqes, submits;
};

int64_t eng_now(void);
int64_t eng_clock_ns(clockid_t id);

/*
 * Set up a ring of @entries and say in @f what the kernel offers (the
 * op_* and feat_* fields, sq/cq_entries). -EOPNOTSUPP: no usable reads.
 */
int ring_init(struct ring *r, unsigned int entries, struct eng_features *f);
/*
 * The same, limited with IORING_REGISTER_RESTRICTIONS to ring_allowed_ops
 * (and IOSQE_ASYNC) when @restricted; f->restricted says whether it is
 * (kernels before 5.10 have no restrictions).
 */
int ring_init_restricted(struct ring *r, unsigned int entries,
			 struct eng_features *f, bool restricted);
extern const uint8_t ring_allowed_ops[];
extern const size_t ring_n_allowed_ops;
/* Nothing in flight may point into what is freed after this. */
void ring_exit(struct ring *r);

/*
 * A submission queue entry for @op (submitting what is queued when the
 * queue is full), or NULL if that submission failed (the next ring_turn
 * returns its error).
 */
struct io_uring_sqe *ring_sqe(struct ring *r, struct ring_op *op);
/* Ask the kernel to cancel @op if it is in flight; its completion says. */
void ring_cancel(struct ring *r, struct ring_op *op);
/* IORING_OP_FSYNC (datasync) of [off, off + len); too long: whole file. */
int ring_fsync(struct ring *r, struct ring_op *op, int fd, uint64_t off,
	       uint64_t len);
/* Nothing is in flight, cancels included. */
bool ring_idle(const struct ring *r);

void ring_timer_set(struct ring *r, struct ring_timer *t, int64_t at);
void ring_timer_clear(struct ring *r, struct ring_timer *t);

/*
 * One turn: submit, wait for a completion or the earliest timer, deliver
 * every completion to its owner, then fire the timers that are due.
 * Returns 0, or the -errno of a ring that failed (the wait, or a
 * submission since the last turn); what completed was delivered anyway.
 */
int ring_turn(struct ring *r);

#endif /* GCENGINE_RING_H */
