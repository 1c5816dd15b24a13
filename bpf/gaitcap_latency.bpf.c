// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap-latency: where a sample's time goes between the wire and the
 * session file (docs/latency.md).
 *
 * The driver's tracepoints stamp each frame by sequence number; the io_uring
 * completion tracepoint and gaitcap's USDT probes stamp each channel's wait,
 * read and completion; when a chunk is committed, every frame in it is
 * charged its stages. Stages that need a hook this kernel lacks are simply
 * not recorded (the attach code in gaitcap_latency.c decides).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "gaitcap_latency.h"

#define MAX_FRAMES	65536
#define MAX_LOOP	(1 << 20)

const volatile __u32 targ_stream = GL_ANY;
const volatile __u32 targ_link = GL_ANY;
const volatile __u32 targ_tgid;
/* io_uring_complete's third argument: the CQE (6.4+) or user_data */
const volatile bool uring_cqe_arg;
/* Messages from chunk_commit's notes (else msg_record, a trap each) */
const volatile bool use_notes = true;

/* A slot of the frame ring: valid when t_pushed is set and seq matches. */
struct frame {
	__u64 seq;
	__u64 t_start;		/* its first byte; 0: not seen */
	__u64 t_pushed;
};

struct op_info {
	__u32 tgid;
	__u32 stream;
	__u32 poll;
	__u32 pad;
};

/* A sealed chunk's read, until the chunk is committed. */
struct chunk {
	__u64 first_seq;
	__u64 woken, kdone, reap;
};

/*
 * A stream's chunks are committed in the order they were sealed (file
 * order), so the sealed ones wait in a FIFO; the writer holds at most 64
 * (session/writer.c MAX_SLOTS).
 */
#define SEALED		64

/*
 * A channel's last read completions in the kernel: a channel has one read
 * in flight, so a message's is the latest one before gaitcap reaped it.
 */
#define KDONE_RING	256	/* 2.5 s of an insole's reads: polled notes come late */

/* One channel's current wait, the last read it completed, its sealed chunks. */
struct chan {
	__u32 tgid;		/* the process this slot is for */
	__u32 kd_n;		/* completions in kd (the ring's head) */
	__u64 kd[KDONE_RING];
	__u64 t_woken, t_kdone;			/* the round in progress */
	__u64 last_woken, last_kdone, last_reap;	/* the last read */
	__u64 msgs;		/* a message channel (insole): stages per message */
	__u64 op_read, op_poll;	/* learnt: its read and poll ops */
	__u32 sealed_head, sealed_tail;
	struct chunk sealed[SEALED];
	__u64 last_commit;	/* polled notes: the last one's t_commit */
};

/*
 * Arrays where a key allows it: their lookups are inlined by the verifier,
 * where a hash map hashes and locks (docs/latency.md, "Overhead").
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_FRAMES);
	__type(key, __u32);		/* seq % MAX_FRAMES */
	__type(value, struct frame);
} frames SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} link_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct op_info);
} ops SEC(".maps");

/*
 * A direct-mapped cache in front of ops, for the io_uring tracepoints that
 * run in the capture's context on every read: an array lookup is inlined,
 * a hash lookup is a call that hashes.
 */
#define OP_CACHE	256

struct op_cached {
	__u64 user_data;
	struct op_info oi;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OP_CACHE);
	__type(key, __u32);
	__type(value, struct op_cached);
} op_cache SEC(".maps");

static __always_inline struct op_info *op_find(__u64 ud)
{
	__u32 i = (ud >> 3) & (OP_CACHE - 1);
	struct op_cached *c = bpf_map_lookup_elem(&op_cache, &i);
	struct op_info *o;

	if (c && c->user_data == ud && c->oi.tgid)
		return &c->oi;
	o = bpf_map_lookup_elem(&ops, &ud);
	if (o && c) {
		c->user_data = ud;
		c->oi = *o;
	}
	return o;
}

static __always_inline void op_set(__u64 ud, struct op_info *oi)
{
	__u32 i = (ud >> 3) & (OP_CACHE - 1);
	struct op_cached *c = bpf_map_lookup_elem(&op_cache, &i);

	bpf_map_update_elem(&ops, &ud, oi, BPF_ANY);
	if (c) {
		c->user_data = ud;
		c->oi = *oi;
	}
}

/* By stream: the probes name it, no hashing (a second process takes over). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GL_MAX_STREAMS);
	__type(key, __u32);
	__type(value, struct chan);
} chans SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GL_MAX_STREAMS * GL_NSTAGES);
	__type(key, __u32);		/* GL_HIST_INDEX(stream, stage) */
	__type(value, struct gl_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GL_MAX_STREAMS);
	__type(key, __u32);
	__type(value, struct gl_stream_count);
} counts SEC(".maps");

