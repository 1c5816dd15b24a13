/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libgcengine: the io_uring capture engine (docs/capture.md).
 *
 * One ring moves bytes from every source of a capture into one session file
 * (libgcsession). A source is a plugin (IIO character device, generic fd,
 * later BLE ATT sockets) that declares its streams and hands the engine one
 * or more channels: file descriptors of different kinds, all served by the
 * same ring.
 *
 *   RECORDS channel   a byte stream of fixed-size records (an IIO buffer's
 *                     character device, a pipe). Each read lands straight in
 *                     a chunk reservation inside the session file's mapping
 *                     and is committed as soon as it completes.
 *   MESSAGES channel  one message per read (a datagram or seqpacket socket,
 *                     later an L2CAP ATT socket) with the kernel's receive
 *                     timestamp; stored as variable-size records.
 *
 * Every submission carries its owner's struct ring_op, whose callback gets
 * the completion (ring.h); every completion is checked; short reads,
 * -EAGAIN and -EINTR are handled; sequence gaps become gap records.
 * Markers, gap and clock records wait for a moment when no read holds a
 * reservation (so reservations shrink to what they hold).
 *
 * Functions returning int return 0 (or a count) or -errno. Nothing here
 * prints; callers report.
 */
#ifndef GCENGINE_H
#define GCENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "session/gcsession.h"

struct eng;
struct eng_source;
struct eng_chan;

/* How a channel waits for data (docs/capture.md, "Reading"). */
enum eng_io_mode {
	ENG_IO_AUTO = 0,	/* the best the kernel offers, see eng_probe() */
	ENG_IO_POLL_FIRST,	/* IORING_OP_POLL_ADD, then READ once readable */
	ENG_IO_FAST_POLL,	/* READ at once; the kernel arms its own poll */
	ENG_IO_ASYNC,		/* READ with IOSQE_ASYNC: a worker blocks in it */
};

const char *eng_io_mode_name(enum eng_io_mode m);
int eng_io_mode_parse(const char *s, enum eng_io_mode *m);

struct eng_opts {
	unsigned int ring_entries;	/* submission queue size (64) */
	enum eng_io_mode io_mode;	/* ENG_IO_AUTO */
	uint32_t sync_interval_ms;	/* durability interval: the writer's (1000) */
	uint32_t clock_interval_ms;	/* clock records (1000); 0: none */
	uint32_t small_delay_ms;	/* longest a marker/gap/clock waits (200) */
	uint32_t tick_ms;		/* housekeeping period (100) */
	uint32_t max_read_bytes;	/* largest read a channel asks for (4 MiB) */
	bool compact_thread;		/* compaction on a worker thread (true) */
	bool no_compact;		/* never start compaction jobs */
	bool blocking_sync;		/* fdatasync() in the loop, not on the ring */
	bool force_readv;		/* IORING_OP_READV even if READ exists */
	bool prefault;			/* MADV_POPULATE_WRITE ahead of reads (default) */
	/*
	 * A message channel committing each message (commit_each) keeps its
	 * receive waiting in the kernel (default); false: poll, then receive.
	 */
	bool wait_recv;
	/* The ring limited to capture's opcodes (default; ring.c) */
	bool restrict_ops;
};

void eng_opts_init(struct eng_opts *o);

/* What the running kernel offers and what the engine chose. */
struct eng_features {
	bool op_read, op_readv, op_poll_add, op_fsync, op_recvmsg, op_sendmsg;
	bool op_async_cancel, op_timeout;
	bool feat_fast_poll, feat_nodrop, feat_submit_stable, feat_ext_arg;
	bool feat_rw_cur_pos;
	/* choices */
	enum eng_io_mode io_mode;
	bool read_op;			/* READ (else READV) */
	bool sync_on_ring;		/* IORING_OP_FSYNC (else fdatasync()) */
	bool prefault;			/* MADV_POPULATE_WRITE on reservations */
	bool wait_recv;			/* RECVMSG waiting on commit_each sockets */
	bool compact_thread;
	unsigned int sq_entries, cq_entries;
	bool restricted;		/* IORING_REGISTER_RESTRICTIONS in force */
};

