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

#define NS_PER_MS	1000000ll
#define NS_PER_S	1000000000ll

/*
 * The typed context of a submission: io_uring_sqe_set_data() always gets a
 * struct eng_op, and its kind says what the owner is.
 */
enum eng_op_kind {
	ENG_OP_CHAN_POLL = 1,	/* owner: struct eng_chan */
	ENG_OP_CHAN_READ,	/* owner: struct eng_chan (read or recvmsg) */
	ENG_OP_SVC,		/* owner: struct eng_svc */
	ENG_OP_CTL_SEND,	/* owner: struct eng_ctl */
	ENG_OP_SYNC,		/* owner: struct eng */
	ENG_OP_CANCEL,		/* fire and forget; counted apart */
};

struct eng_op {
	uint8_t kind;
	bool busy;
	void *owner;
};

/*
 * A service descriptor (signalfd, terminal, control socket, eventfd):
 * read through the ring, with a poll first whenever a read says -EAGAIN.
 */
struct eng_svc;
typedef void (*eng_svc_fn)(struct eng *e, struct eng_svc *s, int res);

struct eng_svc {
	struct eng_op op;
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

#define CHAN_SEALS	128	/* more than the writer's reservations */

enum chan_state {
	CH_IDLE = 0,		/* nothing in flight: about to be armed */
	CH_POLL,		/* POLL_ADD in flight */
	CH_READ,		/* READ/READV/RECVMSG in flight */
	CH_RETRY,		/* waiting for the next tick to try again */
	CH_HOLD,		/* readable, waiting until wake_at to read more at once */
	CH_DONE,
};

struct eng_chan {
	struct eng *e;
	struct eng_source *src;
	struct eng_chan_def d;
	char label[32];
	enum chan_state state;
	bool nonblock;		/* the fd has O_NONBLOCK */
	bool draining;		/* stopping: read until empty, no polls */
	bool pipe_like;		/* a pipe, fifo or socket: poll() means data */
	bool direct;		/* next read without a poll first */
	bool full;		/* the last read filled what it asked for */
	int64_t pos;		/* file offset of the next read; -1: none */
	uintptr_t faulted_end;	/* prefault: this channel's pages are in below */
	int64_t last_read;	/* when the last read completed */
	int64_t last_data;	/* when a read last brought data */
	int64_t wake_at;	/* CH_HOLD: when to read */
	uint32_t hold_cur_us;	/* the hold now: d.hold_us, shortened under load */
	unsigned int drain_rounds;
	struct eng_op op_poll, op_read;

	/* RECORDS: the reservation being filled and what did not fit in it */
	struct gcs_slot *slot;
	uint32_t fill;		/* bytes at slot->data */
	uint32_t req;		/* bytes the read in flight asked for */
	struct iovec iov;	/* READV fallback */
	uint8_t *carry;
	uint32_t carry_len, carry_cap;
	uint32_t cap_records;	/* current reservation size, in records */
	double ema_records;	/* records per read, smoothed */

	/* sequence */
	bool have_seq;
	uint64_t next_seq;
	int64_t last_t;
	uint64_t count;		/* records seen: seq of channels without one */

	/* MESSAGES: received into rbuf, staged as variable-size records */
	uint8_t *rbuf;
	uint8_t *stage;
	uint32_t stage_len, stage_cap, stage_n;
	uint64_t stage_first_seq;
	int64_t stage_t_first, stage_t_last;
	struct msghdr msg;
	struct iovec miov;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
	} cbuf;

	/* clock window: record with the smallest host - device offset */
	bool clk_have;
	int64_t clk_min, clk_max, clk_dev, clk_host;

	/*
	 * Sealed chunks not yet known to be committed (file order: they wait
	 * for earlier reservations), and what is committed and, as of the
	 * last sync's start, durable.
	 */
	struct {
		uint64_t off, records;
		int64_t t;
	} seal[CHAN_SEALS];
	unsigned int seal_head, n_seal;
	uint64_t pub_records, sync_records;
	int64_t pub_t, sync_t;

	/* recent rate */
	uint64_t rate_count;
	int64_t rate_t;

	struct eng_chan_stats st;
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
	struct io_uring ring;
	bool ring_ok;
	struct eng_opts o;
	struct eng_features f;
	struct gcs_writer *w;

	struct eng_source **src;
	size_t n_src, cap_src;
	struct eng_chan **ch;
	size_t n_ch, cap_ch;

	unsigned int inflight;	/* ops in flight, cancels excepted */
	unsigned int cancels;
	unsigned int to_submit;
	struct eng_op op_cancel;
	unsigned int reservations;	/* slots channels hold */

	bool running, stopping, closing;
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
	struct eng_op op_sync;
	enum sync_phase sync_phase;
	struct gcs_sync sync;
	int64_t sync_t0, next_sync;

	/* small records waiting for a quiet moment */
	struct small_item *small;
	size_t n_small, cap_small;

	int64_t next_tick, next_clock, next_user;
	uint32_t user_ms;
	eng_tick_fn user_fn;
	void *user_ctx;

	struct eng_stats st;
};

/* engine.c */
int64_t eng_now(void);
int64_t eng_clock_ns(clockid_t id);
struct io_uring_sqe *eng_sqe(struct eng *e, struct eng_op *op);
void eng_cancel(struct eng *e, struct eng_op *op);
int eng_svc_arm(struct eng *e, struct eng_svc *s);
void eng_svc_complete(struct eng *e, struct eng_svc *s, int res);
void eng_fail(struct eng *e, int err);

/* chan.c */
int eng_chan_register(struct eng *e, struct eng_chan *c);
void chan_arm(struct eng_chan *c);
void chan_complete(struct eng_chan *c, struct eng_op *op, int res);
void chan_stop(struct eng_chan *c);
void chan_tick(struct eng_chan *c, int64_t now);
int64_t chan_deadline(const struct eng_chan *c);
void chan_timer(struct eng_chan *c, int64_t now);
void chan_flush(struct eng_chan *c, bool all);
void chan_clock(struct eng_chan *c);
void chan_committed(struct eng_chan *c, uint64_t committed_end);
void chan_free(struct eng_chan *c);

/* compact.c */
int compact_create(struct eng *e, struct eng_compact **cp);
void compact_tick(struct eng *e);
bool compact_idle(const struct eng *e);
void compact_quiet(struct eng *e);
void compact_drain(struct eng *e);
void compact_destroy(struct eng_compact *c);

/* control.c */
void ctl_destroy(struct eng_ctl *c);
void ctl_send_done(struct eng *e, struct eng_ctl *c, int res);
void ctl_stop(struct eng *e);

#endif /* GCENGINE_INTERNAL_H */
