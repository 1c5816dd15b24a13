// SPDX-License-Identifier: GPL-2.0
/*
 * gaitcap-latency: per-stage latency of the gait mat's samples, from the
 * first byte at the driver to the chunk committed in the session file, and
 * of the insoles' notifications, from the ACL packet at the HCI core.
 * docs/latency.md says what each stage is and how to read the output.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>
#include <sys/utsname.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "gaitcap_latency.h"
#include "gaitcap_latency.skel.h"
#include "gcprobes.h"

/* gaitcap's notes are read as the BPF side declares them. */
_Static_assert(sizeof(struct gl_msg_note) == sizeof(struct gcprobe_msg) &&
	       offsetof(struct gl_msg_note, head) == offsetof(struct gcprobe_msg, head) &&
	       offsetof(struct gl_msg_note, stream) == offsetof(struct gcprobe_msg, stream) &&
	       offsetof(struct gl_msg_note, t_commit) == offsetof(struct gcprobe_msg, t_commit) &&
	       GL_NOTE_RING == GCPROBE_MSG_RING && GL_PDU_HEAD == GCPROBE_MSG_HEAD,
	       "struct gl_msg_note differs from struct gcprobe_msg");

static struct env {
	pid_t pid;
	const char *binary;
	__u32 stream;
	__u32 link;
	bool json;
	bool cumulative;
	bool summary;
	bool msecs;
	bool timestamp;
	bool verbose;
	bool msg_probes;
	bool commit_probe;
	int interval;
	int times;
} env = {
	.stream = GL_ANY,
	.link = GL_ANY,
	.interval = INT_MAX,
	.times = INT_MAX,
};

static const char *const stage_names[GL_NSTAGES] = {
	[GL_WIRE] = "wire",
	[GL_HOLD] = "hold",
	[GL_READ] = "read",
	[GL_REAP] = "reap",
	[GL_COMMIT] = "commit",
	[GL_PATH] = "path",
	[GL_ACL] = "acl",
	[GL_QUEUE] = "queue",
	[GL_BLE_PATH] = "ble_path",
};

static const char *const stage_what[GL_NSTAGES] = {
	[GL_WIRE] = "first byte -> frame pushed",
	[GL_HOLD] = "frame pushed -> reader woken",
	[GL_READ] = "reader woken -> read done",
	[GL_REAP] = "read done -> gaitcap has it",
	[GL_COMMIT] = "gaitcap has it -> committed",
	[GL_PATH] = "frame pushed -> committed",
	[GL_ACL] = "ACL at HCI core -> on socket",
	[GL_QUEUE] = "on socket -> receive done",
	[GL_BLE_PATH] = "ACL at HCI core -> committed",
};

/* Which attach point each hook got (NULL: none on this kernel). */
static struct hooks {
	const char *frame_start, *frame_pushed, *uring, *uring_submit;
	const char *hci_recv, *l2cap_recv, *sock_queue;
	bool usdt_msgs;
	bool msg_notes;		/* insole messages from chunk_commit's notes */
	bool polled;		/* ... or from reading the notes (msg_notes probe) */
	char binary[PATH_MAX];
} hooks;

