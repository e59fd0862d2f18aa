/*
 * resolver.c - the network driver: DNS over UDP to the given nameservers
 * (or those of /etc/resolv.conf), every question of a step in flight at
 * once, TCP when a reply is truncated, retries across servers, and a
 * TTL-respecting cache shared by every check that uses the resolver.
 *
 * Time: one absolute deadline per query (mauth_clock_ms, CLOCK_MONOTONIC)
 * bounds everything: a try waits min(timeout, time left), truncated
 * questions go to TCP inside the same poll() loop (in parallel, each with
 * its own timeout, none past the deadline), and no retry starts after it.
 * Unanswered questions are TIMEOUT; mauth_check_run tells the check which
 * ones the budget cut (RFC 7208 §4.6.4: an overall limit per check).
 *
 * Sockets: one connected UDP socket per nameserver, kept in the resolver
 * across queries and calls (a socket per query cost about 48 us of client
 * CPU each: socket, connect, close and a poll entry of its own).  A
 * round's queries leave in one sendmmsg(); while only UDP tries wait, the
 * round waits in a blocking recvmmsg() (bounded by SO_RCVTIMEO, a slice of
 * the timeout; poll() takes over for the last slice and for TCP), which
 * takes every reply queued at once: about 2 system calls a round where
 * send, poll, getpid and a recv per reply made 5 (each about 1 us of
 * client CPU).  Each reply goes to the try with its id (ids are unique
 * among a round's tries).  RFC 5452 still holds with the port fixed per socket: every try
 * has a fresh random id (getrandom), connect() makes the kernel drop
 * datagrams from any other address and port, and reply_matches wants the
 * try's id and the question exactly as asked.  The port is kept at most
 * UDP_MAX_QUERIES (100) queries or UDP_MAX_SECONDS (10 s), whichever comes
 * first, then the socket is reopened on a fresh kernel-chosen port: an
 * off-path attacker who learns the port (a leaked packet, a side channel
 * scan such as SADDNS, which needs many seconds per port) is left with a
 * 16-bit id to guess for at most 100 queries and never for a port older
 * than 10 s; reopening every 100 queries costs about 1% of a query each.
 * A socket is also reopened when sending on it fails (an ICMP error of an
 * earlier query surfaces there), when reading from it fails (ECONNREFUSED:
 * nobody listens; the round's tries on it end and go to the next server),
 * and in a forked child (parent and child would read each other's
 * replies).  TCP after truncation opens a connection per try, as before.
 * The replies of a round share the socket's receive buffer: it asks for
 * UDP_RCVBUF, which the kernel caps at net.core.rmem_max (often 208 KB:
 * room for some 30 replies of 4 KB waiting at once, or 3 of 64 KB from a
 * server ignoring our EDNS size); a reply dropped for want of room is
 * asked again in the next round, like one lost on the network.
 *
 * Threads: like its cache, a resolver's sockets belong to the resolver
 * object: one thread at a time per resolver (mailauth.h promises no more).
 *
 * dnswire.c builds and reads the messages (the common replies straight
 * from the bytes, the rest through ldns); the sockets are ours, because
 * ldns' own resolver sends one question at a time and blocks.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE	/* sendmmsg */ /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "dns/dnswire.h"

#define MAX_NS 8
#define MAX_INFLIGHT 64
#define WIRE_MAX 65535
#define DEFAULT_TIMEOUT 5.0
#define DEFAULT_CACHE_BYTES ((size_t)16 << 20)
#define CACHE_ANSWER_SHARE 16	/* an answer over 1/16 of the bound: not kept */
#define QUERY_MAX 512		/* header, a 255-octet name, type, class, OPT */
#define UDP_MAX_QUERIES 100	/* a UDP socket (its port) carries at most */
#define UDP_MAX_SECONDS 10.0	/* ... so many queries, for so long */
#define UDP_RCVBUF (4 << 20)	/* room for MAX_INFLIGHT replies of 64 KB */
#define RECV_BATCH 16		/* datagrams one recvmmsg() may take */

typedef struct {
	struct sockaddr_storage sa;
	socklen_t len;
} nsaddr;

/* A nameserver's connected UDP socket, kept across queries and calls. */
typedef struct {
	int fd;			/* -1: none open */
	pid_t pid;		/* the process that opened it */
	unsigned long sent;	/* queries it has carried */
	double opened;		/* when (now_s) */
	double slice;		/* its SO_RCVTIMEO (0: none set) */
} udp_sock;

typedef struct cache_entry cache_entry;
struct cache_entry {
	cache_entry *hnext;		/* hash chain */
	cache_entry *prev, *next;	/* LRU list, most recent first */
	char *key;
	double expires;
	mauth_answer *ans;
	size_t bytes;			/* what the byte bound counts for it */
};

typedef struct {
	mauth_resolver base;
	nsaddr ns[MAX_NS];
	size_t nns;
	double timeout;
	int retries;
	size_t cache_max, cache_n, nbuckets;
	size_t cache_bytes_max, cache_bytes;	/* the byte bound, and use */
	cache_entry **buckets;
	cache_entry *lru_head, *lru_tail;
	udp_sock udp[MAX_NS];
	unsigned long udp_opened;	/* sockets opened so far */
	volatile unsigned char *forked;	/* 0 in a forked child (see udp_socket) */
	int fork_page;			/* 1: forked is a MADV_WIPEONFORK page */
	unsigned char *buf;		/* replies come in here (RECV_BATCH x WIRE_MAX) */
	unsigned short ids[64];		/* random query ids not used yet */
	size_t nids;
} net_resolver;

/* The one monotonic clock of the drivers, in nanoseconds. */
static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double now_s(void)
{
	return (double)mono_ns() / 1e9;
}

/* ---- the cache ---- */