/*
 * Recent completions of ops not known yet, by user_data: the first read of
 * a channel completes before read_done names its op, and an insole's first
 * messages before their chunk's commit does (its notes). Keyed, not hashed
 * into a few slots, so the engine's other ops cannot overwrite them.
 */
#define UNKNOWN_CQES	256
#define UNKNOWN_TIMES	16	/* the last ones of each, oldest first from n */

struct cqe_seen {
	__u32 n;
	__u32 pad;
	__u64 t[UNKNOWN_TIMES];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, UNKNOWN_CQES);
	__type(key, __u64);		/* user_data */
	__type(value, struct cqe_seen);
} unknown_cqes SEC(".maps");

static const struct chan zero_chan;
static const struct cqe_seen zero_cqe;

static __always_inline __u32 msb64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1)
		r += 1;
	return r;
}

static __always_inline __u32 slot_of(__u64 v)
{
	__u32 m;

	if (v < GL_SUB)
		return v;
	m = msb64(v);
	if (m > GL_MAX_MSB)
		return GL_SLOTS - 1;
	return (m - GL_SUB_BITS + 1) * GL_SUB +
	       ((v >> (m - GL_SUB_BITS)) & (GL_SUB - 1));
}

/* Global: verified once, not again at each of its callers' states. */
__noinline int hist_add(__u32 stream, __u32 stage, __u64 v, __u64 weight)
{
	__u32 k = GL_HIST_INDEX(stream, stage), s;
	struct gl_hist *h;

	if (stream >= GL_MAX_STREAMS)
		return 0;
	h = bpf_map_lookup_elem(&hists, &k);
	if (!h)
		return 0;
	s = slot_of(v) & (GL_SLOT_ARRAY - 1);
	__sync_fetch_and_add(&h->slots[s], weight);
	__sync_fetch_and_add(&h->count, weight);
	__sync_fetch_and_add(&h->sum, v * weight);
	if (v > h->max)
		h->max = v;
	return 0;
}

/* ---- The driver: raw_tp (args) or tp (the format file's fields) ---------- */

static __always_inline int on_frame_start(__u32 link)
{
	__u64 now = bpf_ktime_get_ns();

	if (targ_link != GL_ANY && link != targ_link)
		return 0;
	bpf_map_update_elem(&link_start, &link, &now, BPF_ANY);
	return 0;
}

static __always_inline int on_frame_pushed(__u32 link, __u64 seq)
{
	__u64 now = bpf_ktime_get_ns(), *start;
	__u32 slot = seq & (MAX_FRAMES - 1);
	struct frame *f;

	if (targ_link != GL_ANY && link != targ_link)
		return 0;
	f = bpf_map_lookup_elem(&frames, &slot);
	if (!f)
		return 0;
	f->seq = seq;
	f->t_start = 0;
	start = bpf_map_lookup_elem(&link_start, &link);
	if (start) {
		f->t_start = *start;
		*start = 0;	/* the next frame has its own first byte */
	}
	f->t_pushed = now;
	return 0;
}

SEC("raw_tp/gaitmat_frame_start")
int BPF_PROG(raw_frame_start, __u32 link)
{
	return on_frame_start(link);
}

SEC("raw_tp/gaitmat_frame_pushed")
int BPF_PROG(raw_frame_pushed, __u32 link, __u64 seq)
{
	return on_frame_pushed(link, seq);
}

/* The module has no BTF: its events' layouts, from driver/gaitmat_trace.h. */
struct gm_tp_start {
	__u64 common;
	__u32 link;
};

struct gm_tp_pushed {
	__u64 common;
	__u32 link;
	__u32 bytes;
	__u64 seq;
};

SEC("tp/gaitmat/gaitmat_frame_start")
int tp_frame_start(struct gm_tp_start *ctx)
{
	return on_frame_start(ctx->link);
}

SEC("tp/gaitmat/gaitmat_frame_pushed")
int tp_frame_pushed(struct gm_tp_pushed *ctx)
{
	return on_frame_pushed(ctx->link, ctx->seq);
}

/* ---- io_uring: a poll of ours fired, a read of ours finished ------------- */

static __always_inline struct chan *chan_of(__u32 tgid, __u32 stream)
{
	struct chan *ch = bpf_map_lookup_elem(&chans, &stream);

	return ch && ch->tgid == tgid ? ch : NULL;
}

