# SPDX-License-Identifier: GPL-2.0
# libgcengine: the io_uring capture engine and its sources (docs/capture.md).
# Users link it with $(gcengine_LDLIBS) and libgcsession.
LIBS += gcengine
gcengine_SRCS := $(addprefix userspace/engine/, \
	ring.c engine.c chan.c compact.c control.c src_fd.c src_iio.c src_ble.c)
gcengine_LDLIBS := -luring -liio -lpthread
