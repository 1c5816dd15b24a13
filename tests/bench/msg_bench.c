// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap-msgbench: the engine's MESSAGES channel over a socketpair
 * (AF_UNIX, SOCK_SEQPACKET, SO_TIMESTAMPNS on), as an L2CAP ATT socket
 * delivers notifications: one message per recvmsg. A thread sends N
 * messages of S bytes as fast as the socket takes them; the engine stores
 * them in a session file. Reports the capture thread's CPU per message
 * (the kernel's work for its inline recvmsg included) and the rate, the
 * least of R rounds. docs/capture.md, "Messages straight into the file".
 *
 *   gaitcap-msgbench [-n N] [-s S] [-r R] DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "session/gcsession.h"

#define META "{\"subject\":\"BENCH-01\",\"task\":\"bench\"," \
	     "\"appliance\":\"bench-01\",\"software\":\"msgbench\"}"

struct bsrc {
	struct eng_source s;
	int fd;
	uint32_t stream;
	uint32_t size;
};

struct sender {
	int fd;
	unsigned long n;
	uint32_t size;
	pthread_t th;
};

static int64_t clk(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rec_info(void *priv, const uint8_t *rec, uint32_t len,
		     struct eng_rec_info *ri)
{
	uint32_t seq = 0;

	(void)priv;
	if (len >= 4)
		memcpy(&seq, rec, 4);
	ri->seq = seq;
}

static int bsrc_start(struct eng_source *s)
{
	struct bsrc *b = s->priv;
	struct gcs_stream_def def = {
		.kind = GCS_KIND_BLE_ATT, .ts_offset = GCS_NO_TS,
		.ts_clock = GCS_CLOCK_REALTIME,
		.desc_json = "{\"device\":\"msgbench\"}",
	};
	struct eng_chan_def cd = {
		.label = s->name, .fd = b->fd, .kind = ENG_CHAN_MESSAGES,
		.msg_max = b->size + 8, .rx_timestamp = true, .has_seq = true,
		.rec_info = rec_info, .priv = b,
	};
	int ret = gcs_writer_add_stream(eng_writer(s->e), &def, &b->stream);

	if (ret)
		return ret;
	cd.stream = b->stream;
	return eng_chan_add(s->e, s, &cd, NULL);
}

static int bsrc_chan_end(struct eng_source *s, struct eng_chan *c, int err)
{
	(void)s;
	(void)c;
	return err;
}

static const struct eng_source_ops bsrc_ops = {
	.kind = "bench", .start = bsrc_start, .chan_end = bsrc_chan_end,
};

static void *send_all(void *arg)
{
	struct sender *sd = arg;
	uint8_t buf[4096] = { 0 };

	for (unsigned long i = 0; i < sd->n; i++) {
		uint32_t seq = (uint32_t)i;

		memcpy(buf, &seq, 4);
		memset(buf + 4, (int)(i & 0xff), sd->size - 4);
		if (send(sd->fd, buf, sd->size, 0) < 0) {
			perror("send");
			break;
		}
	}
	close(sd->fd);
	return NULL;
}

static int one_round(const char *dir, unsigned long n, uint32_t size,
		     double *cpu_ns, double *rate, uint64_t *chunks)
{
	char path[4096];
	struct gcs_writer_opts wo;
	struct gcs_writer *w;
	struct eng_chan_stats st;
	struct sender sd = { .n = n, .size = size };
	struct bsrc b = { .size = size };
	struct eng_opts o;
	struct eng *e;
	int sv[2], on = 1, ret;
	int64_t c0, c1, t0, t1;

	snprintf(path, sizeof(path), "%s/msgbench.gcs", dir);
	unlink(path);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv))
		return -errno;
	setsockopt(sv[0], SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) & ~O_NONBLOCK);
	gcs_writer_opts_init(&wo);
	wo.no_compact = true;
	ret = gcs_writer_create(&w, path, &wo, META);
	if (ret)
		return ret;
	eng_opts_init(&o);
	o.no_compact = true;
	ret = eng_create(&e, w, &o);
	if (ret)
		return ret;
	b.fd = sv[0];
	b.s.ops = &bsrc_ops;
	b.s.priv = &b;
	snprintf(b.s.name, sizeof(b.s.name), "sock");
	ret = eng_add_source(e, &b.s);
	if (ret)
		return ret;
	sd.fd = sv[1];
	t0 = clk(CLOCK_MONOTONIC);
	c0 = clk(CLOCK_THREAD_CPUTIME_ID);
	pthread_create(&sd.th, NULL, send_all, &sd);
	ret = eng_run(e, 0);
	c1 = clk(CLOCK_THREAD_CPUTIME_ID);
	t1 = clk(CLOCK_MONOTONIC);
	pthread_join(sd.th, NULL);
	eng_chan_get_stats(eng_chan_at(e, 0), &st);
	eng_destroy(e);
	gcs_writer_close(w);
	close(sv[0]);
	unlink(path);
	if (ret)
		return ret;
	if (st.records != n || st.lost) {
		fprintf(stderr, "msgbench: %llu of %lu messages, %llu lost\n",
			(unsigned long long)st.records, n,
			(unsigned long long)st.lost);
		return -EPROTO;
	}
	*cpu_ns = (double)(c1 - c0) / (double)n;
	*rate = (double)n / ((double)(t1 - t0) / 1e9);
	*chunks = st.chunks;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 200000;
	uint32_t size = 244;	/* an ATT notification at MTU 247 */
	unsigned int rounds = 3;
	double best_cpu = 0, best_rate = 0;
	uint64_t chunks = 0;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:r:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 's':
			size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || size < 4 || size > 4000 || !n || !rounds)
		goto usage;
	for (unsigned int i = 0; i < rounds; i++) {
		double cpu, rate;
		int ret = one_round(argv[optind], n, size, &cpu, &rate, &chunks);

		if (ret) {
			fprintf(stderr, "msgbench: %s\n", strerror(-ret));
			return 2;
		}
		if (!i || cpu < best_cpu)
			best_cpu = cpu;
		if (rate > best_rate)
			best_rate = rate;
	}
	printf("msgbench: %lu messages of %u bytes, best of %u: %.0f ns CPU per message (capture thread), %.0f messages/s, %llu chunks\n",
	       n, size, rounds, best_cpu, best_rate,
	       (unsigned long long)chunks);
	return 0;
usage:
	fprintf(stderr, "usage: gaitcap-msgbench [-n N] [-s BYTES] [-r ROUNDS] DIR\n");
	return 1;
}