static __always_inline int on_uring_complete(__u64 user_data)
{
	struct op_info *op;
	struct chan *ch;
	__u64 now;

	op = op_find(user_data);
	if (!op) {
		struct cqe_seen *cs;

		if (targ_tgid && bpf_get_current_pid_tgid() >> 32 != targ_tgid)
			return 0;
		cs = bpf_map_lookup_elem(&unknown_cqes, &user_data);
		if (!cs) {
			bpf_map_update_elem(&unknown_cqes, &user_data, &zero_cqe,
					    BPF_NOEXIST);
			cs = bpf_map_lookup_elem(&unknown_cqes, &user_data);
			if (!cs)
				return 0;
		}
		cs->t[cs->n & (UNKNOWN_TIMES - 1)] = bpf_ktime_get_ns();
		cs->n++;
		return 0;
	}
	ch = chan_of(op->tgid, op->stream);
	if (!ch)
		return 0;
	now = bpf_ktime_get_ns();
	if (op->poll) {
		if (!ch->t_woken)
			ch->t_woken = now;
	} else {
		ch->t_kdone = now;
		ch->kd[ch->kd_n & (KDONE_RING - 1)] = now;
		ch->kd_n++;
	}
	return 0;
}

static __always_inline __u64 uring_user_data(__u64 arg)
{
	__u64 ud = 0;

	if (!uring_cqe_arg)
		return arg;
	/* user_data is the CQE's first field (uapi) */
	bpf_probe_read_kernel(&ud, sizeof(ud), (void *)arg);
	return ud;
}

SEC("tp_btf/io_uring_complete")
int btf_uring_complete(__u64 *ctx)
{
	return on_uring_complete(uring_user_data(ctx[2]));
}

SEC("raw_tp/io_uring_complete")
int raw_uring_complete(struct bpf_raw_tracepoint_args *ctx)
{
	return on_uring_complete(uring_user_data(ctx->args[2]));
}

SEC("tp/io_uring/io_uring_complete")
int tp_uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	return on_uring_complete(BPF_CORE_READ(ctx, user_data));
}

/* ---- gaitcap's USDT probes (userspace/include/gcprobes.h) ---------------- */

static __always_inline bool keep(__u32 tgid, __u32 stream)
{
	if (targ_tgid && tgid != targ_tgid)
		return false;
	return targ_stream == GL_ANY || stream == targ_stream;
}

static __always_inline struct chan *chan_get(__u32 tgid, __u32 stream)
{
	struct chan *ch = bpf_map_lookup_elem(&chans, &stream);

	if (!ch || ch->tgid == tgid)
		return ch;
	bpf_map_update_elem(&chans, &stream, &zero_chan, BPF_ANY);
	ch = bpf_map_lookup_elem(&chans, &stream);
	if (ch)
		ch->tgid = tgid;
	return ch;
}

struct kd_find {
	__u32 stream;
	__u32 n;
	__u64 t, found;
};

static long kd_back(__u32 j, struct kd_find *f)
{
	struct chan *ch = bpf_map_lookup_elem(&chans, &f->stream);
	__u64 k;

	if (!ch)
		return 1;
	k = ch->kd[(f->n - 1 - j) & (KDONE_RING - 1)];
	if (k && k <= f->t) {
		f->found = k;
		return 1;
	}
	return 0;
}

/*
 * The channel's last read completion at or before @t; 0: not seen. The
 * ring is in time order: the first such entry from the newest back. A
 * callback, verified once, where an unrolled scan of the ring is not.
 */
static __always_inline __u64 kdone_before(struct chan *ch, __u32 stream, __u64 t)
{
	struct kd_find f = { .stream = stream, .n = ch->kd_n, .t = t };
	__u64 k = ch->kd[(ch->kd_n - 1) & (KDONE_RING - 1)];

	if (ch->kd_n && k <= t)
		return k;	/* the usual case, one message per chunk: the newest */
	bpf_loop(f.n < KDONE_RING ? f.n : KDONE_RING, kd_back, &f, 0);
	return f.found;
}

/*
 * The channel's read op, named by gaitcap: known from now on to the
 * io_uring programs. Its completion may have come before (not known then).
 */
static __always_inline void learn_read(struct chan *ch, __u32 tgid,
				       __u32 stream, __u64 op)
{
	struct op_info oi = { .tgid = tgid, .stream = stream };
	struct cqe_seen *cs;
	struct op_info *o;
	__u32 j;

	if (ch->op_read == op)
		return;
	ch->op_read = op;
	o = op_find(op);
	if (o && o->tgid == tgid && o->stream == stream && !o->poll)
		return;
	op_set(op, &oi);
	cs = bpf_map_lookup_elem(&unknown_cqes, &op);
	if (!cs)
		return;
	/* In order, unused ones (0) included: no branch per entry. */
	for (j = 0; j < UNKNOWN_TIMES; j++)
		ch->kd[(ch->kd_n + j) & (KDONE_RING - 1)] =
			cs->t[(cs->n + j) & (UNKNOWN_TIMES - 1)];
	ch->kd_n += UNKNOWN_TIMES;
	ch->t_kdone = cs->t[(cs->n - 1) & (UNKNOWN_TIMES - 1)];
	bpf_map_delete_elem(&unknown_cqes, &op);
}