const char *argp_program_version = "gaitcap-latency 0.1";
const char argp_program_doc[] =
"Where each gait-mat sample's and insole notification's time goes, from the\n"
"wire to the session file.\n"
"\n"
"USAGE: gaitcap-latency [-p PID] [-s STREAM] [-d LINK] [-j] [interval [count]]\n"
"\n"
"EXAMPLES:\n"
"    gaitcap-latency              # histograms per stage until Ctrl-C\n"
"    gaitcap-latency 1 10         # every second, ten times\n"
"    gaitcap-latency -S -p 1234   # percentiles only, one capture process\n"
"    gaitcap-latency -s 0 -d 2    # stream 0 of the session, mat link 2\n"
"    gaitcap-latency -S -s 1      # one insole (session stream 1)\n"
"    gaitcap-latency -j 5         # a JSON object every 5 seconds\n";

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Only this capture process", 0 },
	{ "binary", 'b', "PATH", 0, "The gaitcap program to probe (default: next to this one, or /proc/PID/exe)", 0 },
	{ "stream", 's', "STREAM", 0, "Only this session stream", 0 },
	{ "device", 'd', "LINK", 0, "Only this mat (the driver's link number, \"gaitmat link N\")", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per interval (times in ns)", 0 },
	{ "summary", 'S', NULL, 0, "Percentiles only, no histograms", 0 },
	{ "cumulative", 'c', NULL, 0, "Keep counting across intervals", 0 },
	{ "milliseconds", 'm', NULL, 0, "Millisecond histograms", 0 },
	{ "timestamp", 'T', NULL, 0, "Print a timestamp with each interval", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose debug output", 0 },
	{ "msg-probes", 'M', NULL, 0, "Insole messages from a probe each (a trap per message), not from gaitcap's notes", 0 },
	{ "commit-probe", 'C', NULL, 0, "Insole notes from a probe at each commit (a trap each), not read by this tool", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *v > max)
		return -EINVAL;
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	static int pos_args;
	unsigned long v;

	switch (key) {
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case 'p':
		if (parse_uint(arg, INT_MAX, &v) || !v)
			argp_error(state, "invalid PID: %s", arg);
		env.pid = (pid_t)v;
		break;
	case 'b':
		env.binary = arg;
		break;
	case 's':
		if (parse_uint(arg, GL_MAX_STREAMS - 1, &v))
			argp_error(state, "invalid stream (0-255): %s", arg);
		env.stream = (__u32)v;
		break;
	case 'd':
		if (parse_uint(arg, UINT_MAX - 1, &v))
			argp_error(state, "invalid link: %s", arg);
		env.link = (__u32)v;
		break;
	case 'j':
		env.json = true;
		break;
	case 'S':
		env.summary = true;
		break;
	case 'c':
		env.cumulative = true;
		break;
	case 'm':
		env.msecs = true;
		break;
	case 'T':
		env.timestamp = true;
		break;
	case 'M':
		env.msg_probes = true;
		break;
	case 'C':
		env.commit_probe = true;
		break;
	case 'v':
		env.verbose = true;
		break;
	case ARGP_KEY_ARG:
		if (parse_uint(arg, INT_MAX, &v) || !v)
			argp_error(state, "invalid %s: %s",
				   pos_args ? "count" : "interval", arg);
		if (pos_args == 0)
			env.interval = (int)v;
		else if (pos_args == 1)
			env.times = (int)v;
		else
			argp_usage(state);
		pos_args++;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *format,
			   va_list args)
{
	if (level == LIBBPF_DEBUG && !env.verbose)
		return 0;
	if (level == LIBBPF_WARN && !env.verbose)
		return 0;	/* failed attach tries are expected: we fall back */
	return vfprintf(stderr, format, args);
}

static volatile sig_atomic_t exiting;

/* Every link made, destroyed at exit (skeleton links cover one per program). */
static struct bpf_link *links[32];
static int n_links;

static void keep_link(struct bpf_link *l)
{
	if (n_links < (int)(sizeof(links) / sizeof(links[0])))
		links[n_links++] = l;
}

static void sig_handler(int sig)
{
	(void)sig;
	exiting = 1;
}

/* ---- Feature probing ------------------------------------------------------- */

/*
 * io_uring_complete(ctx, req, user_data, res, cflags, extra1, extra2) became
 * io_uring_complete(ctx, req, cqe) (6.4): count the BTF prototype's
 * parameters (plus the leading void *) when there is BTF, else go by the
 * release.
 */
static bool uring_cqe_arg(const struct btf *vmlinux)
{
	const struct btf_type *t;
	struct utsname u;
	int id, major = 0, minor = 0;

	if (vmlinux) {
		id = btf__find_by_name_kind(vmlinux, "btf_trace_io_uring_complete",
					    BTF_KIND_TYPEDEF);
		if (id > 0) {
			t = btf__type_by_id(vmlinux, id);
			t = t ? btf__type_by_id(vmlinux, t->type) : NULL;
			t = t && btf_is_ptr(t) ? btf__type_by_id(vmlinux, t->type) : NULL;
			if (t && btf_is_func_proto(t))
				return btf_vlen(t) <= 4;
		}
	}
	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 4);
}

static bool btf_has_tp(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	if (!vmlinux)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

/* Attach the first of @progs that works; the others stay loaded, unused. */
static const char *attach_first(struct bpf_program **progs,
				const char *const *kinds, int n)
{
	struct bpf_link *l;
	int i;

	for (i = 0; i < n; i++) {
		if (!progs[i] || !bpf_program__autoload(progs[i]))
			continue;
		l = bpf_program__attach(progs[i]);
		if (l) {
			keep_link(l);
			return kinds[i];
		}
		if (env.verbose)
			fprintf(stderr, "%s %s: %s\n", kinds[i],
				bpf_program__section_name(progs[i]),
				strerror(errno));
	}
	return NULL;
}

static int find_binary(char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (env.binary) {
		snprintf(out, len, "%s", env.binary);
	} else if (env.pid) {
		snprintf(out, len, "/proc/%d/exe", env.pid);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return -errno;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		if (snprintf(out, len, "%.*s/gaitcap", (int)len - 16, self) >= (int)len ||
		    access(out, X_OK))
			snprintf(out, len, "/usr/bin/gaitcap");
	}
	return access(out, R_OK) ? -errno : 0;
}

/* One USDT probe of gaitcap; @need: saying why it failed is the caller's error. */
static struct bpf_link *usdt_link(struct bpf_program *prog, const char *name,
				  bool need)
{
	struct bpf_link *l = bpf_program__attach_usdt(prog, env.pid ? env.pid : -1,
						      hooks.binary,
						      GCPROBE_PROVIDER, name, NULL);
	int err = errno;

	if (l)
		keep_link(l);
	else if (need)
		fprintf(stderr, "cannot attach to %s:%s in %s: %s\n",
			GCPROBE_PROVIDER, name, hooks.binary, strerror(err));
	errno = err;
	return l;
}

static int attach_usdt(struct gaitcap_latency_bpf *obj)
{
	static const char *const names[] = {
		"poll_submit", "read_submit", "read_done", "chunk_seal",
		"chunk_commit",
	};
	struct bpf_program *progs[] = {
		obj->progs.usdt_poll_submit, obj->progs.usdt_read_submit,
		obj->progs.usdt_read_done, obj->progs.usdt_chunk_seal,
		obj->progs.usdt_chunk_commit,
	};
	size_t i;

	/*
	 * Insole messages: optional, a gaitcap without them still has mats.
	 * Polled notes need msg_notes; without it, or with -C or -M, each
	 * commit traps (msg_commit), and a message stored before its channel
	 * (msg_early) or, with -M, every message (msg_record) too.
	 */
	if (hooks.polled)
		hooks.polled = usdt_link(obj->progs.usdt_msg_notes, "msg_notes", false);
	if (hooks.polled) {
		hooks.usdt_msgs = hooks.msg_notes = true;
	} else if (usdt_link(obj->progs.usdt_msg_early, "msg_early", false)) {
		hooks.usdt_msgs = true;
		hooks.msg_notes = !env.msg_probes;
		if (env.msg_probes && !usdt_link(obj->progs.usdt_msg_record, "msg_record", true))
			return -errno;
	}
	if (!hooks.polled && !usdt_link(obj->progs.usdt_chunk_commit, "msg_commit", true))
		return -errno;
	/* With io_uring's completions seen, read_done names the ops: no submit probes. */
	for (i = hooks.uring ? 2 : 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (!usdt_link(progs[i], names[i], true))
			return -errno;
	return 0;
}

/* ---- Histograms --------------------------------------------------------------- */

/* The lower bound of slot @i, in ns, and its width. */
static void slot_range(unsigned int i, __u64 *low, __u64 *width)
{
	unsigned int m;

	if (i < GL_SUB) {
		*low = i;
		*width = 1;
		return;
	}
	m = i / GL_SUB + GL_SUB_BITS - 1;
	*width = 1ull << (m - GL_SUB_BITS);
	*low = (__u64)(GL_SUB + i % GL_SUB) << (m - GL_SUB_BITS);
}

/* The value below which a fraction @p of the samples lie (a slot's top). */
static __u64 percentile(const struct gl_hist *h, double p)
{
	__u64 rank, cum = 0, low, width;
	unsigned int i;

	if (!h->count)
		return 0;
	rank = (__u64)(p * (double)h->count + 0.999999);
	if (!rank)
		rank = 1;
	for (i = 0; i < GL_SLOTS; i++) {
		cum += h->slots[i];
		if (cum >= rank) {
			slot_range(i, &low, &width);
			return low + width - 1 < h->max ? low + width - 1 : h->max;
		}
	}
	return h->max;
}

static void print_stars(__u64 val, __u64 max, int width)
{
	int n = max ? (int)(val * (__u64)width / max) : 0, i;

	for (i = 0; i < width; i++)
		putchar(i < n ? '*' : ' ');
	if (val > max)
		putchar('+');
}

/* Power-of-two buckets in the display unit, as libbpf-tools print them. */
static void print_log2(const struct gl_hist *h, const char *unit, __u64 div)
{
	__u64 b[64] = { 0 }, low, width, v, max = 0;
	int i, top = -1, k;

	for (i = 0; i < GL_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		slot_range(i, &low, &width);
		v = low / div;
		for (k = 0; v > 1; k++)
			v >>= 1;
		b[k] += h->slots[i];
		if (k > top)
			top = k;
	}
	for (i = 0; i <= top; i++)
		if (b[i] > max)
			max = b[i];
	if (top < 0)
		return;
	printf("     %-19s : count    distribution\n", unit);
	for (i = 0; i <= top; i++) {
		__u64 lo = i ? 1ull << i : 0, hi = (1ull << (i + 1)) - 1;

		printf("%10llu -> %-10llu : %-8llu |", (unsigned long long)lo,
		       (unsigned long long)hi, (unsigned long long)b[i]);
		print_stars(b[i], max, 40);
		printf("|\n");
	}
}

struct snapshot {
	bool have_stream[GL_MAX_STREAMS];
	struct gl_stream_count cnt[GL_MAX_STREAMS];
	bool have[GL_MAX_STREAMS][GL_NSTAGES];
	struct gl_hist hist[GL_MAX_STREAMS][GL_NSTAGES];
};

static int read_maps(struct gaitcap_latency_bpf *obj, struct snapshot *s)
{
	static const struct gl_stream_count zero_count;
	static const struct gl_hist zero_hist;
	int hfd = bpf_map__fd(obj->maps.hists);
	int cfd = bpf_map__fd(obj->maps.counts);
	__u32 i, st, k;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < GL_MAX_STREAMS; i++) {
		if (bpf_map_lookup_elem(cfd, &i, &s->cnt[i]))
			return -errno;
		if (!s->cnt[i].chunks)
			continue;	/* every stage is charged at a commit */
		s->have_stream[i] = true;
		for (st = 0; st < GL_NSTAGES; st++) {
			k = GL_HIST_INDEX(i, st);
			if (bpf_map_lookup_elem(hfd, &k, &s->hist[i][st]))
				return -errno;
			s->have[i][st] = s->hist[i][st].count != 0;
			/* Cleared per interval, as runqlat does (a race loses a few counts). */
			if (!env.cumulative && s->have[i][st] &&
			    bpf_map_update_elem(hfd, &k, &zero_hist, BPF_ANY))
				return -errno;
		}
		if (!env.cumulative &&
		    bpf_map_update_elem(cfd, &i, &zero_count, BPF_ANY))
			return -errno;
	}
	return 0;
}

static void print_text(const struct snapshot *s)
{
	const char *unit = env.msecs ? "msecs" : "usecs";
	double div = env.msecs ? 1e6 : 1e3;
	char ts[32];
	time_t t;
	int i, st;

	if (env.timestamp) {
		t = time(NULL);
		strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&t));
		printf("%-8s\n", ts);
	}
	for (i = 0; i < GL_MAX_STREAMS; i++) {
		if (!s->have_stream[i])
			continue;
		if (s->cnt[i].msgs)
			printf("stream %d: notifications %llu in %llu chunks (%llu seen at the HCI core, %llu early)\n",
			       i, (unsigned long long)s->cnt[i].frames,
			       (unsigned long long)s->cnt[i].chunks,
			       (unsigned long long)s->cnt[i].hci,
			       (unsigned long long)s->cnt[i].early);
		else
			printf("stream %d: frames %llu in %llu chunks (%llu seen at the driver)\n",
			       i, (unsigned long long)s->cnt[i].frames,
			       (unsigned long long)s->cnt[i].chunks,
			       (unsigned long long)s->cnt[i].matched);
		printf("  %-7s %-29s %9s %10s %10s %10s %10s\n", "stage", "",
		       "count", "p50", "p99", "p99.9", "max");
		for (st = 0; st < GL_NSTAGES; st++) {
			const struct gl_hist *h = &s->hist[i][st];

			if (!s->have[i][st] || !h->count)
				continue;
			printf("  %-7s %-29s %9llu %10.1f %10.1f %10.1f %10.1f %s\n",
			       stage_names[st], stage_what[st],
			       (unsigned long long)h->count,
			       percentile(h, 0.50) / div, percentile(h, 0.99) / div,
			       percentile(h, 0.999) / div, h->max / div, unit);
		}
		if (env.summary)
			continue;
		for (st = 0; st < GL_NSTAGES; st++) {
			if (!s->have[i][st] || !s->hist[i][st].count)
				continue;
			printf("\n  stream %d, %s (%s):\n", i, stage_names[st],
			       stage_what[st]);
			print_log2(&s->hist[i][st], unit, env.msecs ? 1000000 : 1000);
		}
		printf("\n");
	}
	fflush(stdout);
}

