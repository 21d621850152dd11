/*
 * tests/faultshim.c - failures of this host, given to the plugin with
 * LD_PRELOAD by tests/injected.sh: what no peer can cause and no real
 * program does on cue (issue 16). Each is switched on by an environment
 * variable; with none set the shim changes nothing.
 *
 *   FAULT_ALLOC_FAIL=N   the Nth allocation made by the plugin's own code
 *                        (malloc, calloc, realloc, strdup, open_memstream
 *                        called from the main executable, counted from 1)
 *                        fails with ENOMEM (its caller, as an offset
 *                        for addr2line, goes to stderr); 0 counts
 *                        without failing
 *   FAULT_ALLOC_COUNT=F  at exit, the number of such allocations goes to F
 *   FAULT_SEND_MAX=K     a write to a socket carries at most K octets
 *   FAULT_SEND_EAGAIN=1  every other write to a non-blocking socket fails
 *                        with EAGAIN (a full socket buffer)
 *   FAULT_RECV_MAX=K     a read from a socket returns at most K octets
 *   FAULT_POLL_EINTR=1   every other poll() fails with EINTR (a signal)
 *   FAULT_CONNECT_ERRNO=E   connect() on a TCP socket fails at once with E
 *   FAULT_SEND_FAIL=N:E  the Nth write to a TCP socket fails with E
 *   FAULT_RECV_FAIL=N:E  the Nth read from a TCP socket fails with E
 *   FAULT_RECV_FAIL_AFTER=K:E  the first read from a TCP socket once K
 *                        writes went out fails with E (K: all of them, the
 *                        read of the reply to the last command)
 *   FAULT_IO_COUNT=F     at exit, the writes and reads counted go to F
 *                        (E: a name from the table below, e.g. ECONNRESET:
 *                        what the kernel says of a network that failed
 *                        at a moment no peer can choose)
 *
 * Only the main executable's allocations are failed: those of the C
 * library, the resolver and the TLS libraries are their own business,
 * and their failures are reported by them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

#define TEXT_MAX 8

static struct {
	int ready, exit_watched;
	uintptr_t base, lo[TEXT_MAX], hi[TEXT_MAX];
	int ntext;
	long fail_at, count;
	const char *count_file, *io_count_file;
	size_t send_max, recv_max;
	int send_eagain, poll_eintr;
	unsigned long sends, polls;
	int connect_errno;
	long send_fail_at, recv_fail_at, nsend, nrecv, recv_after;
	int send_errno, recv_errno, after_errno;
} F;

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{"ECONNRESET", ECONNRESET}, {"EPIPE", EPIPE}, {"EHOSTUNREACH", EHOSTUNREACH},
	{"ENETUNREACH", ENETUNREACH}, {"ETIMEDOUT", ETIMEDOUT}, {"EADDRNOTAVAIL", EADDRNOTAVAIL},
	{"ECONNREFUSED", ECONNREFUSED}, {"EINTR", EINTR}, {"EIO", EIO}, {"ENOBUFS", ENOBUFS},
};

static int errno_named(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof errnos / sizeof errnos[0]; i++)
		if (strcmp(name, errnos[i].name) == 0)
			return errnos[i].value;
	return 0;
}

/* "N:ENAME" into *at and *err; nothing if unset or malformed. */
static void env_nth(const char *var, long *at, int *err)
{
	const char *v = getenv(var), *colon;

	if (v == NULL || (colon = strchr(v, ':')) == NULL)
		return;
	*err = errno_named(colon + 1);
	*at = *err != 0 ? strtol(v, NULL, 10) : 0;
}

static long env_long(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? strtol(v, NULL, 10) : 0;
}

/* The executable segments of the main program: the first object listed. */
static int main_text(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	F.base = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum && F.ntext < TEXT_MAX; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		F.lo[F.ntext] = info->dlpi_addr + ph->p_vaddr;
		F.hi[F.ntext] = F.lo[F.ntext] + ph->p_memsz;
		F.ntext++;
	}
	return 1; /* the first object only */
}

