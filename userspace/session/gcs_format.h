/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * On-disk layout of a gaitcap session file. docs/session-format.md is the
 * normative description; this header mirrors it, section for section.
 *
 * Every multi-byte field is little-endian. The structs below have natural
 * alignment and no padding (checked by static assertions), so on a
 * little-endian host they are the byte layout; code reading untrusted bytes
 * memcpy()s them into a local struct before looking at them.
 */
#ifndef GCS_FORMAT_H
#define GCS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the session library maps on-disk structs directly: little-endian hosts only"
#endif

/* ---- File header (format doc section 3) ---------------------------------- */

#define GCS_FILE_MAGIC		"\x89GAITS\r\n"	/* 8 bytes, no NUL */
#define GCS_VERSION_MAJOR	1
#define GCS_VERSION_MINOR	0

/* Two copies of the header, each alone in its own 4 KiB block. */
#define GCS_BLOCK		4096u
#define GCS_HDR_SLOT_SIZE	256u
#define GCS_HDR_SLOTS		2
#define GCS_DATA_START		(GCS_HDR_SLOTS * GCS_BLOCK)

enum gcs_file_state {
	GCS_STATE_OPEN = 1,	/* a writer has (or had) the file open */
	GCS_STATE_CLOSED = 2,	/* closed by its writer: end_off is exact */
	GCS_STATE_RECOVERED = 3, /* tail repaired by gcs_recover() */
};

/* Feature bits. A reader refuses a file with an incompat bit it does not know. */
#define GCS_INCOMPAT_BODY_XXH64	(1ull << 0)	/* body sums: XXH64, see 4.1 */
#define GCS_INCOMPAT_KNOWN	GCS_INCOMPAT_BODY_XXH64
#define GCS_COMPAT_KNOWN	0ull

struct gcs_disk_header {
	uint8_t magic[8];
	uint16_t ver_major;
	uint16_t ver_minor;
	uint32_t slot_size;		/* GCS_HDR_SLOT_SIZE */
	uint64_t incompat;
	uint64_t compat;
	uint64_t salt;			/* random per file, seeds every record CRC */
	uint64_t generation;		/* the valid slot with the larger one wins */
	uint32_t state;			/* enum gcs_file_state */
	uint32_t block_size;		/* GCS_BLOCK */
	uint64_t data_start;		/* GCS_DATA_START */
	uint64_t durable_end;		/* records below this survived a sync */
	uint64_t end_off;		/* CLOSED/RECOVERED: end of the last record */
	uint64_t index_off;		/* offset of the INDEX record, or 0 */
	uint32_t sync_interval_ms;	/* the writer's durability interval */
	uint32_t sync_error;		/* errno of a failed sync, or 0 (7.3) */
	uint8_t reserved[156];
	uint32_t crc;			/* CRC-32C of bytes [0, 252) */
};

/* ---- Records (section 4) --------------------------------------------------- */

#define GCS_REC_MAGIC		0x52534347u	/* "GCSR" in file order */
#define GCS_REC_ALIGN		8u
#define GCS_REC_HDR_LEN		32u
#define GCS_MAX_HDR_LEN		65528u
#define GCS_MAX_BODY		(64u << 20)	/* 64 MiB */
#define GCS_MAX_RECORD		(GCS_MAX_HDR_LEN + GCS_MAX_BODY + GCS_REC_ALIGN)

enum gcs_rec_type {
	GCS_REC_META = 0x0001,		/* body: session metadata JSON */
	GCS_REC_STREAM = 0x0002,	/* ext: gcs_stream_ext; body: JSON */
	GCS_REC_CHUNK = 0x0010,		/* ext: gcs_chunk_ext; body: payload */
	GCS_REC_ZCHUNK = 0x0011,	/* ext: gcs_zchunk_ext + parts; body: zstd */
	GCS_REC_CLOCK = 0x0020,		/* ext: gcs_clock_ext */
	GCS_REC_MARKER = 0x0021,	/* ext: gcs_marker_ext */
	GCS_REC_GAP = 0x0022,		/* ext: gcs_gap_ext */
	GCS_REC_INDEX = 0x0030,		/* ext: gcs_index_ext; body: entries */
	GCS_REC_PAD = 0x00ff,		/* nothing: fills an abandoned reservation */
};

