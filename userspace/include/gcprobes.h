/* SPDX-License-Identifier: GPL-2.0 */
/*
 * USDT probes of the capture path (provider "gaitcap"), for gaitcap-latency
 * (bpf/, docs/latency.md). Each one is a single nop plus an ELF note when
 * nothing is attached; each has a semaphore (the kernel counts the uprobes
 * attached to it) so that work done only for a tool is skipped without one.
 *
 *   poll_submit(stream, op)                  a POLL_ADD for the channel
 *   read_submit(stream, op, bytes)           a READ/READV/RECVMSG prepared
 *   read_done(stream, op, res, poll, t_submit)  its completion reaches
 *                                            the channel (not MESSAGES channels);
 *                                            poll: the channel's POLL_ADD op;
 *                                            t_submit: CLOCK_MONOTONIC ns when
 *                                            the read was submitted
 *   chunk_seal(stream, first_seq, last_seq, off)    sealed, but its commit waits
 *   chunk_commit(stream, first_seq, last_seq, off, notes)  commit word stored
 *   msg_commit(...)                          the same, a stream with notes
 *   msg_record(stream, seq, pdu, len, op)    a received message became record seq
 *   msg_early(stream, seq, pdu, len)         one received before its channel
 *   msg_notes(stream, notes, final, seq)     where a stream's notes are (as a
 *                                            tool attaches, every 256th commit,
 *                                            final 1 as the session closes);
 *                                            seq: the last one committed
 *
 * @op is the struct ring_op whose address is the SQE's user_data, so the
 * io_uring tracepoints can be matched with the channel. Sequence numbers
 * are the chunk's (session-format.md 4.4); @off its file offset. @pdu
 * points at the message's bytes (an ATT PDU for insoles), so the probe can
 * match it with what the kernel queued on the socket. A chunk committed as
 * it is sealed (the usual case) fires chunk_commit only; chunk_seal marks
 * one whose commit waits for an earlier reservation (records are published
 * in file order).
 *
 * While chunk_commit or msg_notes is attached, each received message is
 * also noted in memory (struct gcprobe_msg, a ring per stream). A stream
 * with notes commits through msg_commit, whose @notes points at its ring,
 * so a tool gets every message of the chunk from the one trap of its commit
 * instead of one per message.
 *
 * While msg_notes is attached, each commit also stamps its notes' t_commit:
 * a tool attached to msg_notes and not to msg_commit reads the rings from
 * its own process (process_vm_readv) and the insoles trap on nothing but
 * msg_notes, at the first commit after a tool attached, every 256th and as
 * the session closes (docs/latency.md, "Overhead").
 */
#ifndef GCPROBES_H
#define GCPROBES_H

#include <stdint.h>

#define GCPROBE_PROVIDER	"gaitcap"

/* Layout shared with bpf/gaitcap_latency.h (struct gl_msg_note). */
#define GCPROBE_MSG_HEAD	24	/* the PDU's first bytes, zero past len */
#define GCPROBE_MSG_STREAMS	16	/* rings, by stream % 16 */
#define GCPROBE_MSG_RING	512	/* notes per ring, by seq % 512 */

struct gcprobe_msg {
	uint64_t seq;		/* the record's; valid when seq and stream match */
	uint64_t t_reap;	/* CLOCK_MONOTONIC ns: its completion reached the channel */
	uint64_t op;		/* the receive's user_data; 0: received before the channel */
	uint64_t t_commit;	/* CLOCK_MONOTONIC ns of its chunk's commit; 0: not yet */
	uint32_t stream;
	uint32_t len;
	uint8_t head[GCPROBE_MSG_HEAD];
};

#ifndef GCPROBES_DISABLE
#define _SDT_HAS_SEMAPHORES 1
/* Registers or constants only: libbpf 1.1 cannot parse indexed memory operands. */
#define STAP_SDT_ARG_CONSTRAINT nr
#include <sys/sdt.h>

#define GCPROBE_SEMA(n)		gaitcap_##n##_semaphore
extern volatile unsigned short GCPROBE_SEMA(poll_submit), GCPROBE_SEMA(read_submit),
	GCPROBE_SEMA(read_done), GCPROBE_SEMA(chunk_seal),
	GCPROBE_SEMA(chunk_commit), GCPROBE_SEMA(msg_record),
	GCPROBE_SEMA(msg_early), GCPROBE_SEMA(msg_notes), GCPROBE_SEMA(msg_commit);

#define GCPROBE_ENABLED(n)	__builtin_expect(GCPROBE_SEMA(n) != 0, 0)
/* Messages are noted for either way of reading them. */
#define GCPROBE_NOTES_ON()	(GCPROBE_ENABLED(chunk_commit) || GCPROBE_ENABLED(msg_notes))
#define GCPROBE2(n, a, b)		DTRACE_PROBE2(gaitcap, n, a, b)
#define GCPROBE3(n, a, b, c)		DTRACE_PROBE3(gaitcap, n, a, b, c)
#define GCPROBE4(n, a, b, c, d)		DTRACE_PROBE4(gaitcap, n, a, b, c, d)
#define GCPROBE5(n, a, b, c, d, e)	DTRACE_PROBE5(gaitcap, n, a, b, c, d, e)
#else
#define GCPROBE_ENABLED(n)	0
#define GCPROBE_NOTES_ON()	0
#define GCPROBE2(n, a, b)		do { } while (0)
#define GCPROBE3(n, a, b, c)		do { } while (0)
#define GCPROBE4(n, a, b, c, d)		do { } while (0)
#define GCPROBE5(n, a, b, c, d, e)	do { } while (0)
#endif

/* session/writer.c: note a message (op 0, t_reap 0: received before its channel). */
void gcprobe_note_msg(uint32_t stream, uint64_t seq, uint64_t op,
		      int64_t t_reap, const void *pdu, uint32_t len);
uintptr_t gcprobe_msg_notes(uint32_t stream);

#endif /* GCPROBES_H */