/*
 * Probe io_uring on this kernel: set up a small ring, read the feature
 * bits and the opcode table. Fills @f with what exists and, from @o, what
 * an engine would choose (io_mode AUTO resolved). -ENOSYS: no io_uring.
 */
int eng_probe(const struct eng_opts *o, struct eng_features *f);

/* ---- Sources --------------------------------------------------------------- */

struct eng_source_ops {
	const char *kind;		/* "fd", "iio", ... */
	/* Declare streams (gcs_writer_add_stream) and add channels. */
	int (*start)(struct eng_source *s);
	/* Housekeeping every tick (look for a device that came back...). */
	void (*tick)(struct eng_source *s, int64_t now_ns);
	/*
	 * A channel ended: @err is 0 at end of file, else -errno. Return 0 to
	 * go on without it, or -errno to stop the capture with that error.
	 */
	int (*chan_end)(struct eng_source *s, struct eng_chan *c, int err);
	/*
	 * The capture is stopping: cancel the source's own ring operations
	 * (optional; the loop ends only once nothing is in flight).
	 */
	void (*stopping)(struct eng_source *s);
	/* The capture is over: stop the device. Called once, after the loop. */
	void (*stop)(struct eng_source *s);
	/* Counters of the device itself, for status and reports (optional). */
	int (*describe)(struct eng_source *s, char *buf, size_t len);
	void (*destroy)(struct eng_source *s);
	/*
	 * Battery charge in percent (0..100), -ENODATA while unknown
	 * (optional: insoles). gaitcap service reports it and warns when it
	 * is low (docs/operating.md).
	 */
	int (*battery)(struct eng_source *s);
};

struct eng_source {
	const struct eng_source_ops *ops;
	struct eng *e;			/* set by eng_add_source() */
	char name[32];			/* short label, e.g. "mat0" */
	void *priv;
	bool started, stopped;
	bool waiting;			/* no channel now, but one may come (reattach) */
	char why[192];			/* what went wrong, in words (start, chan_end) */
};

/* ---- Channels --------------------------------------------------------------- */

enum eng_chan_kind {
	ENG_CHAN_RECORDS,
	ENG_CHAN_MESSAGES,
};

/* What a source says about one record (or message). */
struct eng_rec_info {
	uint64_t seq;			/* ignored unless the channel has_seq */
	int64_t t_ns;			/* host time in the stream's clock; 0: none */
	int64_t device_ns;		/* device clock (has_device_ns) */
	uint32_t missing;		/* seq numbers the device says it lost just before */
	bool has_device_ns;
	/*
	 * MESSAGES: not a record of the stream (an ATT response the source
	 * consumed, a duplicate): neither stored nor counted. t_ns comes in
	 * set to the receive time (CLOCK_MONOTONIC).
	 */
	bool drop;
};

typedef void (*eng_rec_info_fn)(void *priv, const uint8_t *rec, uint32_t len,
				struct eng_rec_info *ri);

struct eng_chan_def {
	const char *label;		/* for status and errors */
	int fd;				/* the engine never closes it */
	enum eng_chan_kind kind;
	uint32_t stream;		/* session stream it fills */
	/* RECORDS */
	uint32_t record_size;
	uint32_t max_records;		/* most records one read asks for */
	uint32_t batch_records;		/* records expected per wakeup (1) */
	/*
	 * Wait at least this long between reads unless the last one came
	 * back full: a device that wakes pollers on every record (IIO does,
	 * whatever its watermark) is then read about batch_records at a
	 * time instead of one record per completion.
	 */
	uint32_t hold_us;
	bool whole_records;		/* a read never splits a record (IIO) */
	/* enum gcs_gap_reason of gaps eng_rec_info.missing does not explain */
	uint16_t gap_reason;
	/* MESSAGES */
	uint32_t msg_max;		/* largest message kept whole */
	uint32_t commit_ms;		/* longest a batch waits to be committed (50) */
	uint32_t batch_bytes;		/* commit once this much is staged (64 KiB) */
	/*
	 * Commit every message as a chunk of its own as soon as it is
	 * received, instead of batches (lowest latency; more chunk headers).
	 */
	bool commit_each;
	bool rx_timestamp;		/* SO_TIMESTAMPNS is on: use it */
	/* both */
	bool has_seq;			/* rec_info gives sequence numbers */
	bool rec_ts;			/* rec_info gives t_ns (host monotonic) */
	eng_rec_info_fn rec_info;	/* optional */
	void *priv;
};

