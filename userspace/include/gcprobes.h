/* SPDX-License-Identifier: GPL-2.0 */
/*
 * USDT probes of the capture path (provider "gaitcap"), for gaitcap-latency
 * (bpf/, docs/latency.md). Each one is a single nop plus an ELF note when
 * nothing is attached: no semaphores, arguments already in registers.
 *
 *   poll_submit(stream, op)                  a POLL_ADD for the channel
 *   read_submit(stream, op, bytes)           a READ/READV/RECVMSG prepared
 *   read_done(stream, op, res)               its completion reaches the channel
 *   chunk_seal(stream, first_seq, last_seq, off)    sealed, but its commit waits
 *   chunk_commit(stream, first_seq, last_seq, off)  its commit word stored
 *   msg_record(stream, seq, pdu, len)        a received message became record seq
 *   msg_early(stream, seq, pdu, len)         one received before its channel
 *
 * @op is the struct ring_op whose address is the SQE's user_data, so the
 * io_uring tracepoints can be matched with the channel. Sequence numbers
 * are the chunk's (session-format.md 4.4); @off its file offset. @pdu
 * points at the message's bytes (an ATT PDU for insoles), so the probe can
 * match it with what the kernel queued on the socket. A chunk committed as
 * it is sealed (the usual case) fires chunk_commit only; chunk_seal marks
 * one whose commit waits for an earlier reservation (records are published
 * in file order).
 */
#ifndef GCPROBES_H
#define GCPROBES_H

#define GCPROBE_PROVIDER	"gaitcap"

#ifndef GCPROBES_DISABLE
#include <sys/sdt.h>
#define GCPROBE2(n, a, b)		DTRACE_PROBE2(gaitcap, n, a, b)
#define GCPROBE3(n, a, b, c)		DTRACE_PROBE3(gaitcap, n, a, b, c)
#define GCPROBE4(n, a, b, c, d)		DTRACE_PROBE4(gaitcap, n, a, b, c, d)
#else
#define GCPROBE2(n, a, b)		do { } while (0)
#define GCPROBE3(n, a, b, c)		do { } while (0)
#define GCPROBE4(n, a, b, c, d)		do { } while (0)
#endif

#endif /* GCPROBES_H */