static json_object *hooks_json(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "frame_start", hooks.frame_start ?
			       json_object_new_string(hooks.frame_start) : NULL);
	json_object_object_add(o, "frame_pushed", hooks.frame_pushed ?
			       json_object_new_string(hooks.frame_pushed) : NULL);
	json_object_object_add(o, "io_uring_complete", hooks.uring ?
			       json_object_new_string(hooks.uring) : NULL);
	json_object_object_add(o, "io_uring_submit", hooks.uring_submit ?
			       json_object_new_string(hooks.uring_submit) : NULL);
	json_object_object_add(o, "hci_recv", hooks.hci_recv ?
			       json_object_new_string(hooks.hci_recv) : NULL);
	json_object_object_add(o, "l2cap_recv", hooks.l2cap_recv ?
			       json_object_new_string(hooks.l2cap_recv) : NULL);
	json_object_object_add(o, "sock_queue", hooks.sock_queue ?
			       json_object_new_string(hooks.sock_queue) : NULL);
	json_object_object_add(o, "usdt_msgs", json_object_new_boolean(hooks.usdt_msgs));
	json_object_object_add(o, "msg_notes", json_object_new_boolean(hooks.msg_notes));
	json_object_object_add(o, "msg_commits", json_object_new_string(
		!hooks.msg_notes ? "none" : hooks.polled ? "polled" : "usdt"));
	json_object_object_add(o, "usdt", json_object_new_string(hooks.binary));
	return o;
}