static unsigned long hash_key(const char *s)
{
	unsigned long h = 5381;

	while (*s)
		h = h * 33 ^ (unsigned char)*s++;
	return h;
}

static void make_key(char *key, size_t keylen, const mauth_question *q)
{
	size_t i, n = (size_t)snprintf(key, keylen, "%d/%s", q->type, q->name);

	if (n >= keylen)
		n = keylen - 1;
	for (i = 0; i < n; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] + 32);
	if (n > 0 && key[n - 1] == '.')
		key[n - 1] = '\0';
}

static void lru_unlink(net_resolver *r, cache_entry *e)
{
	if (r->lru_head == e) r->lru_head = e->next; else e->prev->next = e->next;
	if (r->lru_tail == e) r->lru_tail = e->prev; else e->next->prev = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(net_resolver *r, cache_entry *e)
{
	e->prev = NULL;
	e->next = r->lru_head;
	if (r->lru_head) r->lru_head->prev = e; else r->lru_tail = e;
	r->lru_head = e;
}

static void cache_drop(net_resolver *r, cache_entry *e)
{
	cache_entry **pp = &r->buckets[hash_key(e->key) % r->nbuckets];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(r, e);
	mauth_answer_free(e->ans);
	free(e->key);
	r->cache_bytes -= e->bytes;
	free(e);
	r->cache_n--;
	r->base.stats.cache_entries = r->cache_n;
	r->base.stats.cache_bytes = r->cache_bytes;
}

/*
 * Bytes an entry holds, as the bound counts them: the entry, its key and
 * the answer's block (records and their text; each malloc'd block is
 * charged a 16-byte allocator overhead: 48 for the three).  10 000
 * answers of 64 KB held 631 MB before there was a byte bound.
 */
static size_t entry_bytes(const char *key, const mauth_answer *a)
{
	size_t i, n = sizeof(cache_entry) + strlen(key) + 1 + (size_t)48 +
		      sizeof(mauth_answer) + a->n * sizeof(mauth_rr);

	for (i = 0; i < a->n; i++)
		n += a->rr[i].len + 1;
	/* the CNAME chain lives in the same block (answer_build_chain) */
	for (i = 0; i < a->ncnames; i++)
		n += sizeof(char *) + strlen(a->cnames[i]) + 1;
	return n;
}

static cache_entry *cache_find(net_resolver *r, const char *key, double now)
{
	cache_entry *e;

	if (r->cache_max == 0)
		return NULL;
	for (e = r->buckets[hash_key(key) % r->nbuckets]; e; e = e->hnext)
		if (strcmp(e->key, key) == 0)
			break;
	if (e == NULL)
		return NULL;
	if (e->expires <= now) {
		cache_drop(r, e);
		return NULL;
	}
	lru_unlink(r, e);
	lru_push(r, e);
	return e;
}

static void cache_put(net_resolver *r, const char *key,
		      const mauth_answer *a, double now)
{
	cache_entry *e;
	unsigned long h;
	size_t bytes;

	/* Failures are not facts about the name: never keep them. */
	if (r->cache_max == 0 || a->ttl == 0 ||
	    (a->rcode != MAUTH_RC_NOERROR && a->rcode != MAUTH_RC_NXDOMAIN))
		return;
	bytes = entry_bytes(key, a);
	if (bytes > r->cache_bytes_max / CACHE_ANSWER_SHARE)
		return;		/* one answer must not flush the cache */
	if ((e = cache_find(r, key, now)) != NULL)
		cache_drop(r, e);
	while ((r->cache_n >= r->cache_max ||
		r->cache_bytes + bytes > r->cache_bytes_max) && r->lru_tail)
		cache_drop(r, r->lru_tail);
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return;
	e->key = strdup(key);
	e->ans = mauth_answer_dup(a);
	if (e->key == NULL || e->ans == NULL) {
		free(e->key);
		mauth_answer_free(e->ans);
		free(e);
		return;
	}
	e->expires = now + a->ttl;
	h = hash_key(key) % r->nbuckets;
	e->hnext = r->buckets[h];
	r->buckets[h] = e;
	lru_push(r, e);
	e->bytes = bytes;
	r->cache_bytes += bytes;
	r->cache_n++;
	r->base.stats.cache_entries = r->cache_n;
	r->base.stats.cache_bytes = r->cache_bytes;
}

/* ---- sockets ---- */

/*
 * A socket connected to ns.  TCP's is non-blocking (connect() returns at
 * once and poll() says when it is done).  UDP's blocks, so that a round
 * with only UDP tries can wait in recvmmsg() itself (udp_read_all), with
 * no poll() before it: every other call on it says MSG_DONTWAIT.
 */
static int open_socket(const nsaddr *ns, int type)
{
	int nonblock = type == SOCK_STREAM ? SOCK_NONBLOCK : 0;
	int fd = socket(ns->sa.ss_family, type | SOCK_CLOEXEC | nonblock, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&ns->sa, ns->len) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void udp_close(udp_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * A page the kernel zeroes in a forked child (MADV_WIPEONFORK, Linux
 * 4.14): its first byte says with a memory read whether this process
 * opened the sockets, where getpid() costs a system call (about 1 us
 * here) every round.  Without it (another kernel, no memory) each socket
 * keeps the pid that opened it, and getpid() is asked as before.
 */
static void fork_page_open(net_resolver *r)
{
#if defined(MADV_WIPEONFORK)
	long pg = sysconf(_SC_PAGESIZE);
	void *p;

	if (pg <= 0)
		return;
	p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	if (madvise(p, (size_t)pg, MADV_WIPEONFORK) != 0) {
		munmap(p, (size_t)pg);
		return;
	}
	r->forked = p;
	*r->forked = 1;
	r->fork_page = 1;
#else
	(void)r;
#endif
}

static void fork_page_close(net_resolver *r)
{
	if (r->fork_page)
		munmap((void *)r->forked, (size_t)sysconf(_SC_PAGESIZE));
	r->forked = NULL;
	r->fork_page = 0;
}

/*
 * In a forked child, closes what the parent opened (parent and child
 * would read each other's replies from one socket): every socket of the
 * resolver when the fork page says so, else s when its pid is another.
 */
static void udp_leave_parent(net_resolver *r, udp_sock *s)
{
	size_t i;

	if (r->forked == NULL) {
		if (s->fd >= 0 && s->pid != getpid())
			udp_close(s);
		return;
	}
	if (*r->forked != 0)
		return;
	for (i = 0; i < r->nns; i++)
		udp_close(&r->udp[i]);
	*r->forked = 1;
}

/*
 * How long one blocking read of a UDP socket may wait (its SO_RCVTIMEO):
 * a quarter of the timeout, so that a round waits in recvmmsg() for the
 * first three quarters of a try and in poll() (exactly to the try's end)
 * only after; between 5 ms and 0.5 s.
 */
static double rcv_slice(double timeout)
{
	double t = timeout / 4;

	return t < 0.005 ? 0.005 : t > 0.5 ? 0.5 : t;
}

/*
 * The connected UDP socket of nameserver i for a round that sends n
 * queries, opened (again) when there is none, when it has carried
 * UDP_MAX_QUERIES queries or is UDP_MAX_SECONDS old (a new port), or
 * when this is a forked child.  An ICMP error pending on it is reported
 * by the next send, which reopens it (udp_send_all).
 */
static int udp_socket(net_resolver *r, size_t i, size_t n, double now)
{
	udp_sock *s = &r->udp[i];

	udp_leave_parent(r, s);
	if (s->fd >= 0 && (s->sent + n > UDP_MAX_QUERIES ||
			   now - s->opened >= UDP_MAX_SECONDS))
		udp_close(s);
	if (s->fd < 0) {
		int want = UDP_RCVBUF;
		double slice = rcv_slice(r->timeout);
		struct timeval tv;

		s->fd = open_socket(&r->ns[i], SOCK_DGRAM);
		if (s->fd < 0)
			return -1;
		/* A round's replies all queue here (the kernel caps this at
		 * net.core.rmem_max; failing is harmless). */
		(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
		tv.tv_sec = (time_t)slice;
		tv.tv_usec = (suseconds_t)((slice - (double)tv.tv_sec) * 1e6);
		/* Without the bound a blocking read could outwait the try:
		 * then only poll() waits (s->slice 0). */
		s->slice = setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				      sizeof tv) == 0 ? slice : 0;
		s->pid = r->forked != NULL ? 0 : getpid();
		s->sent = 0;
		s->opened = now;
		r->udp_opened++;
	}
	s->sent += n;
	return s->fd;
}

/*
 * A question in flight.  Its state moves IDLE -> UDP -> (done | IDLE), or
 * on a truncated reply UDP -> TCP_SEND -> TCP_RECV -> (done | IDLE): every
 * question of a round shares one poll(), TCP fallbacks included, so they
 * run in parallel and the round's end (and the deadline) bounds them all.
 * The UDP tries of a round share the server's socket; a TCP try has its
 * own connection (fd).
 */
enum { F_IDLE, F_UDP, F_TCP_SEND, F_TCP_RECV };

typedef struct {
	const mauth_question *q;
	mauth_answer **out;
	size_t qlen;			/* 0: not built yet */
	size_t qname_len;		/* the question's name on the wire */
	double end;		/* this try gives up then */
	unsigned char *tcp;	/* TCP: the query out, then the reply in */
	size_t tcp_len, tcp_done;
	int fd;				/* TCP only */
	int state;
	unsigned id;
	unsigned char query[QUERY_MAX];	/* built once; each try sets its id */
	char key[NAME_MAX_TEXT * 4 + 16];
} flight;

/* A fresh 16-bit query id (RFC 5452 §9.2), from a pool of getrandom(). */
static unsigned random_id(net_resolver *r)
{
	if (r->nids == 0) {
		if (getrandom(r->ids, sizeof r->ids, 0) != (ssize_t)sizeof r->ids) {
			unsigned short v = (unsigned short)(mono_ns() / 1000);

			return v;
		}
		r->nids = sizeof r->ids / sizeof r->ids[0];
	}
	return r->ids[--r->nids];
}

/*
 * Writes the query mauth_wire_query writes (RFC 1035 §4.1: header with RD,
 * one question of class IN; RFC 6891: an OPT record offering 4096 octets)
 * without building an ldns packet, and the name without ldns either
 * (wire_name_from_text: the same octets, a fifth of the instructions).
 * The name is valid (net_query asked name_is_valid).  Returns the length
 * and the name's wire length in *qname_len, or -1.
 */
static int build_query(const char *name, int type, unsigned char *buf,
		       size_t buflen, size_t *qname_len)
{
	static const unsigned char opt[11] = { 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };
	size_t n;

	if (type <= 0 || type > 65535 || 12 + 255 + 4 + sizeof opt > buflen)
		return -1;
	n = wire_name_from_text(name, buf + 12);
	if (n == 0)
		return -1;
	memset(buf, 0, 12);
	buf[2] = 0x01;		/* RD */
	buf[5] = 1;		/* QDCOUNT */
	buf[11] = 1;		/* ARCOUNT: the OPT record */
	buf[12 + n] = (unsigned char)(type >> 8);
	buf[13 + n] = (unsigned char)type;
	buf[14 + n] = 0;
	buf[15 + n] = 1;	/* IN */
	memcpy(buf + 16 + n, opt, sizeof opt);
	*qname_len = n;
	return (int)(16 + n + sizeof opt);
}

/* Builds f's query on first use (its name, type, RD, EDNS0); 0 or -1. */
static int flight_query(flight *f)
{
	int len;

	if (f->qlen > 0)
		return 0;
	len = build_query(f->q->name, f->q->type, f->query, sizeof f->query,
			  &f->qname_len);
	if (len < 0)
		return -1;
	f->qlen = (size_t)len;
	return 0;
}

static void set_id(unsigned char *wire, unsigned id)
{
	wire[0] = (unsigned char)(id >> 8);
	wire[1] = (unsigned char)id;
}

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/*
 * Does this reply answer f's try?  (RFC 5452 §9.1: a response, one
 * question, the try's id, and the question as asked: the name compared on
 * the wire ignoring ASCII case (RFC 4343), type and class exactly.)  The
 * source address is the kernel's part: the socket is connected to the
 * server, so datagrams from anywhere else never reach it.  A reply never
 * compresses its question's name (nothing precedes it to point at), so a
 * byte comparison with the query we sent is the whole test.
 */
static int reply_matches(const unsigned char *buf, size_t len, const flight *f)
{
	size_t i, qend = 12 + f->qname_len + 4;

	if (len < qend || (buf[2] & 0x80) == 0 || buf[4] != 0 || buf[5] != 1 ||
	    ((unsigned)buf[0] << 8 | buf[1]) != f->id)
		return 0;
	for (i = 12; i < 12 + f->qname_len; i++)
		if (fold(buf[i]) != fold(f->query[i]))
			return 0;
	return memcmp(buf + i, f->query + i, 4) == 0;
}

/* The try ends: the question is open again for the next round. */
static void flight_drop(flight *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->tcp);
	f->tcp = NULL;
	f->state = F_IDLE;
}

static double min_d(double a, double b)
{
	return a < b ? a : b;
}

/* A reply that matches (id, question) and parses; else NULL. */
static mauth_answer *take_reply(const unsigned char *buf, size_t len,
				const flight *f, int *tc)
{
	mauth_answer *ans = NULL;
	unsigned id;
	char err[128];

	*tc = 0;
	if (!reply_matches(buf, len, f) ||
	    mauth_wire_parse(buf, len, &ans, &id, tc, err, sizeof err) != 0)
		return NULL;
	return ans;
}

/* RFC 7766: the truncated question again over TCP, to the same server. */
static void tcp_start(net_resolver *r, flight *f, const nsaddr *ns, double end)
{
	flight_drop(f);
	f->tcp = malloc(WIRE_MAX + 2);
	if (f->tcp == NULL)
		return;
	f->id = random_id(r);
	memcpy(f->tcp + 2, f->query, f->qlen);
	set_id(f->tcp + 2, f->id);
	if ((f->fd = open_socket(ns, SOCK_STREAM)) < 0) {
		flight_drop(f);
		return;
	}
	r->base.stats.queries++;
	r->base.stats.tcp++;
	f->tcp[0] = (unsigned char)(f->qlen >> 8);
	f->tcp[1] = (unsigned char)f->qlen;
	f->tcp_len = f->qlen + 2;
	f->tcp_done = 0;
	f->end = end;
	f->state = F_TCP_SEND;
}

/* An id no other UDP try of this round uses: replies must tell them apart. */
static unsigned unused_id(net_resolver *r, const flight *fv, size_t n)
{
	for (;;) {
		unsigned id = random_id(r);
		size_t i;

		for (i = 0; i < n; i++)
			if (fv[i].state == F_UDP && fv[i].id == id)
				break;
		if (i == n)
			return id;
	}
}

/*
 * Sends the queries of list (k flights) on fd; returns how many left.
 * One sendmmsg() on Linux: a round's queries cost one system call and
 * wake the server once, not once each.
 */
static size_t send_batch(int fd, flight *const *list, size_t k)
{
#if defined(__linux__)
	struct mmsghdr mv[MAX_INFLIGHT];
	struct iovec iov[MAX_INFLIGHT];
	size_t i, done = 0;

	memset(mv, 0, k * sizeof *mv);
	for (i = 0; i < k; i++) {
		iov[i].iov_base = list[i]->query;
		iov[i].iov_len = list[i]->qlen;
		mv[i].msg_hdr.msg_iov = &iov[i];
		mv[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < k) {
		int got = sendmmsg(fd, mv + done, (unsigned)(k - done),
				   MSG_DONTWAIT);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		done += (size_t)got;
	}
	return done;
#else
	size_t i;

	for (i = 0; i < k; i++)
		if (send(fd, list[i]->query, list[i]->qlen, MSG_DONTWAIT) !=
		    (ssize_t)list[i]->qlen)
			break;
	return i;
#endif
}

/*
 * Sends the first UDP try of every open question over server nsi's
 * socket (-1 when none flew).  When sending fails (an ICMP error of an
 * earlier query reported now, a socket gone bad) the socket is reopened
 * and the round sent again on the new one, once.
 */
static int udp_send_all(net_resolver *r, flight *fv, size_t n, size_t nsi,
			double end)
{
	flight *list[MAX_INFLIGHT];
	size_t i, k = 0, done = 0;
	int fd = -1, pass;

	for (i = 0; i < n; i++) {
		fv[i].fd = -1;
		fv[i].tcp = NULL;
		fv[i].state = F_IDLE;
		if (*fv[i].out != NULL || flight_query(&fv[i]) != 0)
			continue;
		fv[i].id = unused_id(r, fv, n);
		set_id(fv[i].query, fv[i].id);
		fv[i].state = F_UDP;	/* its id is taken */
		fv[i].end = end;
		list[k++] = &fv[i];
	}
	for (pass = 0; k > 0; pass++) {
		if ((fd = udp_socket(r, nsi, k, now_s())) < 0)
			break;
		done = send_batch(fd, list, k);
		if (done == k || pass == 1)
			break;
		/* Once: a fresh socket, and all of them again (replies to what
		 * left from the old port would never reach the new one). */
		udp_close(&r->udp[nsi]);
		done = 0;
	}
	r->base.stats.queries += k;
	for (i = done; i < k; i++)
		list[i]->state = F_IDLE;
	return done > 0 ? fd : -1;
}

/* The UDP tries of this round waiting on the socket. */
static void udp_drop_all(flight *fv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fv[i].state == F_UDP)
			flight_drop(&fv[i]);
}

/* When a TCP try started now ends: a timeout on, never past the deadline. */
static double tcp_end_of(const net_resolver *r, double now, double deadline)
{
	double end = now + r->timeout;

	return deadline > 0 ? min_d(end, deadline) : end;
}

/*
 * A datagram from the server's socket: to the UDP try whose id it
 * carries, when it answers that try (take_reply); a truncated answer
 * starts the try's TCP exchange.  Returns 1 when it ended a UDP try, 0
 * when it matched none (stray, forged or garbled: the try keeps waiting).
 */
static int udp_take(net_resolver *r, flight *fv, size_t n, size_t nsi,
		    const unsigned char *buf, size_t len, double deadline)
{
	unsigned id;
	size_t i;

	if (len < 12)
		return 0;
	id = (unsigned)buf[0] << 8 | buf[1];
	for (i = 0; i < n; i++) {
		mauth_answer *ans;
		int tc;

		if (fv[i].state != F_UDP || fv[i].id != id)
			continue;
		ans = take_reply(buf, len, &fv[i], &tc);
		if (ans == NULL)
			return 0;	/* forged or garbled: keep waiting */
		if (tc) {
			mauth_answer_free(ans);
			tcp_start(r, &fv[i], &r->ns[nsi],
				  tcp_end_of(r, now_s(), deadline));
			return 1;
		}
		flight_drop(&fv[i]);
		*fv[i].out = ans;
		return 1;
	}
	return 0;
}

/*
 * Up to want datagrams from fd into buf (RECV_BATCH slots of WIRE_MAX):
 * lens[] gets their sizes; returns how many, or -1 with errno.  wait: the
 * first may be waited for (the socket's SO_RCVTIMEO bounds it), never the
 * others.  One recvmmsg() on Linux for the lot: the replies of a round
 * mostly arrive together.
 */
static int recv_batch(int fd, unsigned char *buf, size_t *lens, size_t want,
		      int wait)
{
#if defined(__linux__)
	struct mmsghdr mv[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	size_t i;
	int got;

	memset(mv, 0, want * sizeof *mv);
	for (i = 0; i < want; i++) {
		iov[i].iov_base = buf + i * WIRE_MAX;
		iov[i].iov_len = WIRE_MAX;
		mv[i].msg_hdr.msg_iov = &iov[i];
		mv[i].msg_hdr.msg_iovlen = 1;
	}
	got = recvmmsg(fd, mv, (unsigned)want, wait ? MSG_WAITFORONE : MSG_DONTWAIT,
		       NULL);
	for (i = 0; got > 0 && i < (size_t)got; i++)
		lens[i] = mv[i].msg_len;
	return got;
#else
	size_t i;

	for (i = 0; i < want; i++) {
		ssize_t got = recv(fd, buf + i * WIRE_MAX, WIRE_MAX,
				   wait && i == 0 ? 0 : MSG_DONTWAIT);

		if (got < 0)
			return i > 0 ? (int)i : -1;
		lens[i] = (size_t)got;
	}
	return (int)want;
#endif
}

/*
 * Reads the server's socket: replies, stray or forged datagrams, or an
 * ICMP error.  wait: block for the first datagram (at most the socket's
 * slice; the caller made sure the round's tries have that long left),
 * else only what is queued (poll() said it is readable).  Reads at most a
 * round's worth plus some, so a flood cannot keep us from the deadline,
 * and stops when the queue is empty or no try waits (no read just to hear
 * EAGAIN).  An error (ECONNREFUSED: nobody there) closes the socket and
 * ends the round's UDP tries: they go to the next server, or round.
 */
static void udp_read_all(net_resolver *r, flight *fv, size_t n, size_t nsi,
			 double deadline, int wait)
{
	size_t i, reads = 0, waiting = 0, lens[RECV_BATCH];

	for (i = 0; i < n; i++)
		waiting += fv[i].state == F_UDP;
	while (waiting > 0 && reads < 2 * n + 16) {
		size_t want = waiting < RECV_BATCH ? waiting : RECV_BATCH;
		int got = recv_batch(r->udp[nsi].fd, r->buf, lens, want, wait);

		if (got < 0 && (errno == EINTR || errno == EAGAIN ||
				errno == EWOULDBLOCK))
			return;		/* the caller's loop looks again */
		if (got < 0) {
			udp_close(&r->udp[nsi]);
			udp_drop_all(fv, n);
			return;
		}
		for (i = 0; i < (size_t)got; i++)
			waiting -= (size_t)udp_take(r, fv, n, nsi,
						    r->buf + i * WIRE_MAX,
						    lens[i], deadline);
		reads += (size_t)got;
		if ((size_t)got < want)
			return;		/* nothing more queued */
		wait = 0;
	}
}

/* A TCP socket is ready for the next piece of the exchange. */
static void tcp_ready(flight *f)
{
	ssize_t got;

	if (f->state == F_TCP_SEND) {
		got = send(f->fd, f->tcp + f->tcp_done, f->tcp_len - f->tcp_done,
			   MSG_NOSIGNAL);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (got <= 0) {
			flight_drop(f);	/* refused or reset */
			return;
		}
		f->tcp_done += (size_t)got;
		if (f->tcp_done == f->tcp_len) {
			f->state = F_TCP_RECV;
			f->tcp_done = 0;
			f->tcp_len = 2;		/* the length prefix first */
		}
		return;
	}
	got = recv(f->fd, f->tcp + f->tcp_done, f->tcp_len - f->tcp_done, 0);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got <= 0) {
		flight_drop(f);
		return;
	}
	f->tcp_done += (size_t)got;
	if (f->tcp_done < f->tcp_len)
		return;
	if (f->tcp_len == 2) {
		f->tcp_len = 2 + (size_t)(f->tcp[0] << 8 | f->tcp[1]);
		if (f->tcp_len == 2)
			flight_drop(f);
		return;
	}
	{
		int tc;
		mauth_answer *ans = take_reply(f->tcp + 2, f->tcp_len - 2, f, &tc);

		flight_drop(f);
		*f->out = ans;	/* NULL (no match, garbage): retried next round */
	}
}

/*
 * The poll set of a round: the server's UDP socket when a UDP try waits
 * (at[] = n marks it), and each TCP try's connection.  Drops the tries
 * whose time is up; *first gets the earliest end of those left.
 */
static size_t round_pollset(net_resolver *r, flight *fv, size_t n, size_t nsi,
			    struct pollfd *pv, size_t *at, double *first)
{
	double now = now_s();
	size_t i, np = 0;
	int udp = 0;

	for (i = 0; i < n; i++) {
		if (fv[i].state == F_IDLE)
			continue;
		if (now >= fv[i].end) {
			flight_drop(&fv[i]);	/* this try timed out */
			continue;
		}
		if ((np == 0 && !udp) || fv[i].end < *first)
			*first = fv[i].end;
		if (fv[i].state == F_UDP) {
			udp = 1;
			continue;
		}
		pv[np].fd = fv[i].fd;
		pv[np].events = fv[i].state == F_TCP_SEND ? POLLOUT : POLLIN;
		pv[np].revents = 0;
		at[np++] = i;
	}
	if (udp && r->udp[nsi].fd < 0)
		udp_drop_all(fv, n);
	else if (udp) {
		pv[np].fd = r->udp[nsi].fd;
		pv[np].events = POLLIN;
		pv[np].revents = 0;
		at[np++] = n;
	}
	return np;
}

/*
 * One round: every open question to server nsi, collect replies until
 * each try's end: now + the timeout, never past the deadline (0: none).
 * A truncated reply starts its TCP try within the same loop, with a
 * timeout of its own.
 */
#define NEED_GRACE 0.05	/* s: see udp_round */

/* Every one of the first need flights answered (need: see dnswire.h). */
static int needed_in(const flight *fv, size_t need)
{
	size_t i;

	for (i = 0; i < need; i++)
		if (*fv[i].out == NULL)
			return 0;
	return 1;
}

static int udp_round(net_resolver *r, flight *fv, size_t n, size_t nsi,
		     double deadline, size_t need)
{
	struct pollfd pv[MAX_INFLIGHT + 1];
	size_t at[MAX_INFLIGHT + 1];
	double start = now_s(), end = start + r->timeout, grace = 0;
	size_t i;

	/* Pages of it are touched only as replies fill them. */
	if (r->buf == NULL && (r->buf = malloc((size_t)RECV_BATCH * WIRE_MAX)) == NULL)
		return MAUTH_ENOMEM;
	if (deadline > 0)
		end = min_d(end, deadline);
	udp_send_all(r, fv, n, nsi, end);
	for (;;) {
		double now, first = 0;
		size_t np;
		int rc;

		now = now_s();
		if (need < n && needed_in(fv, need)) {
			/* The rest were asked only in case: they get as long
			 * again as the needed ones took, at most NEED_GRACE
			 * (their replies are mostly just behind). */
			if (grace == 0)
				grace = now + min_d(now - start, NEED_GRACE);
			if (now >= grace)
				break;
		}
		np = round_pollset(r, fv, n, nsi, pv, at, &first);
		if (np == 0)
			break;
		if (grace > 0)
			first = min_d(first, grace);
		/* Only UDP tries wait, each with a slice or more to go: wait in
		 * the read itself, one system call instead of poll + read. */
		now = now_s();
		if (np == 1 && at[0] == n && r->udp[nsi].slice > 0 &&
		    first - now >= r->udp[nsi].slice) {
			udp_read_all(r, fv, n, nsi, deadline, 1);
			continue;
		}
		rc = poll(pv, np, (int)((first - now) * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			break;
		for (i = 0; i < np; i++) {
			if (pv[i].revents == 0)
				continue;
			if (at[i] == n)
				udp_read_all(r, fv, n, nsi, deadline, 0);
			else
				tcp_ready(&fv[at[i]]);
		}
	}
	for (i = 0; i < n; i++)
		flight_drop(&fv[i]);
	return 0;
}

static int net_query(mauth_resolver *base, const mauth_question *qv, size_t n,
		     mauth_answer **out)
{
	net_resolver *r = (net_resolver *)base;
	flight fv[MAX_INFLIGHT];
	size_t i, start, nf;
	double now = now_s();
	double deadline = base->deadline_ms > 0 ? (double)base->deadline_ms / 1000 : 0;
	int attempt, rc;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	for (start = 0; start < n; start += MAX_INFLIGHT) {
		/* need: of this part's flights, those waited for (0: all) */
		size_t need;

		nf = n - start < MAX_INFLIGHT ? n - start : MAX_INFLIGHT;
		if (base->need == 0)
			need = nf;
		else if (base->need > start)
			need = base->need - start < nf ? base->need - start : nf;
		else
			need = 0;
		for (i = 0; i < nf; i++) {
			const mauth_question *q = &qv[start + i];
			cache_entry *e;

			fv[i].q = q;
			fv[i].out = &out[start + i];
			fv[i].fd = -1;
			fv[i].tcp = NULL;
			fv[i].state = F_IDLE;
			fv[i].qlen = 0;
			fv[i].key[0] = '\0';
			if (r->cache_max > 0)	/* the key only serves the cache */
				make_key(fv[i].key, sizeof fv[i].key, q);
			if (!name_is_valid(q->name, strlen(q->name))) {
				out[start + i] = answer_build(MAUTH_RC_BADNAME,
							      0, 0, NULL, 0);
				continue;
			}
			e = cache_find(r, fv[i].key, now);
			if (e != NULL) {
				base->stats.cache_hits++;
				out[start + i] = mauth_answer_dup(e->ans);
				if (out[start + i] != NULL) {
					/* Hand out the time it has left. */
					out[start + i]->ttl = (unsigned)(e->expires - now);
				}
			} else if (r->cache_max > 0) {
				base->stats.cache_misses++;
			}
		}
		/* Retries never outlast the deadline: no try starts after it. */
		for (attempt = 0; attempt <= r->retries * (int)r->nns + (int)r->nns - 1;
		     attempt++) {
			int left = 0;

			for (i = 0; i < need; i++)
				left |= *fv[i].out == NULL;
			if (!left || r->nns == 0 ||
			    (deadline > 0 && now_s() >= deadline))
				break;
			rc = udp_round(r, fv, nf, (size_t)attempt % r->nns,
				       deadline, need);
			if (rc < 0)
				return rc;
		}
		now = now_s();
		for (i = 0; i < nf; i++) {
			if (*fv[i].out == NULL) {
				if (i < need)
					base->stats.timeouts++;
				*fv[i].out = answer_build(MAUTH_RC_TIMEOUT, 0, 0,
							  NULL, 0);
				if (*fv[i].out == NULL)
					return MAUTH_ENOMEM;
			} else {
				cache_put(r, fv[i].key, *fv[i].out, now);
			}
		}
	}
	return 0;
}

static void net_free(mauth_resolver *base)
{
	net_resolver *r = (net_resolver *)base;
	cache_entry *e = r->lru_head, *next;
	size_t i;

	/* Every entry is on the LRU list: free along it, no unlinking. */
	for (; e != NULL; e = next) {
		next = e->next;
		mauth_answer_free(e->ans);
		free(e->key);
		free(e);
	}
	for (i = 0; i < r->nns; i++)
		udp_close(&r->udp[i]);
	fork_page_close(r);
	free(r->buf);
	free(r->buckets);
	free(r);
}

/* "1.2.3.4", "1.2.3.4@53", "1.2.3.4:53", "::1", "::1@53", "[::1]:53" */
static int parse_ns(const char *s, nsaddr *out)
{
	char host[64];
	const char *port = NULL, *end;
	size_t hl;
	long p = 53;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return -1;
		hl = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':' || end[1] == '@')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else if ((end = strchr(s, '@')) != NULL ||
		   ((end = strchr(s, ':')) != NULL && strchr(end + 1, ':') == NULL)) {
		/* host@port, or host:port when only one colon (not IPv6) */
		hl = (size_t)(end - s);
		port = end + 1;
	} else {
		hl = strlen(s);
	}
	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (port != NULL) {
		char *e;

		p = strtol(port, &e, 10);
		if (*port == '\0' || *e != '\0' || p < 1 || p > 65535)
			return -1;
	}
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((unsigned short)p);
		out->len = sizeof *v4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((unsigned short)p);
		out->len = sizeof *v6;
		return 0;
	}
	return -1;
}

static int read_resolv_conf(net_resolver *r, const char *path,
			    char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return MAUTH_EINVAL;
	}
	while (fgets(line, sizeof line, f) != NULL && r->nns < MAX_NS) {
		char word[64], addr[80];

		if (sscanf(line, " %63s %79s", word, addr) == 2 &&
		    strcmp(word, "nameserver") == 0 &&
		    parse_ns(addr, &r->ns[r->nns]) == 0)
			r->nns++;
	}
	fclose(f);
	if (r->nns == 0) {
		snprintf(err, errlen, "no nameserver in %s", path);
		return MAUTH_EINVAL;
	}
	return 0;
}

int mauth_resolver_new(mauth_resolver **out, const mauth_resolver_opts *o,
		       char *err, size_t errlen)
{
	net_resolver *r = resolver_alloc(sizeof *r, out, net_query, net_free);
	size_t i;
	int rc;

	if (r == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; i < MAX_NS; i++)
		r->udp[i].fd = -1;
	r->timeout = o->timeout > 0 ? o->timeout : DEFAULT_TIMEOUT;
	r->retries = o->retries >= 0 ? o->retries : 1;
	r->cache_max = o->cache_size;
	r->cache_bytes_max = o->cache_bytes > 0 ? o->cache_bytes :
			     DEFAULT_CACHE_BYTES;
	if (o->n_nameservers > MAX_NS) {
		snprintf(err, errlen, "at most %d nameservers", MAX_NS);
		free(r);
		return MAUTH_EINVAL;
	}
	for (i = 0; i < o->n_nameservers; i++) {
		if (parse_ns(o->nameservers[i], &r->ns[r->nns]) != 0) {
			snprintf(err, errlen, "nameservers[%zu]: not an address "
				 "(want 127.0.0.1, ::1@5353, [::1]:53)", i + 1);
			free(r);
			return MAUTH_EINVAL;
		}
		r->nns++;
	}
	if (r->nns == 0) {
		rc = read_resolv_conf(r, o->resolv_conf ? o->resolv_conf :
				      "/etc/resolv.conf", err, errlen);
		if (rc != 0) {
			free(r);
			return rc;
		}
	}
	if (r->cache_max > 0) {
		r->nbuckets = r->cache_max < 1024 ? 1024 : r->cache_max;
		r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
		if (r->buckets == NULL) {
			free(r);
			return MAUTH_ENOMEM;
		}
	}
	fork_page_open(r);
	*out = &r->base;
	return 0;
}

/* ---- the generic resolver calls and the blocking driver loop ---- */

static void drop_last(mauth_resolver *r)
{
	size_t i;

	for (i = 0; i < r->nlast; i++)
		mauth_answer_free(r->last[i]);
	free(r->last);
	r->last = NULL;
	r->nlast = 0;
}

long long mauth_clock_ms(void)
{
	return mono_ns() / 1000000;
}

/* r->query bounded by deadline_ms (0: none), which it reads from r. */
static int query_until(mauth_resolver *r, const mauth_question *qv, size_t n,
		       mauth_answer **out, long long deadline_ms)
{
	int rc;

	r->deadline_ms = deadline_ms > 0 ? deadline_ms : 0;
	rc = r->query(r, qv, n, out);
	r->deadline_ms = 0;
	return rc;
}

int mauth_resolver_query(mauth_resolver *r, const mauth_question *qv, size_t n,
			 const mauth_answer **out)
{
	return mauth_resolver_query_until(r, qv, n, out, 0);
}

int mauth_resolver_query_until(mauth_resolver *r, const mauth_question *qv,
			       size_t n, const mauth_answer **out,
			       long long deadline_ms)
{
	size_t i;
	int rc;

	drop_last(r);
	if (n == 0)
		return 0;
	r->last = calloc(n, sizeof *r->last);
	if (r->last == NULL)
		return MAUTH_ENOMEM;
	r->nlast = n;
	rc = query_until(r, qv, n, r->last, deadline_ms);
	for (i = 0; i < n; i++)
		if (r->last[i] == NULL && rc >= 0)
			rc = MAUTH_ENOMEM;
	if (rc < 0) {
		drop_last(r);
		return rc;
	}
	for (i = 0; i < n; i++)
		out[i] = r->last[i];
	return 0;
}

void mauth_resolver_stats_get(const mauth_resolver *r, mauth_resolver_stats *s)
{
	*s = r->stats;
}

void mauth_resolver_free(mauth_resolver *r)
{
	if (r == NULL)
		return;
	drop_last(r);
	r->free(r);
}

/*
 * Asks r and gives each answer straight to c, which keeps it: the public
 * path (mauth_resolver_query, mauth_check_answer) would copy every answer
 * once more; an answer the driver lends (r->lend) is not even copied once.
 * A question left TIMEOUT once the deadline has passed was cut by the
 * budget, not by the network: the check is told so.
 */
static int run_batch(mauth_check *c, mauth_resolver *r,
		     const mauth_question *qv, size_t n, long long deadline_ms)
{
	mauth_answer *few[16], **av = n <= 16 ? few : calloc(n, sizeof *av);
	unsigned ids[16], *idv = n <= 16 ? ids : calloc(n, sizeof *idv);
	unsigned char lentv[16], *lent = n <= 16 ? lentv : calloc(n, 1);
	size_t i;
	int rc = 0, late;

	if (av == NULL || idv == NULL || lent == NULL) {
		rc = MAUTH_ENOMEM;
		goto out;
	}
	/* qv is the check's own array: read the ids before it changes
	 * (one loop: a batch is mostly one question, memset calls cost more) */
	for (i = 0; i < n; i++) {
		av[i] = NULL;
		lent[i] = 0;
		idv[i] = qv[i].id;
	}
	if (r->lend != NULL) {
		r->deadline_ms = deadline_ms > 0 ? deadline_ms : 0;
		rc = r->lend(r, qv, n, av, lent);
		r->deadline_ms = 0;
	} else {
		rc = query_until(r, qv, n, av, deadline_ms);
	}
	late = deadline_ms > 0 && mauth_clock_ms() >= deadline_ms;
	for (i = 0; i < n; i++) {
		if (av[i] == NULL && rc >= 0)
			rc = MAUTH_ENOMEM;
		if (rc < 0) {
			if (!lent[i])
				mauth_answer_free(av[i]);
		} else if (late && av[i]->rcode == MAUTH_RC_TIMEOUT) {
			if (!lent[i])
				mauth_answer_free(av[i]);
			rc = mauth_check_expire(c, idv[i]);
		} else if (lent[i]) {
			rc = check_lend_answer(c, idv[i], av[i]);
		} else {
			rc = check_take_answer(c, idv[i], av[i]);
		}
	}
out:
	if (av != few)
		free(av);
	if (idv != ids)
		free(idv);
	if (lent != lentv)
		free(lent);
	return rc;
}

int mauth_check_run(mauth_check *c, mauth_resolver *r, long long deadline_ms)
{
	int rc;

	while ((rc = mauth_check_step(c)) == MAUTH_WANT_DNS) {
		const mauth_question *qv;
		size_t i, n = mauth_check_questions(c, &qv);

		if (n == 0)
			return MAUTH_ENOMEM;
		if (deadline_ms > 0 && mauth_clock_ms() >= deadline_ms) {
			/* Out of time: what is still open fails temporarily.
			 * The ids first: qv may change as they are answered. */
			unsigned few[16], *idv = n <= 16 ? few : malloc(n * sizeof *idv);

			if (idv == NULL)
				return MAUTH_ENOMEM;
			for (i = 0; i < n; i++)
				idv[i] = qv[i].id;
			for (i = 0; i < n && rc >= 0; i++)
				rc = mauth_check_expire(c, idv[i]);
			if (idv != few)
				free(idv);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = run_batch(c, r, qv, n, deadline_ms);
		if (rc < 0)
			return rc;
	}
	return rc;
}
