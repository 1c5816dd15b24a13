/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the writer, reader and recovery; not part of the API. */
#ifndef GCS_INTERNAL_H
#define GCS_INTERNAL_H

#include "session/gcsession.h"

/* The portable CRC-32C path alone (the tests compare it with hardware). */
uint32_t gcs_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* CRC-32C of the file's salt (8 bytes LE): the seed of every record CRC. */
uint32_t gcs_salt_seed(uint64_t salt);

/* gcs_body_sum() with the seed already derived from @salt. */
uint32_t gcs_body_sum_seeded(uint64_t incompat, uint64_t salt, uint32_t seed,
			     const void *buf, size_t len);

/* hdr_crc of a record header of @hdr_len bytes (its hdr_crc field skipped). */
uint32_t gcs_rec_hdr_crc(uint32_t seed, const void *hdr, uint32_t hdr_len);

/* Validate a header slot of GCS_HDR_SLOT_SIZE bytes; copies it out if valid. */
int gcs_hdr_decode(const void *buf, struct gcs_disk_header *h);
/* Fill in the slot's constant fields (if @fresh) and its CRC. */
void gcs_hdr_seal(struct gcs_disk_header *h);

/*
 * Structural checks of a common record header found at @off in a file whose
 * records must end by @limit. No CRC: the caller reads hdr_len bytes next.
 */
int gcs_rec_check_common(const struct gcs_rec_hdr *h, uint64_t off,
			 uint64_t limit);
/* Checks of a whole header (@hdr, hdr_len bytes) after its CRC matched. */
int gcs_rec_check_ext(const uint8_t *hdr);

/*
 * Count the variable-size records framed in a payload; -EBADMSG if the
 * framing does not exactly fill @len bytes.
 */
int gcs_var_count(const uint8_t *p, uint32_t len, uint32_t *n);

/*
 * Privacy policy on metadata (meta.c): check @json and return, in *@out, the
 * compact form that gets stored (exactly what was checked).
 */
int gcs_meta_canon(const char *json, bool session, char **out,
		   const char **why);

/* Reader internals for recovery. */
size_t gcs_reader_records(const struct gcs_reader *r,
			  const struct gcs_index_entry **recs);
uint32_t gcs_reader_seed(const struct gcs_reader *r);
/* The body sum (4.1) of @buf in @r's file. */
uint32_t gcs_reader_body_sum(const struct gcs_reader *r, const void *buf,
			     size_t len);
const struct gcs_disk_header *gcs_reader_header(const struct gcs_reader *r);

#define GCS_ARRAY_GROW(ptr, n, cap) \
	gcs_array_grow((void **)&(ptr), (n), &(cap), sizeof(*(ptr)))
int gcs_array_grow(void **ptr, size_t n, size_t *cap, size_t elem);

static inline uint64_t gcs_min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

#endif /* GCS_INTERNAL_H */
