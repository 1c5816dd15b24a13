// SPDX-License-Identifier: GPL-2.0
/* Advertising data -> insole name and decoder (adv.h). */
#include <errno.h>
#include <string.h>

#include "ble/adv.h"
#include "ble/insole_gatt.h"

/* AD types (Assigned Numbers, "Common Data Types"). */
#define AD_UUID16_SOME		0x02
#define AD_UUID16_ALL		0x03
#define AD_UUID32_SOME		0x04
#define AD_UUID32_ALL		0x05
#define AD_UUID128_SOME		0x06
#define AD_UUID128_ALL		0x07
#define AD_NAME_SHORT		0x08
#define AD_NAME_COMPLETE	0x09

/* The services that mean an insole, as 128-bit UUIDs in ATT byte order. */
static const struct {
	uint8_t uuid[16];
	const char *decoder;
} insole_services[] = {
	{ INSOLE_UUID128(INSOLE_SVC), "gaitcap-v1" },
	/* 0000fff0-0000-1000-8000-00805f9b34fb: FFF0 on the Base UUID. */
	{ { 0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00,
	    0x00, FFF0_SVC & 0xff, FFF0_SVC >> 8, 0x00, 0x00 }, "fff0" },
};

/* A 16-, 32- or 128-bit UUID (little-endian, @n bytes) seen in a list. */
static void saw_uuid(const uint8_t *u, size_t n, struct ble_adv_info *info)
{
	uint8_t full[16];
	size_t i;

	memcpy(full, insole_services[1].uuid, 12);
	memset(full + 12, 0, 4);
	memcpy(n == 16 ? full : full + 12, u, n);
	for (i = 0; i < sizeof(insole_services) / sizeof(insole_services[0]); i++) {
		if (memcmp(full, insole_services[i].uuid, 16))
			continue;
		/* The table is in order of preference. */
		if (!info->decoder || i == 0)
			info->decoder = insole_services[i].decoder;
		return;
	}
}

static void saw_name(const uint8_t *p, size_t n, bool complete,
		     struct ble_adv_info *info)
{
	size_t i;

	if (info->name_complete && !complete)
		return;
	if (n > BLE_ADV_NAME_MAX)
		n = BLE_ADV_NAME_MAX;
	/* The name is the device's to choose: nothing else reaches a terminal. */
	for (i = 0; i < n; i++)
		info->name[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	info->name[n] = '\0';
	info->name_complete = complete;
}

int ble_adv_parse(const uint8_t *ad, size_t len, struct ble_adv_info *info)
{
	size_t i = 0;
	int err = 0;

	while (i < len) {
		size_t n = ad[i], w = 0;
		const uint8_t *d;

		/*
		 * A zero length ends the advertising data early (the rest
		 * is padding); mgmt appends the scan response after it.
		 */
		if (!n) {
			i++;
			continue;
		}
		if (n > len - i - 1)
			return -EBADMSG;
		n--;		/* the type byte */
		d = ad + i + 2;
		switch (ad[i + 1]) {
		case AD_UUID16_SOME:
		case AD_UUID16_ALL:
			w = 2;
			break;
		case AD_UUID32_SOME:
		case AD_UUID32_ALL:
			w = 4;
			break;
		case AD_UUID128_SOME:
		case AD_UUID128_ALL:
			w = 16;
			break;
		case AD_NAME_SHORT:
		case AD_NAME_COMPLETE:
			saw_name(d, n, ad[i + 1] == AD_NAME_COMPLETE, info);
			break;
		}
		/* A list whose length is no multiple of its UUIDs' is skipped. */
		if (w && n % w)
			err = -EBADMSG;
		else
			for (size_t k = 0; w && k < n; k += w)
				saw_uuid(d + k, w, info);
		i += 2 + n;
	}
	return err;
}