/*
 * Common record header. The record occupies `size` bytes; the next record
 * starts right after. `magic` is the commit word: the writer stores it last,
 * with release ordering, after everything else the CRCs cover.
 */
struct gcs_rec_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t hdr_len;	/* common + type-specific header, multiple of 8 */
	uint32_t size;		/* whole record incl. padding, multiple of 8 */
	uint32_t body_len;	/* bytes after the header covered by body_crc */
	uint32_t body_crc;	/* the body sum of section 4.1 */
	uint32_t flags;		/* none defined in 1.0: written 0, ignored */
	uint32_t reserved;	/* written 0, ignored */
	uint32_t hdr_crc;	/* CRC-32C(salt, header with hdr_crc = 0) */
};

#define GCS_STREAM_NONE		0xffffffffu
#define GCS_NO_TS		0xffffffffu
#define GCS_MAX_STREAMS		256u

struct gcs_stream_ext {
	uint32_t stream;
	uint16_t kind;		/* enum gcs_stream_kind */
	uint16_t flags;
	uint32_t record_size;	/* 0: variable-size records (gcs_var_rec) */
	uint32_t ts_offset;	/* le64 ns inside each fixed record, or GCS_NO_TS */
	uint32_t ts_clock;	/* enum gcs_clock of that timestamp */
	uint32_t reserved;
};

#define GCS_CHUNK_F_CONTIGUOUS	0x1u	/* record i has sequence first_seq + i */

struct gcs_chunk_ext {
	uint32_t stream;
	uint32_t n_records;
	uint64_t first_seq;
	uint64_t last_seq;
	int64_t t_first_ns;	/* host CLOCK_MONOTONIC */
	int64_t t_last_ns;
	uint32_t flags;		/* GCS_CHUNK_F_* */
	uint32_t reserved;
};

#define GCS_CODEC_ZSTD		1
#define GCS_MAX_PARTS		1024u

struct gcs_zchunk_ext {
	uint32_t stream;
	uint16_t codec;		/* GCS_CODEC_ZSTD */
	uint16_t n_parts;
	uint64_t raw_len;	/* sum of the parts' raw_len */
};

/* One raw chunk a ZCHUNK replaces; its payload is the next raw_len bytes. */
struct gcs_zpart {
	uint64_t orig_off;	/* offset of the CHUNK record it replaces */
	uint64_t first_seq;
	uint64_t last_seq;
	int64_t t_first_ns;
	int64_t t_last_ns;
	uint32_t n_records;
	uint32_t raw_len;
	uint32_t raw_crc;	/* the CHUNK's body_crc */
	uint32_t flags;		/* the CHUNK's flags (GCS_CHUNK_F_*) */
};

struct gcs_clock_ext {
	uint32_t stream;	/* whose device clock, or GCS_STREAM_NONE */
	uint32_t flags;		/* GCS_CLOCKREC_F_* */
	int64_t device_ns;
	int64_t mono_ns;	/* CLOCK_MONOTONIC */
	int64_t real_ns;	/* CLOCK_REALTIME */
	int64_t boot_ns;	/* CLOCK_BOOTTIME */
	int64_t uncertainty_ns;	/* half-width of the instant's window */
};

#define GCS_CLOCKREC_F_DEVICE	0x1u	/* device_ns is meaningful */

struct gcs_marker_ext {
	uint32_t code;		/* enum gcs_marker_code */
	uint32_t stream;	/* or GCS_STREAM_NONE */
	int64_t t_ns;		/* host CLOCK_MONOTONIC */
	int64_t value;
};

