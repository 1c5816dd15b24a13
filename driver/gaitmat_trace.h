/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoints of the gaitmat driver (trace system "gaitmat").
 *
 * An out-of-tree module has no BTF on Debian kernels, so eBPF programs use
 * them as raw_tp/<name> (the TP_PROTO arguments below, in order, one u64
 * context slot each) or tp/gaitmat/<name> (the fields of the event's format
 * file). The arguments are plain integers for that reason. Event names
 * carry the driver's prefix: tracepoints share one kernel-wide namespace. @link is the
 * number the driver logs when a transport device binds ("gaitmat link N").
 *
 *   gaitmat_frame_start(link)             a frame's first byte arrived
 *   gaitmat_frame_pushed(link, seq, clock_us, timestamp, bytes)
 *                                         its scan is in the IIO buffer
 *   gaitmat_error(link, kind, code, count) @count added to the counter of
 *                                         @kind; @code is the codec's
 *                                         -GM_E* code or -errno, or 0
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM gaitmat

#if !defined(GAITMAT_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define GAITMAT_TRACE_H

#include <linux/tracepoint.h>

#ifndef GAITMAT_ERR_KIND_DEFINED
#define GAITMAT_ERR_KIND_DEFINED
/* What an error event counted; each kind has its sysfs counter. */
enum gaitmat_err_kind {
	GAITMAT_ERR_CRC,	/* crc_errors: CRC mismatch */
	GAITMAT_ERR_RESYNC,	/* resyncs: framing lost, resynchronised */
	GAITMAT_ERR_FRAME,	/* frame_errors: framed, but malformed */
	GAITMAT_ERR_SEQ_GAP,	/* seq_gaps: sequence numbers skipped */
	GAITMAT_ERR_CTRL_DROP,	/* controller_dropped: reported by it */
	GAITMAT_ERR_OVERRUN,	/* overruns: the IIO buffer was full */
};
#endif

TRACE_DEFINE_ENUM(GAITMAT_ERR_CRC);
TRACE_DEFINE_ENUM(GAITMAT_ERR_RESYNC);
TRACE_DEFINE_ENUM(GAITMAT_ERR_FRAME);
TRACE_DEFINE_ENUM(GAITMAT_ERR_SEQ_GAP);
TRACE_DEFINE_ENUM(GAITMAT_ERR_CTRL_DROP);
TRACE_DEFINE_ENUM(GAITMAT_ERR_OVERRUN);

TRACE_EVENT(gaitmat_frame_start,
	    TP_PROTO(u32 link),
	    TP_ARGS(link),
	    TP_STRUCT__entry(__field(u32, link)),
	    TP_fast_assign(__entry->link = link;),
	    TP_printk("link=%u", __entry->link)
);

TRACE_EVENT(gaitmat_frame_pushed,
	    TP_PROTO(u32 link, u64 seq, u64 clock_us, s64 timestamp, u32 bytes),
	    TP_ARGS(link, seq, clock_us, timestamp, bytes),
	    TP_STRUCT__entry(__field(u32, link)
			     __field(u32, bytes)
			     __field(u64, seq)
			     __field(u64, clock_us)
			     __field(s64, timestamp)),
	    TP_fast_assign(__entry->link = link;
			   __entry->bytes = bytes;
			   __entry->seq = seq;
			   __entry->clock_us = clock_us;
			   __entry->timestamp = timestamp;),
	    TP_printk("link=%u seq=%llu clock_us=%llu timestamp=%lld bytes=%u",
		      __entry->link, __entry->seq, __entry->clock_us,
		      __entry->timestamp, __entry->bytes)
);

TRACE_EVENT(gaitmat_error,
	    TP_PROTO(u32 link, u32 kind, s32 code, u64 count),
	    TP_ARGS(link, kind, code, count),
	    TP_STRUCT__entry(__field(u32, link)
			     __field(u32, kind)
			     __field(s32, code)
			     __field(u64, count)),
	    TP_fast_assign(__entry->link = link;
			   __entry->kind = kind;
			   __entry->code = code;
			   __entry->count = count;),
	    TP_printk("link=%u kind=%s code=%d count=%llu", __entry->link,
		      __print_symbolic(__entry->kind,
				       { GAITMAT_ERR_CRC, "crc" },
				       { GAITMAT_ERR_RESYNC, "resync" },
				       { GAITMAT_ERR_FRAME, "frame" },
				       { GAITMAT_ERR_SEQ_GAP, "seq_gap" },
				       { GAITMAT_ERR_CTRL_DROP, "controller_drop" },
				       { GAITMAT_ERR_OVERRUN, "overrun" }),
		      __entry->code, __entry->count)
);

#endif /* GAITMAT_TRACE_H */

/* Out of the tree's include/trace: the build adds -I for this folder. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE gaitmat_trace
#include <trace/define_trace.h>