static void print_json(const struct snapshot *s, double interval_s)
{
	json_object *root = json_object_new_object(), *streams, *so, *stages,
		    *h, *slots;
	struct timespec now;
	int i, st, k;

	clock_gettime(CLOCK_REALTIME, &now);
	json_object_object_add(root, "time", json_object_new_double(
		now.tv_sec + now.tv_nsec / 1e9));
	json_object_object_add(root, "interval_s",
			       json_object_new_double(interval_s));
	json_object_object_add(root, "hooks", hooks_json());
	streams = json_object_new_array();
	for (i = 0; i < GL_MAX_STREAMS; i++) {
		if (!s->have_stream[i])
			continue;
		so = json_object_new_object();
		json_object_object_add(so, "stream", json_object_new_int(i));
		json_object_object_add(so, "frames",
				       json_object_new_uint64(s->cnt[i].frames));
		json_object_object_add(so, "chunks",
				       json_object_new_uint64(s->cnt[i].chunks));
		json_object_object_add(so, "driver_frames",
				       json_object_new_uint64(s->cnt[i].matched));
		if (s->cnt[i].msgs) {
			json_object_object_add(so, "messages",
					       json_object_new_uint64(s->cnt[i].msgs));
			json_object_object_add(so, "hci_messages",
					       json_object_new_uint64(s->cnt[i].hci));
			json_object_object_add(so, "early",
					       json_object_new_uint64(s->cnt[i].early));
		}
		stages = json_object_new_object();
		for (st = 0; st < GL_NSTAGES; st++) {
			const struct gl_hist *g = &s->hist[i][st];
			__u64 b[64] = { 0 }, low, width, v;
			int top = -1, j;

			if (!s->have[i][st] || !g->count)
				continue;
			h = json_object_new_object();
			json_object_object_add(h, "count", json_object_new_uint64(g->count));
			json_object_object_add(h, "p50_ns", json_object_new_uint64(percentile(g, 0.50)));
			json_object_object_add(h, "p99_ns", json_object_new_uint64(percentile(g, 0.99)));
			json_object_object_add(h, "p99_9_ns", json_object_new_uint64(percentile(g, 0.999)));
			json_object_object_add(h, "max_ns", json_object_new_uint64(g->max));
			json_object_object_add(h, "mean_ns", json_object_new_uint64(g->sum / g->count));
			/* log2 buckets of ns: slot k counts [2^k, 2^(k+1)) */
			for (k = 0; k < GL_SLOTS; k++) {
				if (!g->slots[k])
					continue;
				slot_range(k, &low, &width);
				for (v = low, j = 0; v > 1; j++)
					v >>= 1;
				b[j] += g->slots[k];
				if (j > top)
					top = j;
			}
			slots = json_object_new_array();
			for (k = 0; k <= top; k++)
				json_object_array_add(slots, json_object_new_uint64(b[k]));
			json_object_object_add(h, "log2_ns", slots);
			json_object_object_add(stages, stage_names[st], h);
		}
		json_object_object_add(so, "stages", stages);
		json_object_array_add(streams, so);
	}
	json_object_object_add(root, "streams", streams);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(root);
}