#define GCS_SEQ_UNKNOWN		UINT64_MAX

struct gcs_gap_ext {
	uint32_t stream;
	uint32_t reason;	/* enum gcs_gap_reason */
	uint64_t first_seq;	/* first missing, or GCS_SEQ_UNKNOWN */
	uint64_t last_seq;	/* last missing (inclusive), or GCS_SEQ_UNKNOWN */
	int64_t t_start_ns;
	int64_t t_end_ns;
};

struct gcs_index_ext {
	uint32_t n_entries;
	uint32_t reserved;
};

struct gcs_index_entry {
	uint64_t off;
	uint16_t type;
	uint16_t reserved;
	uint32_t stream;
};

/* Variable-size record framing inside a CHUNK payload (record_size == 0). */
struct gcs_var_rec {
	uint32_t len;		/* data bytes that follow */
	uint32_t flags;
	int64_t t_ns;		/* in the stream's ts_clock */
	/* uint8_t data[len], then zero padding to a multiple of 8 */
};

#define GCS_VAR_HDR_LEN		16u

/* Byte size of every type-specific header. */
#define GCS_STREAM_HDR_LEN	(GCS_REC_HDR_LEN + sizeof(struct gcs_stream_ext))
#define GCS_CHUNK_HDR_LEN	(GCS_REC_HDR_LEN + sizeof(struct gcs_chunk_ext))
#define GCS_ZCHUNK_HDR_LEN(n)	(GCS_REC_HDR_LEN + sizeof(struct gcs_zchunk_ext) + \
				 (n) * sizeof(struct gcs_zpart))
#define GCS_CLOCK_HDR_LEN	(GCS_REC_HDR_LEN + sizeof(struct gcs_clock_ext))
#define GCS_MARKER_HDR_LEN	(GCS_REC_HDR_LEN + sizeof(struct gcs_marker_ext))
#define GCS_GAP_HDR_LEN		(GCS_REC_HDR_LEN + sizeof(struct gcs_gap_ext))
#define GCS_INDEX_HDR_LEN	(GCS_REC_HDR_LEN + sizeof(struct gcs_index_ext))

#define GCS_MAX_JSON		(1u << 20)

_Static_assert(sizeof(struct gcs_disk_header) == GCS_HDR_SLOT_SIZE, "header");
_Static_assert(offsetof(struct gcs_disk_header, crc) == 252, "header crc");
_Static_assert(sizeof(struct gcs_rec_hdr) == GCS_REC_HDR_LEN, "rec hdr");
_Static_assert(sizeof(struct gcs_stream_ext) == 24, "stream ext");
_Static_assert(sizeof(struct gcs_chunk_ext) == 48, "chunk ext");
_Static_assert(sizeof(struct gcs_zchunk_ext) == 16, "zchunk ext");
_Static_assert(sizeof(struct gcs_zpart) == 56, "zpart");
_Static_assert(sizeof(struct gcs_clock_ext) == 48, "clock ext");
_Static_assert(sizeof(struct gcs_marker_ext) == 24, "marker ext");
_Static_assert(sizeof(struct gcs_gap_ext) == 40, "gap ext");
_Static_assert(sizeof(struct gcs_index_ext) == 8, "index ext");
_Static_assert(sizeof(struct gcs_index_entry) == 16, "index entry");
_Static_assert(sizeof(struct gcs_var_rec) == GCS_VAR_HDR_LEN, "var rec");
_Static_assert(GCS_ZCHUNK_HDR_LEN(GCS_MAX_PARTS) <= GCS_MAX_HDR_LEN, "parts");

static inline uint64_t gcs_align8(uint64_t v)
{
	return (v + GCS_REC_ALIGN - 1) & ~(uint64_t)(GCS_REC_ALIGN - 1);
}

#endif /* GCS_FORMAT_H */