/* exit() has begun: what allocates now (the coverage runtime's dump, in
 * the main executable under --coverage) is not the plugin's work.
 * Registered at the program's first allocation, after every constructor
 * (the coverage runtime registers its own handler in one), so that it
 * runs before those handlers. */
static void on_exit_begun(void)
{
	F.ready = 0;
}

__attribute__((constructor)) static void shim_init(void)
{
	long v;

	dl_iterate_phdr(main_text, NULL);
	F.fail_at = env_long("FAULT_ALLOC_FAIL");
	F.count_file = getenv("FAULT_ALLOC_COUNT");
	F.io_count_file = getenv("FAULT_IO_COUNT");
	v = env_long("FAULT_SEND_MAX");
	F.send_max = v > 0 ? (size_t)v : 0;
	v = env_long("FAULT_RECV_MAX");
	F.recv_max = v > 0 ? (size_t)v : 0;
	F.send_eagain = env_long("FAULT_SEND_EAGAIN") != 0;
	F.poll_eintr = env_long("FAULT_POLL_EINTR") != 0;
	F.connect_errno = errno_named(getenv("FAULT_CONNECT_ERRNO"));
	env_nth("FAULT_SEND_FAIL", &F.send_fail_at, &F.send_errno);
	env_nth("FAULT_RECV_FAIL", &F.recv_fail_at, &F.recv_errno);
	env_nth("FAULT_RECV_FAIL_AFTER", &F.recv_after, &F.after_errno);
	F.ready = 1;
}

__attribute__((destructor)) static void shim_fini(void)
{
	FILE *f;

	if (F.count_file != NULL && (f = fopen(F.count_file, "w")) != NULL) {
		fprintf(f, "%ld\n", F.count);
		fclose(f);
	}
	if (F.io_count_file != NULL && (f = fopen(F.io_count_file, "w")) != NULL) {
		fprintf(f, "%ld %ld\n", F.nsend, F.nrecv);
		fclose(f);
	}
}

/* 1 if this allocation, called from addr, is the one to fail. */
static int fail_now(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	int ours = 0;

	if (!F.ready)
		return 0;
	for (int i = 0; i < F.ntext; i++)
		if (a >= F.lo[i] && a < F.hi[i])
			ours = 1;
	if (!ours)
		return 0;
	if (!F.exit_watched) {
		F.exit_watched = 1;
		if (atexit(on_exit_begun) != 0)
			F.ready = 0;
	}
	if (++F.count != F.fail_at)
		return 0;
	/* where, for addr2line -e PLUGIN, in the plugin's error output */
	fprintf(stderr, "faultshim: allocation %ld fails, called from 0x%lx\n", F.count,
		(unsigned long)(a - F.base));
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	return fail_now(__builtin_return_address(0)) ? NULL : __libc_realloc(p, n);
}

char *strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;

	if (fail_now(__builtin_return_address(0)))
		return NULL;
	d = __libc_malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

FILE *open_memstream(char **buf, size_t *len)
{
	static FILE *(*next)(char **, size_t *);

	if (fail_now(__builtin_return_address(0)))
		return NULL;
	if (next == NULL)
		*(void **)&next = dlsym(RTLD_NEXT, "open_memstream");
	return next(buf, len);
}

