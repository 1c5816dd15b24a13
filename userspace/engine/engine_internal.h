/* SPDX-License-Identifier: GPL-2.0 */
/* libgcengine internals shared by its files; not part of the API. */
#ifndef GCENGINE_INTERNAL_H
#define GCENGINE_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <liburing.h>

#include "engine/engine.h"
#include "engine/ring.h"

#define NS_PER_MS	1000000ll
#define NS_PER_S	1000000000ll

/*
 * A service descriptor (signalfd, terminal, control socket, eventfd):
 * read through the ring, with a poll first whenever a read says -EAGAIN.
 */
struct eng_svc;
typedef void (*eng_svc_fn)(struct eng *e, struct eng_svc *s, int res);

struct eng_svc {
	struct ring_op op;
	struct eng *e;
	const char *what;
	int fd;
	bool polling;		/* the op in flight is a POLL_ADD */
	bool recvmsg;		/* IORING_OP_RECVMSG with @msg, else READ */
	bool keep;		/* stays armed in the stopping phase */
	void *buf;
	uint32_t len;
	struct msghdr *msg;
	eng_svc_fn done;	/* res: bytes, 0 (EOF) or -errno (never -EAGAIN) */
	void *ctx;
};

enum small_type { SMALL_MARKER = 1, SMALL_GAP, SMALL_CLOCK };

struct small_item {
	uint8_t type;
	int64_t queued_ns;
	union {
		struct {
			uint32_t code, stream;
			int64_t t_ns, value;
		} m;
		struct {
			uint32_t stream, reason;
			uint64_t first, last;
			int64_t t0, t1;
		} g;
		struct gcs_clock_sample c;
	};
};

struct eng_compact;	/* compact.c */
struct eng_ctl;		/* control.c */

enum sync_phase { SYNC_IDLE = 0, SYNC_DATA, SYNC_HEADER };

struct eng {
	struct ring ring;
	struct eng_opts o;
	struct eng_features f;
	struct gcs_writer *w;

	struct eng_source **src;
	size_t n_src, cap_src;
	struct eng_chan **ch;
	size_t n_ch, cap_ch;

	/*
	 * eng_stop() only asks: stopping is set at once, the channels are
	 * told by the loop after the callback that asked has returned.
	 */
	bool running, stopping, stop_pending, closing;
	int64_t ring_failed_at;	/* when the ring itself first failed */
	int err;
	int stop_sig;
	int64_t deadline;

	/* signals */
	struct eng_svc sig;
	struct signalfd_siginfo si;
	sigset_t sig_old;
	bool sig_blocked;

	/* terminal input */
	struct eng_svc in;
	char in_buf[64];
	eng_input_fn in_fn;
	void *in_ctx;

	struct eng_ctl *ctl;
	struct eng_compact *cw;

	/* durability */
	struct ring_op op_sync;
	enum sync_phase sync_phase;
	struct gcs_sync sync;
	int64_t sync_t0, next_sync;

	/* small records waiting for a quiet moment */
	struct small_item *small;
	size_t n_small, cap_small;
	struct ring_timer small_timer;	/* the oldest has waited too long */

	struct ring_timer tick_timer;
	int64_t next_clock, next_user;
	uint32_t user_ms;
	eng_tick_fn user_fn;
	void *user_ctx;

	struct eng_stats st;
};

/* engine.c */
int eng_svc_arm(struct eng *e, struct eng_svc *s);
/* An error the capture cannot go on after: a queued eng_stop(). */
void eng_fail(struct eng *e, int err);

/*
 * chan.c: the engine drives channels through these; channels call down
 * into the ring and the writer, and up only to queue (eng_gap, eng_fail).
 */
int chan_new(struct eng *e, struct eng_source *s, const struct eng_chan_def *d,
	     struct eng_chan **cp);
void chan_free(struct eng_chan *c);
void chan_arm(struct eng_chan *c);
void chan_stop(struct eng_chan *c);
void chan_tick(struct eng_chan *c, int64_t now);
void chan_flush(struct eng_chan *c, bool all);
bool chan_clock_sample(struct eng_chan *c, struct gcs_clock_sample *s);
bool chan_done(const struct eng_chan *c);
bool chan_reserved(const struct eng_chan *c);
/* Let a waiting read that holds the oldest reservation go (see chan.c). */
bool chan_unblock(struct eng_chan *c, uint64_t committed_end);
/*
 * A record sealed behind a waiting receive: let it go if it holds the
 * oldest reservation. True while this channel's receive is being let go.
 */
bool chan_let_go(struct eng_chan *c, uint64_t committed_end);
/* Re-arm a channel that held back behind a let-go (see chan.c). */
void chan_resume(struct eng_chan *c);
/* An end the source has not heard of yet: true once, with its error. */
bool chan_take_end(struct eng_chan *c, int *err);
/*
 * Committed (readers see it: the writer's committed end has passed it) /
 * a sync of what is committed begins / it is durable.
 */
void chan_committed(struct eng_chan *c, uint64_t committed_end);
void chan_sync_begin(struct eng_chan *c);
void chan_sync_end(struct eng_chan *c);

/* compact.c */
int compact_create(struct eng *e, struct eng_compact **cp);
void compact_tick(struct eng *e);
bool compact_idle(const struct eng *e);
void compact_quiet(struct eng *e);
void compact_drain(struct eng *e);
void compact_destroy(struct eng_compact *c);

/* control.c */
void ctl_destroy(struct eng_ctl *c);
void ctl_stop(struct eng *e);

#endif /* GCENGINE_INTERNAL_H */
