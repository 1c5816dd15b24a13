/* SPDX-License-Identifier: GPL-2.0 */
/* Importers of other systems' recordings into sessions (docs/import-moticon.md). */
#ifndef QC_IMPORT_H
#define QC_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The derived-values record of a Moticon side stream (32 bytes, LE). */
#define MOT_DERIVED_SIZE	32
#define MOT_DERIVED_F_FORCE	0x1u
#define MOT_DERIVED_F_COP	0x2u
/* The ATT handle imported notifications carry (none was on the air). */
#define MOT_ATT_HANDLE		0x0012
/* gaitcap-v1 codes the import uses (exact for the export's decimals). */
#define MOT_NCM2_PER_CODE	0.01
#define MOT_G_PER_CODE		(1.0 / 2048.0)
#define MOT_DPS_PER_CODE	0.07

struct import_opts {
	const char *subject;		/* pseudonymous code (required) */
	bool keep_labels;		/* the header's Name and Tag, as tokens */
};

struct import_report {
	uint64_t rows;
	uint64_t samples[2];		/* per side, imported */
	uint64_t missing[2];		/* rows without that side's sample */
	uint64_t partial[2];		/* of which partly empty */
	uint64_t gaps[2];		/* gap records written */
	uint64_t events[2];
	uint64_t inexact;		/* values not on the layout's grid */
	uint32_t period_us;
	uint64_t cut_line;		/* the unterminated last line, left out */
	bool dropped_notes;		/* the header had notes: never stored */
	unsigned int unknown_fields;
};

/*
 * Import a Moticon OpenGo text export @in into a new session @out (never
 * overwritten). The whole file is checked before anything is written: on
 * -EINVAL @err says what is wrong and where, and no session is left.
 * A last row that the file's end cuts short (no newline, not a valid row)
 * is left out and named in @rep->cut_line.
 */
int import_moticon(const char *in, const char *out,
		   const struct import_opts *o, struct import_report *rep,
		   char *err, size_t errlen);

#endif /* QC_IMPORT_H */