/* A submission of a channel's op: a poll starts a wait, a read without one ends it. */
static __always_inline int chan_submitted(struct chan *ch, bool poll)
{
	if (poll)
		ch->t_woken = 0;	/* a new wait begins */
	else if (!ch->t_woken)
		ch->t_woken = bpf_ktime_get_ns();	/* no poll: woken now */
	return 0;
}

/* Without the submit tracepoint: gaitcap's probes name the op each time. */
static __always_inline int note_submit(__u32 stream, __u64 op, bool poll)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct op_info oi = { .tgid = tgid, .stream = stream, .poll = poll };
	struct chan *ch;

	if (!keep(tgid, stream))
		return 0;
	op_set(op, &oi);
	ch = chan_get(tgid, stream);
	return ch ? chan_submitted(ch, poll) : 0;
}

SEC("usdt")
int BPF_USDT(usdt_poll_submit, __u32 stream, __u64 op)
{
	return note_submit(stream, op, true);
}

SEC("usdt")
int BPF_USDT(usdt_read_submit, __u32 stream, __u64 op, __u32 bytes)
{
	return note_submit(stream, op, false);
}

/*
 * io_uring's submit tracepoint, in place of those two uprobes (a trap
 * each). A read op is learnt from read_done, its file descriptor from its
 * next submission, and a POLL_ADD on that descriptor is the channel's poll.
 */

/*
 * A read's completion reached a channel: its read op and its poll op are
 * learnt here, so no program runs at io_uring's submissions.
 */
SEC("usdt")
int BPF_USDT(usdt_read_done, __u32 stream, __u64 op, __s32 res, __u64 poll,
	     __u64 t_submit)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct op_info oi = { .tgid = tgid, .stream = stream, .poll = 1 };
	__u64 now = bpf_ktime_get_ns();
	struct chan *ch;

	if (!keep(tgid, stream))
		return 0;
	ch = chan_get(tgid, stream);
	if (!ch)
		return 0;
	learn_read(ch, tgid, stream, op);
	if (poll && ch->op_poll != poll) {
		op_set(poll, &oi);
		ch->op_poll = poll;
	}
	/*
	 * No poll before the read (a hold's timer, a drain): woken when it
	 * was submitted, as gaitcap says; else when it completed.
	 */
	if (!ch->t_woken && t_submit && (!ch->t_kdone || t_submit <= ch->t_kdone))
		ch->t_woken = t_submit;
	ch->last_woken = ch->t_woken ? ch->t_woken :
			 ch->t_kdone ? ch->t_kdone : now;
	/* Without the io_uring tracepoint the read and reap stages merge. */
	ch->last_kdone = ch->t_kdone;
	ch->last_reap = now;
	ch->t_woken = 0;
	ch->t_kdone = 0;
	return 0;
}

/* A chunk whose commit waits (gcprobes.h): its read, kept until then. */
SEC("usdt")
int BPF_USDT(usdt_chunk_seal, __u32 stream, __u64 first_seq)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct chunk *c;
	struct chan *ch;

	if (!keep(tgid, stream))
		return 0;
	ch = chan_get(tgid, stream);
	if (!ch)
		return 0;
	if (ch->sealed_tail - ch->sealed_head >= SEALED)
		ch->sealed_head++;	/* never committed: forget the oldest */
	c = &ch->sealed[ch->sealed_tail & (SEALED - 1)];
	c->first_seq = first_seq;
	c->woken = ch->last_woken;
	c->kdone = ch->last_kdone;
	c->reap = ch->last_reap;
	ch->sealed_tail++;
	return 0;
}

/* ---- Insoles: the kernel's Bluetooth receive path ------------------------- */

#define HCI_ACLDATA_PKT	0x02	/* bt_cb(skb)->pkt_type, the skb's first cb byte */
#define ACL_CONT	0x01	/* packet boundary flag: a continuation fragment */
#define ATT_OP_NOTIFY	0x1b
#define GL_AF_BLUETOOTH	31

/* An ATT notification queued on a socket, until gaitcap receives it. */
struct att_times {
	__u64 t_acl;		/* its first ACL packet at the HCI core; 0: not seen */
	__u64 t_queued;
};

struct msg_key {
	__u32 tgid;
	__u32 stream;
	__u64 seq;
};

/* One notification stored as record seq, until its chunk is committed. */
struct msg_times {
	__u64 t_acl, t_queued;	/* from att_times; 0: not seen */
	__u64 t_kdone;		/* its RECVMSG completed in the kernel; 0: unknown */
	__u64 t_reap;		/* its completion reached gaitcap; 0: early */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);		/* the skb */
	__type(value, __u64);
} acl_rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);		/* the receiving thread (hci_rx_work) */
	__type(value, __u64);		/* when the PDU's first ACL packet came */
} acl_cur SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FRAMES);
	__type(key, struct gl_pdu_key);
	__type(value, struct att_times);
} att_queued SEC(".maps");