/*
 * Records counted in three steps (the words of gcsession.h): sealed (read
 * and handed to the writer: `records`, `bytes`, `chunks`), committed
 * (readers see them and a kill -9 keeps them; with several channels a
 * sealed chunk waits for every earlier reservation) and durable.
 */
struct eng_chan_stats {
	uint64_t records, bytes, chunks;	/* sealed */
	uint64_t reads, polls, eagain, eintr, partial;
	uint64_t gaps;			/* gap records written */
	uint64_t lost;			/* records they say are missing */
	uint64_t lost_kernel, lost_device;
	uint64_t truncated;		/* messages longer than msg_max */
	uint64_t parked;		/* waiting reads let go to unblock the writer */
	uint64_t dropped;		/* messages rec_info said were not records */
	/*
	 * How close the kernel's buffer came to overflowing: the most records
	 * one read brought back (of def.max_records at most), and the longest
	 * time between two reads that brought data.
	 */
	uint32_t peak_records;
	int64_t read_gap_ns_max;
	uint64_t carry_bytes;		/* bytes moved across a split or a short read */
	uint64_t first_seq, last_seq;
	int64_t t_first_ns, t_last_ns;	/* of records, host monotonic */
	double rate_hz;			/* records per second, recent */
	/* Committed: a reader sees them, the process dying loses none. */
	uint64_t committed_records;
	int64_t committed_t_ns;		/* time of the last committed record */
	/* As of the last completed durability sync: survives power loss. */
	uint64_t durable_records;
	int64_t durable_t_ns;		/* time of the last durable record */
	bool ended;
	int end_err;
};

int eng_chan_add(struct eng *e, struct eng_source *s,
		 const struct eng_chan_def *d, struct eng_chan **cp);
const char *eng_chan_label(const struct eng_chan *c);
uint32_t eng_chan_stream(const struct eng_chan *c);
/*
 * Make the channel read now instead of waiting for its poll: for a device
 * whose poll never fires once it is gone (an unregistered IIO device), so
 * that the read reports -ENODEV.
 */
void eng_chan_poke(struct eng_chan *c);
struct eng_source *eng_chan_source(const struct eng_chan *c);
void eng_chan_get_stats(const struct eng_chan *c, struct eng_chan_stats *st);

/* ---- The engine ------------------------------------------------------------- */

int eng_create(struct eng **ep, struct gcs_writer *w, const struct eng_opts *o);
/* Stops and destroys the sources it still holds, then itself. */
void eng_destroy(struct eng *e);
const struct eng_features *eng_features(const struct eng *e);
struct gcs_writer *eng_writer(struct eng *e);

/* Takes ownership of @s (destroyed with the engine); calls s->ops->start. */
int eng_add_source(struct eng *e, struct eng_source *s);
size_t eng_n_sources(const struct eng *e);
struct eng_source *eng_source_at(const struct eng *e, size_t i);
size_t eng_n_chans(const struct eng *e);
struct eng_chan *eng_chan_at(const struct eng *e, size_t i);

/* SIGINT, SIGTERM, SIGHUP are blocked and read from a signalfd on the ring. */
int eng_watch_signals(struct eng *e);

/* Bytes typed on @fd (a terminal) go to @fn, read through the ring. */
typedef void (*eng_input_fn)(struct eng *e, void *ctx, const char *buf,
			     size_t len);
int eng_watch_input(struct eng *e, int fd, eng_input_fn fn, void *ctx);

/* Called every @ms from the loop (status display). */
typedef void (*eng_tick_fn)(struct eng *e, void *ctx, int64_t now_ns);
void eng_set_tick(struct eng *e, uint32_t ms, eng_tick_fn fn, void *ctx);