/* ---- Main ------------------------------------------------------------------------ */

/* ---- Polled notes: read from the capture's memory, charged to this tool -- */

#define POLL_NS		50000000ll
#define STALE_NS	2000000000ull	/* an uncommitted note this old was dropped */

static struct ring_state {
	__u32 tgid, stream;
	__u64 next;		/* the first seq not charged yet */
	bool started;
} rings[64];
static int n_rings;
static __u64 t_attached;

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static struct ring_state *ring_state(const struct gl_ring_key *k, bool drop)
{
	int i;

	for (i = 0; i < n_rings; i++)
		if (rings[i].tgid == k->tgid && rings[i].stream == k->stream)
			break;
	if (drop) {
		if (i < n_rings)
			rings[i] = rings[--n_rings];
		return NULL;
	}
	if (i == n_rings) {
		if (n_rings == (int)(sizeof(rings) / sizeof(rings[0])))
			return NULL;
		rings[n_rings++] = (struct ring_state){ .tgid = k->tgid, .stream = k->stream };
	}
	return &rings[i];
}

static int by_seq(const void *a, const void *b)
{
	__u64 x = ((const struct gl_msg_note *)a)->seq;
	__u64 y = ((const struct gl_msg_note *)b)->seq;

	return (x > y) - (x < y);
}