/*
 * Messages stored and not yet committed, in a ring: 16 streams of 4096
 * slots, each checked against its key (docs/latency.md, "Overhead").
 */
#define MSG_SLOT(stream, seq)	((((stream) & 15) << 12) | ((seq) & 4095))

struct msg_slot {
	struct msg_key key;	/* tgid 0: free */
	struct msg_times t;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16 * 4096);
	__type(key, __u32);
	__type(value, struct msg_slot);
} msg_recs SEC(".maps");

/* Bytes past the PDU's end are zero on both sides. */
static __always_inline void pdu_key_trim(struct gl_pdu_key *k, __u32 len)
{
	int i;

	k->len = len;
#pragma unroll
	for (i = 0; i < GL_PDU_HEAD; i++)
		if ((__u32)i >= len)
			k->head[i] = 0;
}

/* The controller's driver hands an ACL packet to the HCI core. */
SEC("kprobe/hci_recv_frame")
int BPF_KPROBE(kp_hci_recv_frame, void *hdev, struct sk_buff *skb)
{
	__u64 now = bpf_ktime_get_ns(), key = (__u64)skb;
	__u8 type = 0;

	bpf_core_read(&type, sizeof(type), &skb->cb[0]);
	if (type != HCI_ACLDATA_PKT)
		return 0;
	bpf_map_update_elem(&acl_rx, &key, &now, BPF_ANY);
	return 0;
}

/*
 * The HCI core's rx work hands it to L2CAP, which queues the reassembled
 * PDU on the socket in the same call: the thread remembers when the PDU's
 * first packet came (a continuation keeps it).
 */
SEC("kprobe/l2cap_recv_acldata")
int BPF_KPROBE(kp_l2cap_recv_acldata, void *hcon, struct sk_buff *skb,
	       __u16 flags)
{
	__u64 key = (__u64)skb, tid = bpf_get_current_pid_tgid(), t, *in;

	in = bpf_map_lookup_elem(&acl_rx, &key);
	t = in ? *in : 0;
	if (in)
		bpf_map_delete_elem(&acl_rx, &key);
	if ((flags & 0x3) == ACL_CONT)
		return 0;
	if (t)
		bpf_map_update_elem(&acl_cur, &tid, &t, BPF_ANY);
	else
		bpf_map_delete_elem(&acl_cur, &tid);
	return 0;
}

static __always_inline int on_att_queued(struct sk_buff *skb)
{
	struct att_times at = { .t_queued = bpf_ktime_get_ns() };
	__u64 tid = bpf_get_current_pid_tgid(), *t;
	struct gl_pdu_key k = {};
	unsigned char *data;
	__u32 len;

	data = BPF_CORE_READ(skb, data);
	len = BPF_CORE_READ(skb, len);
	if (len < 3 || bpf_probe_read_kernel(k.head, sizeof(k.head), data) ||
	    k.head[0] != ATT_OP_NOTIFY)
		return 0;
	pdu_key_trim(&k, len);
	t = bpf_map_lookup_elem(&acl_cur, &tid);
	if (t) {
		at.t_acl = *t;
		bpf_map_delete_elem(&acl_cur, &tid);
	}
	bpf_map_update_elem(&att_queued, &k, &at, BPF_ANY);
	return 0;
}

/* Every socket queues through these: Bluetooth ones only. */
SEC("kprobe/__sock_queue_rcv_skb")
int BPF_KPROBE(kp_sock_queue, struct sock *sk, struct sk_buff *skb)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != GL_AF_BLUETOOTH)
		return 0;
	return on_att_queued(skb);
}

SEC("kprobe/sock_queue_rcv_skb_reason")
int BPF_KPROBE(kp_sock_queue_reason, struct sock *sk, struct sk_buff *skb)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != GL_AF_BLUETOOTH)
		return 0;
	return on_att_queued(skb);
}

/* L2CAP's own: just before it queues (the last resort, static). */
SEC("kprobe/l2cap_sock_recv_cb")
int BPF_KPROBE(kp_l2cap_sock_recv_cb, void *chan, struct sk_buff *skb)
{
	return on_att_queued(skb);
}

/* The kernel's times of the notification whose PDU starts with @k. */
static __always_inline void att_take(struct gl_pdu_key *k, __u32 len,
				     struct msg_times *mt)
{
	struct att_times *at;