/*
 * Markers, gaps and clock samples: queued, written at the next moment no
 * read holds a reservation (at most small_delay_ms later). t_ns 0: now.
 */
int eng_marker(struct eng *e, uint32_t code, uint32_t stream, int64_t t_ns,
	       int64_t value);
int eng_gap(struct eng *e, uint32_t stream, uint32_t reason,
	    uint64_t first_seq, uint64_t last_seq, int64_t t_start_ns,
	    int64_t t_end_ns);
int eng_clock(struct eng *e, const struct gcs_clock_sample *c);

/*
 * Run until eng_stop(), a signal, every channel ending, or @deadline_ns
 * (CLOCK_MONOTONIC; 0: none). Returns 0, or the error that stopped it.
 * Afterwards every channel is drained and nothing is in flight (even when
 * the ring failed, unless eng_stats.inflight says otherwise); the caller
 * stops the sources (eng_stop_sources) and closes the writer.
 */
int eng_run(struct eng *e, int64_t deadline_ns);
/*
 * Ask the loop to finish; @err (0 or -errno) becomes eng_run's result.
 * Only a request: eng_stopping() is true at once, the channels are told
 * once the callback that asked (a completion, chan_end, a tick) returns.
 */
void eng_stop(struct eng *e, int err);
bool eng_stopping(const struct eng *e);
/* Why the loop stopped: 0 request/deadline, a signal number, ... */
int eng_stop_signal(const struct eng *e);
void eng_stop_sources(struct eng *e);

struct eng_stats {
	uint64_t loops, cqes, submits;
	uint64_t syncs, sync_ns_max;	/* completed durability syncs */
	uint64_t compactions;
	uint64_t small_written, small_forced;	/* forced: waited too long */
	uint64_t markers;
	int64_t t_start_ns;
	/*
	 * Operations still in flight when eng_run returned: 0 unless the ring
	 * failed and its reads never came back. Then the kernel may still
	 * write into the session's mapping: leave the writer alone (neither
	 * close nor abort it) and exit; gaitcap recover repairs the file.
	 */
	unsigned int inflight;
};

void eng_get_stats(const struct eng *e, struct eng_stats *st);

/* ---- Control socket: markers from `gaitcap mark` ------------------------------ */

#define ENG_CTL_DEFAULT_DIR	"/run/gaitcap"
#define ENG_CTL_DEFAULT_NAME	"capture.sock"
#define ENG_CTL_MAX_MSG		256

/*
 * Listen for requests on a Unix datagram socket at @path (created 0660;
 * a stale socket of a dead capture is replaced, a live one is -EADDRINUSE).
 * Requests and replies are one text line each (docs/capture.md):
 *   MARK code=N [value=V] [t=MONO_NS] [stream=S]   -> OK t=NS | ERR why
 *   STATUS                                        -> OK key=value...
 */
int eng_control_listen(struct eng *e, const char *path);
/* Client side: send @req, wait up to @timeout_ms for the reply. */
int eng_control_request(const char *path, const char *req, char *reply,
			size_t reply_len, int timeout_ms);

/* ---- Sources shipped with the engine --------------------------------------------- */

/*
 * "fd:PATH,record=N[,seq=OFF][,ts=OFF][,devclk=OFF][,batch=N][,name=S]"
 * A file, fifo or character device read as fixed-size records; seq, ts and
 * devclk are byte offsets of le64 fields in each record (sequence number,
 * CLOCK_MONOTONIC ns, device clock ns). Without seq, records are counted.
 */
int eng_source_fd_create(struct eng_source **sp, const char *spec);
/* The same; when the spec is refused (-EINVAL), *why says why in words. */
int eng_source_fd_create_why(struct eng_source **sp, const char *spec,
			     const char **why);

/*
 * Host timestamps taken in another clock (an IIO device's
 * current_timestamp_clock: realtime, boottime) mapped onto CLOCK_MONOTONIC,
 * the session's timeline for chunk times, clock records and markers. The
 * offset is measured, bracketed by two monotonic readings, again whenever
 * it is 100 ms old, so a realtime step is followed within that.
 */
