// SPDX-License-Identifier: GPL-2.0
/*
 * Fault specs, their placement on the scan count, and the byte injectors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "gaitmat_proto.h"

static const char *const kind_names[FAULT_KIND_COUNT] = {
	[FAULT_GARBAGE] = "garbage",
	[FAULT_CRC] = "crc",
	[FAULT_TRUNCATE] = "truncate",
	[FAULT_DROP] = "drop",
	[FAULT_RESET] = "reset",
	[FAULT_SILENCE] = "silence",
	[FAULT_BUDGET] = "budget",
};

const char *fault_kind_name(enum fault_kind kind)
{
	return kind < FAULT_KIND_COUNT ? kind_names[kind] : "?";
}

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

int fault_plan_add(struct fault_plan *plan, const char *arg, char *err,
		   size_t err_len)
{
	struct fault_spec spec = { .count = 1 };
	char buf[128], *opts, *tok, *save = NULL;
	unsigned int k;
	uint64_t v;

	if (plan->n_specs >= FAULT_MAX_SPECS)
		return fail(err, err_len, "at most %d --fault options",
			    FAULT_MAX_SPECS);
	if (strlen(arg) >= sizeof(buf))
		return fail(err, err_len, "fault spec too long");
	strcpy(buf, arg);
	opts = strchr(buf, ':');
	if (opts)
		*opts++ = '\0';
	for (k = 0; k < FAULT_KIND_COUNT; k++)
		if (!strcmp(buf, kind_names[k]))
			break;
	if (k == FAULT_KIND_COUNT)
		return fail(err, err_len,
			    "unknown fault '%s' (garbage, crc, truncate, drop, reset, silence, budget)",
			    buf);
	spec.kind = k;
	spec.ms = FAULT_DEF_SILENCE_MS;
	spec.len = FAULT_DEF_GARBAGE;
	for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *key = eq ? tok : "n";
		const char *val = eq ? eq + 1 : tok;

		if (eq)
			*eq = '\0';
		if (!strcmp(key, "n")) {
			if (parse_u64(val, 100000, &v) || !v)
				return fail(err, err_len, "%s: bad count '%s'",
					    arg, val);
			spec.count = v;
		} else if (!strcmp(key, "at")) {
			if (parse_u64(val, UINT32_MAX, &v))
				return fail(err, err_len, "%s: bad scan '%s'",
					    arg, val);
			spec.has_at = true;
			spec.at = v;
		} else if (!strcmp(key, "ms") && k == FAULT_SILENCE) {
			if (parse_u64(val, 3600 * 1000, &v) || !v)
				return fail(err, err_len, "%s: bad length '%s'",
					    arg, val);
			spec.ms = v;
		} else if (!strcmp(key, "len") && k == FAULT_GARBAGE) {
			if (parse_u64(val, FAULT_GARBAGE_MAX, &v) || !v)
				return fail(err, err_len,
					    "%s: garbage length must be 1..%d",
					    arg, FAULT_GARBAGE_MAX);
			spec.len = v;
		} else {
			return fail(err, err_len, "%s: unknown option '%s'",
				    arg, key);
		}
	}
	plan->specs[plan->n_specs++] = spec;
	return 0;
}

/* Scans a fault covers: a silence hides every scan it spans. */
static uint64_t fault_span(const struct fault_spec *s, unsigned int rate_hz)
{
	if (s->kind == FAULT_SILENCE)
		return (uint64_t)s->ms * rate_hz / 1000 + 2;
	return 1;
}