	if (len < 3)
		return;
	k->len = len;
	at = bpf_map_lookup_elem(&att_queued, k);
	if (!at)
		return;
	mt->t_acl = at->t_acl;
	mt->t_queued = at->t_queued;
	bpf_map_delete_elem(&att_queued, k);
}

/* gaitcap stored a received message as record @seq of @stream. */
static __always_inline int on_msg(__u32 stream, __u64 seq, const void *pdu,
				  __u32 len, __u64 op, bool early)
{
	struct msg_key mk = { .tgid = bpf_get_current_pid_tgid() >> 32,
			      .stream = stream, .seq = seq };
	__u32 slot = MSG_SLOT(stream, seq);
	struct msg_times mt = {};
	struct gl_pdu_key k = {};
	struct msg_slot *ms;
	struct chan *ch;

	if (!keep(mk.tgid, stream))
		return 0;
	ch = chan_get(mk.tgid, stream);
	if (!ch)
		return 0;
	ch->msgs = 1;
	if (!early) {
		/* The receive's completion has just reached the channel. */
		learn_read(ch, mk.tgid, stream, op);
		mt.t_reap = bpf_ktime_get_ns();
		mt.t_kdone = kdone_before(ch, stream, mt.t_reap);
	}
	if (len >= 3 && !bpf_probe_read_user(k.head, sizeof(k.head), pdu)) {
		pdu_key_trim(&k, len);
		att_take(&k, len, &mt);
	}
	ms = bpf_map_lookup_elem(&msg_recs, &slot);
	if (ms) {
		ms->key = mk;
		ms->t = mt;
	}
	return 0;
}

/* Without notes (--msg-probes): a trap per message. */
SEC("usdt")
int BPF_USDT(usdt_msg_record, __u32 stream, __u64 seq, __u64 pdu, __u32 len,
	     __u64 op)
{
	return on_msg(stream, seq, (const void *)pdu, len, op, false);
}

SEC("usdt")
int BPF_USDT(usdt_msg_early, __u32 stream, __u64 seq, __u64 pdu, __u32 len)
{
	return on_msg(stream, seq, (const void *)pdu, len, 0, true);
}

struct msg_commit_ctx {
	__u64 first_seq;
	__u64 now;
	__u64 notes;		/* the stream's ring in gaitcap; 0: none */
	__u32 tgid;
	__u32 stream;
	__u64 msgs, hci, early;
	__u64 frames, chunks;	/* polled notes */
};

/* Message @seq's times from gaitcap's note (gcprobes.h); false: none. */
static __always_inline bool note_times(struct msg_commit_ctx *mc, __u64 seq,
				       struct msg_times *m)
{
	struct gl_pdu_key k = {};
	struct gl_msg_note n;
	struct chan *ch;

	if (bpf_probe_read_user(&n, sizeof(n), (const void *)(mc->notes +
				(seq & (GL_NOTE_RING - 1)) * sizeof(n))) ||
	    n.seq != seq || n.stream != mc->stream)
		return false;
	m->t_reap = n.t_reap;
	ch = chan_of(mc->tgid, mc->stream);
	if (ch) {
		learn_read(ch, mc->tgid, mc->stream, n.op);
		m->t_kdone = kdone_before(ch, mc->stream, n.t_reap);
	}
	/* gaitcap zeroed the bytes past the PDU's end */
	__builtin_memcpy(k.head, n.head, sizeof(k.head));
	att_take(&k, n.len, m);
	return true;
}

static __always_inline void msg_stages(struct msg_commit_ctx *mc,
				       struct msg_times *m);

/* One notification of a committed chunk: its insole stages. */
static long commit_msg(__u32 i, struct msg_commit_ctx *mc)
{
	__u64 seq = mc->first_seq + i;
	__u32 slot = MSG_SLOT(mc->stream, seq);
	struct msg_times noted = {}, *m = &noted;
	struct msg_slot *ms = NULL;

	if (!mc->notes || !note_times(mc, seq, &noted)) {
		/* An early one, or announced by msg_record */
		ms = bpf_map_lookup_elem(&msg_recs, &slot);
		if (!ms || ms->key.tgid != mc->tgid ||
		    ms->key.stream != mc->stream || ms->key.seq != seq)
			return 0;
		m = &ms->t;
	}
	msg_stages(mc, m);
	if (ms)
		ms->key.tgid = 0;	/* counted */
	return 0;
}

/* Polled notes, or before: a message's stages, committed at mc->now. */
static __always_inline void msg_stages(struct msg_commit_ctx *mc,
				       struct msg_times *m)
{
	__u64 done;