/* Charge the committed notes of @ring not charged yet, in seq order. */
static void ring_charge(struct gaitcap_latency_bpf *obj, struct ring_state *st,
			const struct gl_msg_note *ring)
{
	static struct gl_msg_note take[GL_NOTE_RING];
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	int fd = bpf_program__fd(obj->progs.drain_notes);
	unsigned int i, n = 0, c = 0, k;
	__u64 newest = 0;

	/* This stream's notes not charged yet, committed or still pending. */
	for (i = 0; i < GL_NOTE_RING; i++) {
		const struct gl_msg_note *m = &ring[i];

		if (m->stream != st->stream || m->seq % GL_NOTE_RING != i ||
		    (st->started && m->seq < st->next))
			continue;
		take[n++] = *m;
		if (m->t_commit > newest)
			newest = m->t_commit;
	}
	qsort(take, n, sizeof(take[0]), by_seq);
	/* Records are committed in seq order: stop at the first pending one. */
	for (i = 0; i < n; i++) {
		const struct gl_msg_note *m = &take[i];

		if (!m->t_commit) {
			if (!m->t_reap || m->t_reap + STALE_NS > newest)
				break;
			continue;	/* its chunk was dropped */
		}
		if (st->started || m->t_commit >= t_attached)
			take[c++] = *m;
	}
	n = c;
	if (!n)
		return;
	for (i = 0; i < n; i += k) {
		k = n - i < GL_DRAIN_MAX ? n - i : GL_DRAIN_MAX;
		obj->bss->drain.tgid = st->tgid;
		obj->bss->drain.stream = st->stream;
		obj->bss->drain.n = k;
		memcpy(obj->bss->drain.notes, &take[i], k * sizeof(take[0]));
		if (bpf_prog_test_run_opts(fd, &topts) && env.verbose)
			fprintf(stderr, "drain_notes: %s\n", strerror(errno));
	}
	st->next = take[n - 1].seq + 1;
	st->started = true;
}

