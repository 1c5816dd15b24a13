// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the advertising data parser of gaitcap devices
 * (userspace/ble/adv.c), fed what a nearby device may advertise. The parser
 * must answer 0 or -EBADMSG, read nothing outside the data, give a name of
 * printable ASCII only within its bound, name a decoder only when the
 * service's UUID bytes are in the data, and give the same answer when the
 * same report comes twice (as mgmt repeats them).
 *
 * Built with -DGEN_SEEDS, the same file writes the simulators' advertisements
 * and a few broken ones as seeds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ble/adv.h"
#include "ble/insole_gatt.h"

static const uint8_t svc128[16] = INSOLE_UUID128(INSOLE_SVC);

#ifndef GEN_SEEDS

#define FUZZ_ASSERT(c)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
				__FILE__, __LINE__, #c);		\
			abort();					\
		}							\
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fff0[2] = { FFF0_SVC & 0xff, FFF0_SVC >> 8 };
	struct ble_adv_info info = { .decoder = NULL }, again;
	uint8_t *v;
	size_t n;
	int ret;

	/* An exact-size copy, so ASan sees any read past the data. */
	v = malloc(size ? size : 1);
	FUZZ_ASSERT(v);
	if (size)
		memcpy(v, data, size);
	ret = ble_adv_parse(v, size, &info);
	FUZZ_ASSERT(ret == 0 || ret == -EBADMSG);
	n = strnlen(info.name, sizeof(info.name));
	FUZZ_ASSERT(n <= BLE_ADV_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(info.name[i] >= 0x20 && info.name[i] < 0x7f);
	FUZZ_ASSERT(!info.name_complete || memchr(v, 0x09, size));
	if (info.decoder) {
		FUZZ_ASSERT(insole_decoder_find(info.decoder));
		if (!strcmp(info.decoder, "gaitcap-v1"))
			FUZZ_ASSERT(memmem(v, size, svc128, 16));
		else
			FUZZ_ASSERT(memmem(v, size, fff0, 2));
	}
	/* The same report again adds nothing. */
	again = info;
	FUZZ_ASSERT(ble_adv_parse(v, size, &again) == ret);
	FUZZ_ASSERT(!memcmp(&again, &info, sizeof(info)));
	free(v);
	return 0;
}

#else /* GEN_SEEDS */

static void seed(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	uint8_t b[64] = { 2, 0x01, 0x06, 17, 0x07 };

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* gaitinsole-sim's: flags, the service list, the name (scan response). */
	memcpy(b + 5, svc128, 16);
	memcpy(b + 21, "\x08\x09GI-LEFT", 9);
	seed(argv[1], "gaitcap-v1", b, 30);
	seed(argv[1], "fff0", "\x02\x01\x06\x03\x03\xf0\xff\x0a\x09" "FFF-RIGHT", 18);
	seed(argv[1], "fff0-uuid32", "\x05\x05\xf0\xff\x00\x00", 6);
	seed(argv[1], "padding", "\x03\x02\xf0\xff\x00\x00\x00\x03\x08GI", 11);
	seed(argv[1], "cut", "\x03\x03\xf0\xff\x0a\x09GI-L", 10);
	seed(argv[1], "names", "\x04\x08\x1b[J\x05\x09" "ABCD", 11);
	return 0;
}

#endif /* GEN_SEEDS */
