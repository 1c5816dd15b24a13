/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parser of Moticon OpenGo text exports (docs/import-moticon.md): one line
 * at a time, so that a long recording streams through and the fuzzer drives
 * exactly the code the importer runs. No I/O, no allocation.
 */
#ifndef QC_MOTICON_H
#define QC_MOTICON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOT_CELLS	16
#define MOT_MAX_LINE	65536
#define MOT_MAX_COLS	128

/* What a column holds; per side (left 0, right 1). */
enum mot_field {
	MOT_F_TIME = 0,
	MOT_F_CELL,		/* index 0..15 */
	MOT_F_ACC,		/* index 0..2: X Y Z */
	MOT_F_GYRO,		/* index 0..2 */
	MOT_F_FORCE,
	MOT_F_COP,		/* index 0 X, 1 Y */
	MOT_F_EVENT_LABEL,	/* free text: never kept */
	MOT_F_EVENT,
	MOT_F_IGNORED,		/* known, derived by the software: dropped */
};

struct mot_col {
	uint8_t field;		/* enum mot_field */
	uint8_t side;
	uint8_t index;
};

/* Bits of mot_side.have (a field counts when it was not empty). */
#define MOT_HAVE_CELLS	0x1u	/* all 16 */
#define MOT_HAVE_IMU	0x2u	/* all 6 */
#define MOT_HAVE_FORCE	0x4u
#define MOT_HAVE_COP	0x8u	/* both */
#define MOT_PARTIAL	0x10u	/* some cells or IMU axes empty, not all */

struct mot_side {
	uint32_t have;
	float cell[MOT_CELLS];	/* N/cm² */
	float acc[3];		/* g */
	float gyro[3];		/* dps */
	float force;		/* N */
	float cop[2];		/* -0.5..+0.5 of the insole's width, length */
	bool has_event;
	int32_t event;		/* the event column's number */
};

struct mot_row {
	uint64_t index;		/* 0-based data row */
	int64_t t_ns;		/* the recording's clock */
	struct mot_side side[2];
};

struct mot_header {
	bool have_start;
	int64_t start_ms;	/* "Start timestamp": ms since the epoch */
	char serial[2][24];	/* sanitized tokens, "" if absent */
	char size[8];
	char rec_type[16];
	/* Free text: filled only when the caller asks (keep_labels). */
	char label[64];		/* "Name" */
	char tag[64];
	bool has_notes;		/* notes are prose: never stored */
	unsigned int unknown_fields;
};

struct mot_parser {
	bool keep_labels;
	/* state */
	bool have_columns;
	unsigned int n_cols;
	struct mot_col col[MOT_MAX_COLS];
	uint32_t side_cols[2];	/* MOT_HAVE_* for columns present */
	uint64_t line_no;
	uint64_t rows;
	int64_t last_t_ns;
	struct mot_header hdr;
	char err[160];
};

void mot_parser_init(struct mot_parser *p, bool keep_labels);
/*
 * Feed one line (without its newline; a trailing CR is ignored). Returns 0
 * for a header line, 1 when *@row holds a data row, or -EINVAL / -E2BIG
 * with p->err saying what and where.
 */
int mot_parser_line(struct mot_parser *p, const char *line, size_t len,
		    struct mot_row *row);
/* At the end of the input: -EINVAL if the file held no columns or no rows. */
int mot_parser_finish(struct mot_parser *p);

#endif /* QC_MOTICON_H */