/* Every stream whose ring msg_notes named: read it, charge what is new. */
static void notes_poll(struct gaitcap_latency_bpf *obj)
{
	static struct gl_msg_note ring[GL_NOTE_RING];
	static struct gl_final_ring fin;
	static unsigned int warned;
	int fd = bpf_map__fd(obj->maps.note_rings);
	int ffd = bpf_map__fd(obj->maps.final_rings);
	struct gl_ring_key k, next;
	struct gl_ring_info ri;
	struct ring_state *st;
	bool more;

	more = !bpf_map_get_next_key(fd, NULL, &k);
	while (more) {
		more = !bpf_map_get_next_key(fd, &k, &next);
		st = bpf_map_lookup_elem(fd, &k, &ri) ? NULL : ring_state(&k, false);
		if (st && !ri.final) {
			struct iovec l = { ring, sizeof(ring) };
			struct iovec r = { (void *)(uintptr_t)ri.addr, sizeof(ring) };

			if (process_vm_readv(k.tgid, &l, 1, &r, 1, 0) == sizeof(ring)) {
				ring_charge(obj, st, ring);
			} else if (errno != ESRCH) {
				/* Say it once: a locked-down ptrace (Yama 3) hides the notes. */
				if (!warned++)
					fprintf(stderr, "cannot read the notes of process %u: %s (use -C)\n",
						k.tgid, strerror(errno));
			} else if (!bpf_map_lookup_elem(fd, &k, &ri) && !ri.final) {
				/* Gone: if it closed the session in between, the copy says the rest. */
				ri.final = 2;
			}
		}
		if (st && ri.final) {
			__u32 fr = k.stream % GL_FINAL_RINGS;

			/* The session closed: the copy made as it did (final 2: none). */
			if (ri.final == 1 && !bpf_map_lookup_elem(ffd, &fr, &fin) &&
			    fin.tgid == k.tgid && fin.stream == k.stream)
				ring_charge(obj, st, fin.notes);
			ring_state(&k, true);
			bpf_map_delete_elem(fd, &k);
		}
		k = next;
	}
}