struct eng_clock_map {
	clockid_t id;
	int64_t off;			/* id - monotonic */
	int64_t at;			/* monotonic time of the measurement */
};

void eng_clock_map_init(struct eng_clock_map *m, clockid_t id);
int64_t eng_clock_map(struct eng_clock_map *m, int64_t t_ns);

/* The gait mat through IIO (src_iio.c). */
struct eng_iio_opts {
	const char *device;		/* NULL/"auto", "iio:deviceN" or a name */
	unsigned int rate_hz;		/* 0: keep the device's; UINT_MAX: highest */
	unsigned int buffer_length;	/* scans; 0: the largest that fits */
	unsigned int watermark;		/* scans; 0: about 100 ms worth */
	unsigned int wait_ms;		/* wait this long for the device to appear */
	const char *clock;		/* current_timestamp_clock ("monotonic") */
	bool no_reattach;		/* a mat that resets ends the capture */
	/* No mat yet is no error: the source waits for one (the service). */
	bool absent_ok;
	/*
	 * Look for a (returning) mat every 500 ms only for 30 s after
	 * eng_source_iio_rescan(), e.g. on a udev add event once udev's rules
	 * ran; every 5 s otherwise.
	 */
	bool rescan_on_request;
};

void eng_iio_opts_init(struct eng_iio_opts *o);
int eng_source_iio_create(struct eng_source **sp, const struct eng_iio_opts *o);
/* A device may have appeared: look for the mat often for the next 30 s. */
void eng_source_iio_rescan(struct eng_source *s);

/*
 * An insole over Bluetooth LE (src_ble.c): an L2CAP ATT socket (CID 4) to
 * @bdaddr, the GATT sequence of libgaitble, then every data notification
 * as one ble_att record; link loss: reconnect with backoff, a DISCONNECT gap.
 */
struct eng_ble_opts {
	char side[8];			/* "left", "right" (the stream's device) */
	char bdaddr[18];		/* "AA:BB:CC:DD:EE:FF" */
	bool random;			/* random (static) address, else public */
	/*
	 * Link encryption: AUTO asks for it (BT_SECURITY MEDIUM, the kernel
	 * pairs or uses the stored key) once the insole refuses a request
	 * with Insufficient Encryption/Authentication; SECURE from the first
	 * connect; PLAIN never (the refusal ends in an error).
	 */
	enum { ENG_BLE_SEC_AUTO, ENG_BLE_SEC_SECURE, ENG_BLE_SEC_PLAIN } security;
	const char *adapter;		/* local controller address; NULL: any */
	unsigned int connect_timeout_ms; /* one attempt (10000) */
	unsigned int setup_timeout_ms;	/* the GATT sequence (20000) */
	unsigned int backoff_min_ms;	/* first retry after a loss (250) */
	unsigned int backoff_max_ms;	/* retries at most this far apart (8000) */
	unsigned int wait_ms;		/* give up if never connected by then (0: never) */
	bool no_reconnect;		/* a lost link ends the capture */
	/* Each notification committed when received (capture --watermark 1) */
	bool commit_each;
	/*
	 * Tests: returns a connected SOCK_SEQPACKET descriptor (or -errno)
	 * that plays the insole, instead of the L2CAP connect.
	 */
	int (*dial)(void *ctx);
	void *dial_ctx;
};

void eng_ble_opts_init(struct eng_ble_opts *o);
/* "left=AA:BB:CC:DD:EE:FF[/random|/public][+secure|+plain]": 0 or -EINVAL
 * with *why. */
int eng_ble_parse(const char *spec, struct eng_ble_opts *o, const char **why);
/* "AA:BB:CC:DD:EE:FF" into the 6 bytes, least significant first. */
int eng_ble_addr_parse(const char *s, uint8_t out[6]);
int eng_source_ble_create(struct eng_source **sp, const struct eng_ble_opts *o);
/*
 * A Bluetooth adapter appeared (gaitcap service's udev monitor): a source
 * waiting between attempts tries again now, with its backoff reset.
 * Anything but a ble source is left alone.
 */
void eng_source_ble_kick(struct eng_source *s);

#endif /* GCENGINE_H */