/* A TCP connection (a datagram to the resolver is left alone). */
static int is_stream(int fd)
{
	struct stat st;
	int type = 0;
	socklen_t len = sizeof type;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

/* A write of n octets to fd: how many to let through, or 0 with errno set
 * to refuse it. */
static size_t send_allowance(int fd, size_t n)
{
	if (!F.ready || n == 0 || !is_stream(fd))
		return n;
	if (++F.nsend == F.send_fail_at) {
		errno = F.send_errno;
		return 0;
	}
	if (F.send_eagain && (fcntl(fd, F_GETFL) & O_NONBLOCK) && (F.sends++ % 2) == 0) {
		errno = EAGAIN;
		return 0;
	}
	if (F.send_max > 0 && n > F.send_max)
		return F.send_max;
	return n;
}

/* A read of n octets from fd: how many to ask for, or 0 with errno set to
 * fail it. */
static size_t recv_allowance(int fd, size_t n)
{
	if (!F.ready || n == 0 || !is_stream(fd))
		return n;
	if (++F.nrecv == F.recv_fail_at) {
		errno = F.recv_errno;
		return 0;
	}
	if (F.after_errno != 0 && F.nsend >= F.recv_after) {
		errno = F.after_errno;
		F.after_errno = 0; /* the first read only */
		return 0;
	}
	if (F.recv_max == 0 || n <= F.recv_max)
		return n;
	return F.recv_max;
}

#define NEXT(type, name, args) \
	static type(*next) args; \
	if (next == NULL) \
		*(void **)&next = dlsym(RTLD_NEXT, name)

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	NEXT(ssize_t, "send", (int, const void *, size_t, int));
	size_t k = send_allowance(fd, n);

	return k == 0 && n > 0 ? -1 : next(fd, buf, k, flags);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tl)
{
	NEXT(ssize_t, "sendto", (int, const void *, size_t, int, const struct sockaddr *, socklen_t));
	size_t k = to == NULL ? send_allowance(fd, n) : n;

	return k == 0 && n > 0 ? -1 : next(fd, buf, k, flags, to, tl);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	NEXT(ssize_t, "write", (int, const void *, size_t));
	size_t k = send_allowance(fd, n);

	return k == 0 && n > 0 ? -1 : next(fd, buf, k);
}

/* Vectored writes go out as the first part only, cut to the allowance. */
static ssize_t first_iov(int fd, const struct iovec *iov, int cnt, int flags, const struct msghdr *msg)
{
	NEXT(ssize_t, "send", (int, const void *, size_t, int));
	static ssize_t (*wv)(int, const struct iovec *, int);
	size_t total = 0, k;
	int i = 0;

	for (int j = 0; j < cnt; j++)
		total += iov[j].iov_len;
	while (i < cnt && iov[i].iov_len == 0)
		i++;
	if (i == cnt)
		return 0;
	k = send_allowance(fd, total);
	if (k == 0)
		return -1;
	if (k == total) {
		if (msg != NULL) {
			static ssize_t (*sm)(int, const struct msghdr *, int);
			if (sm == NULL)
				*(void **)&sm = dlsym(RTLD_NEXT, "sendmsg");
			return sm(fd, msg, flags);
		}
		if (wv == NULL)
			*(void **)&wv = dlsym(RTLD_NEXT, "writev");
		return wv(fd, iov, cnt);
	}
	if (k > iov[i].iov_len)
		k = iov[i].iov_len;
	return next(fd, iov[i].iov_base, k, flags);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	return first_iov(fd, iov, cnt, 0, NULL);
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	if (m->msg_name != NULL || m->msg_controllen != 0 || !is_stream(fd)) {
		NEXT(ssize_t, "sendmsg", (int, const struct msghdr *, int));
		return next(fd, m, flags);
	}
	return first_iov(fd, m->msg_iov, (int)m->msg_iovlen, flags, m);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	NEXT(ssize_t, "recv", (int, void *, size_t, int));
	size_t k = recv_allowance(fd, n);

	return k == 0 && n > 0 ? -1 : next(fd, buf, k, flags);
}

ssize_t read(int fd, void *buf, size_t n)
{
	NEXT(ssize_t, "read", (int, void *, size_t));
	size_t k = recv_allowance(fd, n);

	return k == 0 && n > 0 ? -1 : next(fd, buf, k);
}

int connect(int fd, const struct sockaddr *to, socklen_t len)
{
	NEXT(int, "connect", (int, const struct sockaddr *, socklen_t));

	if (F.ready && F.connect_errno != 0 && is_stream(fd)) {
		errno = F.connect_errno;
		return -1;
	}
	return next(fd, to, len);
}

int poll(struct pollfd *fds, nfds_t n, int ms)
{
	NEXT(int, "poll", (struct pollfd *, nfds_t, int));

	if (F.ready && F.poll_eintr && (F.polls++ % 2) == 0) {
		errno = EINTR;
		return -1;
	}
	return next(fds, n, ms);
}
