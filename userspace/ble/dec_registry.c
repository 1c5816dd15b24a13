// SPDX-License-Identifier: GPL-2.0
/* The insole models gaitcap decodes: a new model is one file + one line. */
#include <string.h>

#include "ble/insole_dec.h"

const struct insole_decoder *const insole_decoders[] = {
	&insole_dec_gaitcap_v1,
	&insole_dec_fff0,
	NULL
};

const struct insole_decoder *insole_decoder_find(const char *name)
{
	const struct insole_decoder *const *d;

	if (!name)
		return NULL;
	for (d = insole_decoders; *d; d++)
		if (!strcmp((*d)->name, name))
			return *d;
	return NULL;
}