static int cmp_event(const void *a, const void *b)
{
	const struct fault_event *x = a, *y = b;

	if (x->scan != y->scan)
		return x->scan < y->scan ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

struct interval {
	uint64_t lo, hi;	/* [lo, hi) */
};

static bool overlaps(const struct interval *iv, size_t n, uint64_t lo,
		     uint64_t hi)
{
	size_t i;

	/* One free scan between faults, so their effects stay apart. */
	for (i = 0; i < n; i++)
		if (lo < iv[i].hi + 1 && iv[i].lo < hi + 1)
			return true;
	return false;
}

static int place_random(const struct fault_spec *sp, uint64_t span,
			uint64_t n_scans, struct sim_rng *rng,
			struct fault_event *ev, struct interval *iv, size_t *n,
			size_t total, char *err, size_t err_len)
{
	unsigned int c, tries;
	uint64_t scan = 0;

	for (c = 0; c < sp->count; c++) {
		/* Room for a frame before (to see a gap) and after. */
		if (n_scans < span + 3)
			return fail(err, err_len,
				    "the walk (%llu scans) is too short for a %s fault",
				    (unsigned long long)n_scans,
				    fault_kind_name(sp->kind));
		for (tries = 0; tries < 10000; tries++) {
			scan = 1 + sim_rng_below(rng, n_scans - span - 2);
			if (!overlaps(iv, *n, scan, scan + span))
				break;
		}
		if (tries == 10000)
			return fail(err, err_len,
				    "no room for %zu faults in %llu scans",
				    total, (unsigned long long)n_scans);
		ev[*n].scan = scan;
		ev[*n].kind = sp->kind;
		ev[*n].param = sp->kind == FAULT_SILENCE ? sp->ms : sp->len;
		iv[*n].lo = scan;
		iv[*n].hi = scan + span;
		(*n)++;
	}
	return 0;
}

int fault_plan_place(const struct fault_plan *plan, uint64_t n_scans,
		     unsigned int rate_hz, uint64_t seed,
		     struct fault_event **events, size_t *n_events,
		     char *err, size_t err_len)
{
	struct fault_event *ev = NULL;
	struct interval *iv = NULL;
	size_t n = 0, total = 0, i;
	struct sim_rng rng;
	unsigned int s, c, pass;
	int ret = 0;

	*events = NULL;
	*n_events = 0;
	for (s = 0; s < plan->n_specs; s++)
		total += plan->specs[s].count;
	if (!total)
		return 0;
	ev = calloc(total, sizeof(*ev));
	iv = calloc(total, sizeof(*iv));
	if (!ev || !iv) {
		ret = -ENOMEM;
		goto out;
	}
	sim_rng_seed(&rng, seed, SIM_RNG_FAULT_PLACE);
	/* Explicit positions first: random ones then keep clear of them. */
	for (s = 0; s < plan->n_specs; s++) {
		const struct fault_spec *sp = &plan->specs[s];
		uint64_t span = fault_span(sp, rate_hz);

		if (!sp->has_at)
			continue;
		for (c = 0; c < sp->count; c++) {
			ev[n].scan = sp->at + (uint64_t)c * span;
			ev[n].kind = sp->kind;
			ev[n].param = sp->kind == FAULT_SILENCE ? sp->ms : sp->len;
			iv[n].lo = ev[n].scan;
			iv[n].hi = ev[n].scan + span;
			n++;
		}
	}
	/* Widest first (silences): they need the largest free stretches. */
	for (pass = 0; pass < 2; pass++) {
		for (s = 0; s < plan->n_specs; s++) {
			const struct fault_spec *sp = &plan->specs[s];
			uint64_t span = fault_span(sp, rate_hz);
			bool wide = span > 1;

			if (sp->has_at || wide == !!pass)
				continue;
			ret = place_random(sp, span, n_scans, &rng, ev, iv, &n,
					   total, err, err_len);
			if (ret)
				goto out;
		}
	}
	qsort(ev, n, sizeof(*ev), cmp_event);
	for (i = 1; i < n; i++) {
		if (ev[i].scan == ev[i - 1].scan) {
			ret = fail(err, err_len, "two faults at scan %llu",
				   (unsigned long long)ev[i].scan);
			goto out;
		}
	}
	*events = ev;
	*n_events = n;
	ev = NULL;
out:
	free(iv);
	free(ev);
	return ret;
}

size_t fault_garbage(struct sim_rng *rng, unsigned int max_len, uint8_t *out)
{
	size_t len, i;

	if (max_len < 1)
		max_len = 1;
	if (max_len > FAULT_GARBAGE_MAX)
		max_len = FAULT_GARBAGE_MAX;
	len = 1 + sim_rng_below(rng, max_len);
	for (i = 0; i < len; i++)
		out[i] = 1 + sim_rng_below(rng, 255);
	out[len] = GM_DELIM;
	return len + 1;
}

size_t fault_corrupt_body(struct sim_rng *rng, uint8_t *raw, size_t raw_len,
			  uint8_t *xor_out)
{
	size_t body_len = raw_len - GM_HDR_LEN - GM_CRC_LEN;
	size_t off = GM_HDR_LEN + sim_rng_below(rng, body_len);
	uint8_t x = 1 + sim_rng_below(rng, 255);

	/* CRC-32C detects every error confined to one byte. */
	raw[off] ^= x;
	*xor_out = x;
	return off;
}

size_t fault_truncate(struct sim_rng *rng, uint8_t *wire, size_t wire_len)
{
	size_t keep = 1 + sim_rng_below(rng, wire_len - 2);

	wire[keep] = GM_DELIM;
	return keep + 1;
}