/* Sleep @secs; meanwhile, polled notes every POLL_NS. */
static void wait_interval(struct gaitcap_latency_bpf *obj, int secs)
{
	__u64 end = mono_ns() + (__u64)secs * 1000000000ull;
	struct timespec ts = { 0, POLL_NS };

	if (!hooks.polled) {
		sleep(secs);
		return;
	}
	while (!exiting && mono_ns() < end) {
		nanosleep(&ts, NULL);
		notes_poll(obj);
	}
	notes_poll(obj);
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts, .parser = parse_arg, .doc = argp_program_doc,
	};
	static const char *const k_drv[] = { "raw_tp", "tp" };
	static const char *const k_uring[] = { "tp_btf", "raw_tp", "tp" };
	static const char *const k_hci[] = { "kprobe:hci_recv_frame" };
	static const char *const k_l2cap[] = { "kprobe:l2cap_recv_acldata" };
	static const char *const k_queue[] = {
		"kprobe:__sock_queue_rcv_skb", "kprobe:sock_queue_rcv_skb_reason",
		"kprobe:l2cap_sock_recv_cb",
	};
	struct gaitcap_latency_bpf *obj = NULL;
	struct bpf_program *p[3];
	struct snapshot *snap = NULL;
	struct timespec t0, t1;
	struct btf *vmlinux;
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 1;
	libbpf_set_print(libbpf_print_fn);

	err = find_binary(hooks.binary, sizeof(hooks.binary));
	if (err) {
		fprintf(stderr, "no gaitcap program to probe at %s: %s (use --binary)\n",
			hooks.binary, strerror(-err));
		return 1;
	}
	snap = malloc(sizeof(*snap));
	obj = gaitcap_latency_bpf__open();
	if (!obj || !snap) {
		fprintf(stderr, "failed to open the BPF object\n");
		err = -ENOMEM;
		goto cleanup;
	}
	obj->rodata->targ_stream = env.stream;
	obj->rodata->targ_link = env.link;
	obj->rodata->targ_tgid = (__u32)env.pid;
	obj->rodata->use_notes = !env.msg_probes;
	/* Notes read by this tool: run through a syscall program (5.14+). */
	hooks.polled = !env.msg_probes && !env.commit_probe &&
		libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SYSCALL, NULL) == 1;
	bpf_program__set_autoload(obj->progs.drain_notes, hooks.polled);

	/* CO-RE and tp_btf need the kernel's BTF; without it, raw_tp only. */
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux && env.verbose)
		fprintf(stderr, "no kernel BTF: io_uring through raw_tp only\n");
	obj->rodata->uring_cqe_arg = uring_cqe_arg(vmlinux);
	bpf_program__set_autoload(obj->progs.btf_uring_complete,
				  btf_has_tp(vmlinux, "io_uring_complete"));
	bpf_program__set_autoload(obj->progs.tp_uring_complete, vmlinux != NULL);
	btf__free(vmlinux);

	err = gaitcap_latency_bpf__load(obj);
	if (err) {
		fprintf(stderr, "failed to load the BPF object: %s\n", strerror(-err));
		goto cleanup;
	}

	/* Each hook: the first attach point this kernel takes. */
	p[0] = obj->progs.raw_frame_start;
	p[1] = obj->progs.tp_frame_start;
	hooks.frame_start = attach_first(p, k_drv, 2);
	p[0] = obj->progs.raw_frame_pushed;
	p[1] = obj->progs.tp_frame_pushed;
	hooks.frame_pushed = attach_first(p, k_drv, 2);
	p[0] = obj->progs.btf_uring_complete;
	p[1] = obj->progs.raw_uring_complete;
	p[2] = obj->progs.tp_uring_complete;
	hooks.uring = attach_first(p, k_uring, 3);
	/* Submissions: USDT, only when completions cannot be seen (no poll ops then). */
	hooks.uring_submit = hooks.uring ? NULL : "usdt";
	/* The insole chain: kprobes on the Bluetooth module, where loaded. */
	p[0] = obj->progs.kp_hci_recv_frame;
	hooks.hci_recv = attach_first(p, k_hci, 1);
	p[0] = obj->progs.kp_l2cap_recv_acldata;
	hooks.l2cap_recv = attach_first(p, k_l2cap, 1);
	p[0] = obj->progs.kp_sock_queue;
	p[1] = obj->progs.kp_sock_queue_reason;
	p[2] = obj->progs.kp_l2cap_sock_recv_cb;
	hooks.sock_queue = attach_first(p, k_queue, 3);
	err = attach_usdt(obj);
	if (err)
		goto cleanup;

	/* With --json, stdout holds JSON only: the banner goes to stderr. */
	fprintf(env.json ? stderr : stdout,
		"Tracing gaitcap (%s%s): driver %s, io_uring %s, bluetooth %s. Hit Ctrl-C to end.\n",
		hooks.binary, env.pid ? "" : ", every process",
		hooks.frame_pushed ? hooks.frame_pushed : "not seen (stages wire, hold, path off)",
		hooks.uring ? hooks.uring : "not seen (read and reap merged)",
		hooks.sock_queue ? hooks.sock_queue : "not seen (stages acl, queue, ble_path off)");
	fflush(env.json ? stderr : stdout);
	signal(SIGINT, sig_handler);
	signal(SIGTERM, sig_handler);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_attached = mono_ns();
	while (1) {
		wait_interval(obj, env.interval);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		err = read_maps(obj, snap);
		if (err) {
			fprintf(stderr, "failed to read the maps: %s\n", strerror(-err));
			break;
		}
		if (env.json)
			print_json(snap, (t1.tv_sec - t0.tv_sec) +
				   (t1.tv_nsec - t0.tv_nsec) / 1e9);
		else
			print_text(snap);
		t0 = t1;
		if (exiting || --env.times == 0)
			break;
	}

cleanup:
	while (n_links)
		bpf_link__destroy(links[--n_links]);
	gaitcap_latency_bpf__destroy(obj);
	free(snap);
	return err != 0;
}
