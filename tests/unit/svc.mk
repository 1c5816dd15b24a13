# SPDX-License-Identifier: GPL-2.0
# gaitcap service (docs/operating.md): appliance.conf, session names, peer
# credentials, the control protocol, a session through the socket, and the
# io_uring ring limited to capture's operations (IORING_REGISTER_RESTRICTIONS).
UNIT_TESTS += test_svc
test_svc_SRCS := tests/unit/test_svc.c \
	$(addprefix userspace/service/, conf.c proto.c service.c) \
	$(addprefix userspace/engine/, ring.c engine.c chan.c compact.c control.c \
		src_fd.c src_iio.c src_ble.c) $(GAITBLE_TEST_SRCS) \
	$(addprefix userspace/session/, crc32c.c format.c meta.c writer.c \
		reader.c recover.c)
test_svc_LDLIBS := -lsystemd -ludev -luring -liio -lpthread -ljson-c -lzstd -lxxhash -lm
