# SPDX-License-Identifier: GPL-2.0
# libgcsession: the session file format (writer, reader, recovery).
# Users link it with $(gcsession_LDLIBS).
LIBS += gcsession
gcsession_SRCS := $(addprefix userspace/session/, \
	crc32c.c format.c meta.c writer.c reader.c recover.c)
gcsession_LDLIBS := -ljson-c -lzstd -lxxhash -lpthread