	mc->msgs++;
	if (m->t_acl && m->t_queued >= m->t_acl && mc->now >= m->t_acl) {
		hist_add(mc->stream, GL_ACL, m->t_queued - m->t_acl, 1);
		hist_add(mc->stream, GL_BLE_PATH, mc->now - m->t_acl, 1);
		mc->hci++;
	}
	if (!m->t_reap) {
		mc->early++;	/* received by the GATT sequence's own read */
	} else {
		/* Without the io_uring tracepoint, queue and reap merge. */
		done = m->t_kdone && m->t_kdone <= m->t_reap ? m->t_kdone : m->t_reap;
		if (m->t_queued && done >= m->t_queued)
			hist_add(mc->stream, GL_QUEUE, done - m->t_queued, 1);
		if (m->t_kdone && m->t_kdone <= m->t_reap)
			hist_add(mc->stream, GL_REAP, m->t_reap - m->t_kdone, 1);
		if (mc->now >= m->t_reap)
			hist_add(mc->stream, GL_COMMIT, mc->now - m->t_reap, 1);
	}
}

struct commit_ctx {
	__u64 first_seq;
	__u64 now;
	__u64 woken;		/* 0: the chunk's read was not seen */
	__u32 stream;
	__u32 matched;
};

/* One frame of a committed chunk: the stages that are its own. */
static long commit_frame(__u32 i, struct commit_ctx *cc)
{
	__u64 seq = cc->first_seq + i;
	__u32 slot = seq & (MAX_FRAMES - 1);
	struct frame *f;

	f = bpf_map_lookup_elem(&frames, &slot);
	if (!f || !f->t_pushed || f->seq != seq)
		return 0;
	if (f->t_start && f->t_start <= f->t_pushed)
		hist_add(cc->stream, GL_WIRE, f->t_pushed - f->t_start, 1);
	if (cc->woken)
		hist_add(cc->stream, GL_HOLD, cc->woken > f->t_pushed ?
			 cc->woken - f->t_pushed : 0, 1);
	if (cc->now >= f->t_pushed)
		hist_add(cc->stream, GL_PATH, cc->now - f->t_pushed, 1);
	f->t_pushed = 0;	/* counted: a stale slot never matches again */
	cc->matched++;
	return 0;
}

/* The sealed chunk @first_seq, from the FIFO's head; stale ones dropped. */
static __always_inline struct chunk *sealed_pop(struct chan *ch, __u64 first_seq)
{
	struct chunk *c;
	int i;

	for (i = 0; i < 4 && ch->sealed_head != ch->sealed_tail; i++) {
		c = &ch->sealed[ch->sealed_head & (SEALED - 1)];
		if (c->first_seq > first_seq)
			return NULL;	/* committed unsealed: keep the rest */
		ch->sealed_head++;
		if (c->first_seq == first_seq)
			return c;
	}
	return NULL;
}

SEC("usdt")
int BPF_USDT(usdt_chunk_commit, __u32 stream, __u64 first_seq, __u64 last_seq,
	     __u64 off, __u64 notes)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct commit_ctx cc = { .first_seq = first_seq, .stream = stream,
				 .now = bpf_ktime_get_ns() };
	struct msg_commit_ctx mc = { .first_seq = first_seq, .now = cc.now,
				     .tgid = tgid, .stream = stream,
				     .notes = use_notes ? notes : 0 };
	struct gl_stream_count *cnt;
	struct chunk *c = NULL, last;
	struct chan *ch;
	bool is_msgs;
	__u64 n;

	if (!keep(tgid, stream) || last_seq < first_seq)
		return 0;
	n = last_seq - first_seq + 1;
	ch = mc.notes ? chan_get(tgid, stream) : chan_of(tgid, stream);
	if (ch)
		c = sealed_pop(ch, first_seq);
	if (ch && !c) {
		/* Committed as it was sealed (no chunk_seal): the last read's. */
		last.woken = ch->last_woken;
		last.kdone = ch->last_kdone;
		last.reap = ch->last_reap;
		c = &last;
	}
	is_msgs = mc.notes || (ch && ch->msgs);
	if (is_msgs && n == 1) {
		commit_msg(0, &mc);	/* --watermark 1: no loop to set up */
	} else if (is_msgs) {
		/* An insole: every message has times of its own. */
		bpf_loop(n < MAX_LOOP ? n : MAX_LOOP, commit_msg, &mc, 0);
	} else if (c && c->reap) {
		/* Every frame of the chunk came with the same read. */
		cc.woken = c->woken;
		if (c->kdone && c->kdone >= c->woken && c->kdone <= c->reap) {
			hist_add(stream, GL_READ, c->kdone - c->woken, n);
			hist_add(stream, GL_REAP, c->reap - c->kdone, n);
		} else {
			hist_add(stream, GL_READ, c->reap - c->woken, n);
		}
		hist_add(stream, GL_COMMIT, cc.now - c->reap, n);
	}
	if (!is_msgs && n == 1)
		commit_frame(0, &cc);	/* --watermark 1: no loop to set up */
	else if (!is_msgs)
		bpf_loop(n < MAX_LOOP ? n : MAX_LOOP, commit_frame, &cc, 0);

	cnt = bpf_map_lookup_elem(&counts, &stream);
	if (!cnt)
		return 0;
	__sync_fetch_and_add(&cnt->frames, n);
	__sync_fetch_and_add(&cnt->chunks, 1);
	if (cc.matched)
		__sync_fetch_and_add(&cnt->matched, cc.matched);
	if (!is_msgs)
		return 0;
	__sync_fetch_and_add(&cnt->msgs, mc.msgs);
	__sync_fetch_and_add(&cnt->hci, mc.hci);
	__sync_fetch_and_add(&cnt->early, mc.early);
	return 0;
}

