/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What gaitcap_latency.bpf.c and gaitcap_latency.c share: the stages, the
 * histogram layout, the map keys. Fixed-width types only.
 */
#ifndef GAITCAP_LATENCY_H
#define GAITCAP_LATENCY_H

/* One sample's path, in order (docs/latency.md, "Stages"). */
enum gl_stage {
	GL_WIRE,	/* first byte at the driver -> frame pushed */
	GL_HOLD,	/* frame pushed -> reader woken (the batching hold) */
	GL_READ,	/* reader woken -> read completed in the kernel */
	GL_REAP,	/* read completed -> its completion reaches gaitcap */
	GL_COMMIT,	/* completion reached gaitcap -> chunk committed */
	GL_PATH,	/* frame pushed -> chunk committed (the whole host path) */
	/*
	 * Insoles, one BLE notification each: ACL in -> ATT PDU on the socket
	 * -> RECVMSG completed; then GL_REAP and GL_COMMIT per notification.
	 */
	GL_ACL,		/* ACL data received by the HCI core -> queued on the socket */
	GL_QUEUE,	/* queued on the socket -> the RECVMSG completed */
	GL_BLE_PATH,	/* ACL data received -> chunk committed */
	GL_NSTAGES,
};

/*
 * Log-linear buckets: 8 per power of two (values below 8 exact), so a
 * percentile read from them is within 12.5 %. Bucket i < 8 holds i; above,
 * msb = i / 8 + 2 and the bucket holds [(8 + i % 8) << (msb - 3), +1 << (msb - 3)).
 */
#define GL_SUB_BITS	3
#define GL_SUB		(1 << GL_SUB_BITS)
#define GL_MAX_MSB	41		/* about 36 min in ns; longer goes last */
#define GL_SLOTS	((GL_MAX_MSB - GL_SUB_BITS + 2) * GL_SUB)

/* A power of two, so that a masked index is provably inside (6.1's verifier). */
#define GL_SLOT_ARRAY	512

struct gl_hist {
	__u64 slots[GL_SLOT_ARRAY];	/* the first GL_SLOTS are used */
	__u64 count;
	__u64 sum;
	__u64 max;
};

/* Frames committed per stream, whether or not every stage was seen. */
struct gl_stream_count {
	__u64 frames;
	__u64 chunks;
	__u64 matched;		/* frames whose driver events were seen */
	__u64 msgs;		/* of frames: messages the capture announced */
	__u64 hci;		/* of msgs: seen at the HCI core and on the socket */
	__u64 early;		/* of msgs: received before the channel (no CQE) */
};

#define GL_ANY		0xffffffffu	/* no stream/link filter */

/* Streams with counts and histograms: both are arrays indexed by stream. */
#define GL_MAX_STREAMS	256
#define GL_HIST_INDEX(stream, stage)	((stream) * GL_NSTAGES + (stage))

/*
 * A notification is recognised at the socket and in gaitcap by its ATT
 * PDU's length and first bytes: for the gaitcap-v1 profile they hold the
 * handle, the sample counter and the insole's clock (docs/latency.md).
 */
#define GL_PDU_HEAD	24

struct gl_pdu_key {
	__u32 len;
	__u8 head[GL_PDU_HEAD];	/* zero past len */
};

/*
 * What gaitcap notes of each received message while chunk_commit is
 * attached (userspace/include/gcprobes.h, struct gcprobe_msg): the commit
 * program reads them from its memory instead of a probe per message.
 */
#define GL_NOTE_RING	512

struct gl_msg_note {
	__u64 seq;
	__u64 t_reap;		/* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
	__u64 op;
	__u64 t_commit;		/* its chunk's commit; 0: not yet */
	__u32 stream;
	__u32 len;
	__u8 head[GL_PDU_HEAD];
};

/*
 * Polled notes (msg_notes attached): where each stream's ring is, as its
 * probe said, and the batch the tool hands to drain_notes.
 */
struct gl_ring_key {
	__u32 tgid;
	__u32 stream;
};

struct gl_ring_info {
	__u64 addr;		/* the ring in the process */
	__u32 final;		/* the session closed: its copy is in final_rings */
	__u32 pad;
};

#define GL_FINAL_RINGS	16	/* by stream % 16, as gaitcap's rings */

struct gl_final_ring {
	__u32 tgid;
	__u32 stream;
	struct gl_msg_note notes[GL_NOTE_RING];
};

#define GL_DRAIN_MAX	64

struct gl_drain {
	__u32 tgid;
	__u32 stream;
	__u32 n;
	__u32 pad;
	struct gl_msg_note notes[GL_DRAIN_MAX];
};

#endif /* GAITCAP_LATENCY_H */
