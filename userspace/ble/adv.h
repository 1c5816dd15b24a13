/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an LE advertisement (or scan response) says about an insole: its
 * name and the decoder a capture would use. The data is a list of AD
 * structures (Core Specification Supplement, Part A, section 1;
 * Core Vol 3, Part C, section 11): u8 length, u8 type, length - 1 bytes.
 */
#ifndef BLE_ADV_H
#define BLE_ADV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longer names are cut; a legacy advertisement holds at most 29 bytes. */
#define BLE_ADV_NAME_MAX	48

struct ble_adv_info {
	/* Printable ASCII only: every other byte is shown as '?'. */
	char name[BLE_ADV_NAME_MAX + 1];
	bool name_complete;	/* Complete Local Name, not a shortened one */
	/* "gaitcap-v1" or "fff0" (insole_decoder_find()), NULL: not an insole. */
	const char *decoder;
};

/*
 * Add what @ad says to @info (zero it first; a scan response parsed into
 * the same @info completes its advertisement). A Complete Local Name
 * replaces a shortened one, never the reverse; the gaitcap service wins
 * over FFF0, as the connect sequence prefers it. Zero bytes between
 * structures are padding. Returns 0, or -EBADMSG when a structure runs
 * past @len (what came before it counts) or a UUID list has a length that
 * is no multiple of its UUIDs' (that list is skipped).
 */
int ble_adv_parse(const uint8_t *ad, size_t len, struct ble_adv_info *info);

#endif /* BLE_ADV_H */