/* ---- Polled notes: no trap per commit (gcprobes.h, msg_notes) ------------ */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct gl_ring_key);
	__type(value, struct gl_ring_info);
} note_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GL_FINAL_RINGS);
	__type(key, __u32);
	__type(value, struct gl_final_ring);
} final_rings SEC(".maps");

/*
 * Where @stream's notes are; the read op of @seq's note is learnt now, so
 * its completions are matched from here on. @final: the session closes,
 * the ring is copied for the tool before the process goes.
 */
SEC("usdt")
int BPF_USDT(usdt_msg_notes, __u32 stream, __u64 notes, __u32 final, __u64 seq)
{
	struct gl_ring_key k = { .tgid = bpf_get_current_pid_tgid() >> 32,
				 .stream = stream };
	struct gl_ring_info ri = { .addr = notes, .final = final };
	__u32 fr = stream % GL_FINAL_RINGS;
	struct gl_final_ring *f;
	struct gl_msg_note n;
	struct chan *ch;

	if (!keep(k.tgid, stream) || !notes)
		return 0;
	ch = chan_get(k.tgid, stream);
	if (ch && !final &&
	    !bpf_probe_read_user(&n, sizeof(n), (const void *)(notes +
				 (seq & (GL_NOTE_RING - 1)) * sizeof(n))) &&
	    n.seq == seq && n.stream == stream && n.op)
		learn_read(ch, k.tgid, stream, n.op);
	if (final) {
		f = bpf_map_lookup_elem(&final_rings, &fr);
		if (!f || bpf_probe_read_user(f->notes, sizeof(f->notes),
					      (const void *)notes))
			return 0;
		f->tgid = k.tgid;
		f->stream = stream;
	}
	bpf_map_update_elem(&note_rings, &k, &ri, BPF_ANY);
	return 0;
}

/* Filled by the tool, one stream's committed notes in order, then run. */
struct gl_drain drain;

static long drain_one(__u32 i, struct msg_commit_ctx *mc)
{
	struct msg_times m = {};
	struct gl_pdu_key k = {};
	struct gl_msg_note *n;
	struct chan *ch;

	if (i >= GL_DRAIN_MAX)
		return 1;
	n = &drain.notes[i];
	if (n->stream != mc->stream || !n->t_commit)
		return 0;
	ch = chan_get(mc->tgid, mc->stream);
	if (!ch)
		return 1;
	if (n->t_commit != ch->last_commit) {
		ch->last_commit = n->t_commit;
		mc->chunks++;
	}
	m.t_reap = n->t_reap;
	if (n->op) {
		learn_read(ch, mc->tgid, mc->stream, n->op);
		m.t_kdone = kdone_before(ch, mc->stream, n->t_reap);
	}
	__builtin_memcpy(k.head, n->head, sizeof(k.head));
	att_take(&k, n->len, &m);
	/* A completion from before the message was queued is not its own. */
	if (m.t_kdone && m.t_queued && m.t_kdone < m.t_queued)
		m.t_kdone = 0;
	mc->now = n->t_commit;
	mc->frames++;
	msg_stages(mc, &m);
	return 0;
}

SEC("syscall")
int drain_notes(void *ctx)
{
	struct msg_commit_ctx mc = { .tgid = drain.tgid, .stream = drain.stream };
	struct gl_stream_count *cnt;
	__u32 stream = drain.stream;

	bpf_loop(drain.n < GL_DRAIN_MAX ? drain.n : GL_DRAIN_MAX, drain_one, &mc, 0);
	cnt = bpf_map_lookup_elem(&counts, &stream);
	if (!cnt)
		return 0;
	__sync_fetch_and_add(&cnt->frames, mc.frames);
	__sync_fetch_and_add(&cnt->chunks, mc.chunks);
	__sync_fetch_and_add(&cnt->msgs, mc.msgs);
	__sync_fetch_and_add(&cnt->hci, mc.hci);
	__sync_fetch_and_add(&cnt->early, mc.early);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
