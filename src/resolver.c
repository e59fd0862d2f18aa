/*
 * resolver.c - the network driver: DNS over UDP to the given nameservers
 * (or those of /etc/resolv.conf), every question of a step in flight at
 * once, TCP when a reply is truncated, retries across servers, and a
 * TTL-respecting cache shared by every check that uses the resolver.
 *
 * ldns builds and reads the messages (dnswire.c); the sockets are ours,
 * because ldns' own resolver sends one question at a time and blocks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "dnswire.h"

#define MAX_NS 8
#define MAX_INFLIGHT 64
#define WIRE_MAX 65535
#define DEFAULT_TIMEOUT 5.0
#define DEFAULT_CACHE_BYTES ((size_t)16 << 20)
#define CACHE_ANSWER_SHARE 16	/* an answer over 1/16 of the bound: not kept */

typedef struct {
	struct sockaddr_storage sa;
	socklen_t len;
} nsaddr;

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
} net_resolver;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static int open_socket(const nsaddr *ns, int type)
{
	int fd = socket(ns->sa.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&ns->sa, ns->len) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static int wait_fd(int fd, short events, double deadline)
{
	struct pollfd p;
	double left;
	int rc;

	for (;;) {
		left = deadline - now_s();
		if (left <= 0)
			return 0;
		p.fd = fd;
		p.events = events;
		rc = poll(&p, 1, (int)(left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc > 0;	/* on POLLERR the next send/recv fails */
	}
}

static int io_all(int fd, unsigned char *buf, size_t len, int write_it,
		  double deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (wait_fd(fd, write_it ? POLLOUT : POLLIN, deadline) <= 0)
			return -1;
		n = write_it ? send(fd, buf + done, len - done, MSG_NOSIGNAL) :
			       recv(fd, buf + done, len - done, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* One question over TCP (RFC 7766), used after a truncated UDP reply. */
static mauth_answer *query_tcp(net_resolver *r, const nsaddr *ns,
			       const mauth_question *q, unsigned id)
{
	unsigned char *buf = malloc(WIRE_MAX + 2);
	double deadline = now_s() + r->timeout;
	mauth_answer *ans = NULL;
	unsigned got_id;
	int fd, len, tc;
	char err[128];

	if (buf == NULL)
		return NULL;
	r->base.stats.queries++;
	r->base.stats.tcp++;
	len = mauth_wire_query(q->name, q->type, id, buf + 2, WIRE_MAX);
	fd = len > 0 ? open_socket(ns, SOCK_STREAM) : -1;
	if (fd < 0)
		goto out;
	buf[0] = (unsigned char)(len >> 8);
	buf[1] = (unsigned char)len;
	if (io_all(fd, buf, (size_t)len + 2, 1, deadline) != 0 ||
	    io_all(fd, buf, 2, 0, deadline) != 0)
		goto out;
	len = buf[0] << 8 | buf[1];
	if (io_all(fd, buf, (size_t)len, 0, deadline) != 0)
		goto out;
	if (mauth_wire_parse(buf, (size_t)len, &ans, &got_id, &tc, err,
			     sizeof err) != 0 || got_id != id) {
		mauth_answer_free(ans);
		ans = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ans;
}

typedef struct {
	const mauth_question *q;
	mauth_answer **out;
	char key[NAME_MAX_TEXT * 4 + 16];
	int fd;
	unsigned id;
} flight;

static unsigned random_id(void)
{
	unsigned short v;

	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (unsigned short)(now_s() * 1e6);
	return v;
}

/*
 * Does this reply answer this question? (RFC 5452 §9.1: id and question.)
 * Names are compared on the wire, ignoring case: the text of the question
 * may spell an octet "\109" where the reply's text says "m".
 */
static int reply_matches(const unsigned char *buf, size_t len, const flight *f)
{
	ldns_pkt *pkt = NULL;
	ldns_rdf *want;
	const ldns_rr_list *ql;
	const ldns_rr *q;
	int ok = 0;

	if (ldns_wire2pkt(&pkt, buf, len) != LDNS_STATUS_OK)
		return 0;
	want = dname_from_text(f->q->name);
	ql = ldns_pkt_question(pkt);
	q = ql != NULL && ldns_rr_list_rr_count(ql) == 1 ?
	    ldns_rr_list_rr(ql, 0) : NULL;
	if (want != NULL && q != NULL && ldns_pkt_qr(pkt) &&
	    ldns_pkt_id(pkt) == f->id &&
	    (int)ldns_rr_get_type(q) == f->q->type &&
	    ldns_dname_compare(ldns_rr_owner(q), want) == 0)
		ok = 1;
	ldns_rdf_deep_free(want);
	ldns_pkt_free(pkt);
	return ok;
}

/* One round: send every open question to ns, collect replies until timeout. */
static int udp_round(net_resolver *r, flight *fv, size_t n, const nsaddr *ns)
{
	unsigned char *buf = malloc(WIRE_MAX);
	struct pollfd pv[MAX_INFLIGHT];
	double deadline = now_s() + r->timeout;
	size_t i, open = 0;

	if (buf == NULL)
		return MAUTH_ENOMEM;
	for (i = 0; i < n; i++) {
		int len;

		fv[i].fd = -1;
		if (*fv[i].out != NULL)
			continue;
		fv[i].id = random_id();
		len = mauth_wire_query(fv[i].q->name, fv[i].q->type, fv[i].id,
				       buf, WIRE_MAX);
		if (len < 0)
			continue;
		fv[i].fd = open_socket(ns, SOCK_DGRAM);
		if (fv[i].fd < 0)
			continue;
		r->base.stats.queries++;
		if (send(fv[i].fd, buf, (size_t)len, 0) != len) {
			close(fv[i].fd);
			fv[i].fd = -1;
			continue;
		}
		open++;
	}
	while (open > 0) {
		double left = deadline - now_s();
		size_t np = 0;
		int rc;

		if (left <= 0)
			break;
		for (i = 0; i < n; i++)
			if (fv[i].fd >= 0) {
				pv[np].fd = fv[i].fd;
				pv[np].events = POLLIN;
				pv[np].revents = 0;
				np++;
			}
		rc = poll(pv, np, (int)(left * 1000) + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			break;
		for (i = 0; i < n; i++) {
			ssize_t got;
			mauth_answer *ans = NULL;
			unsigned id;
			int tc;
			char err[128];
			size_t k;

			if (fv[i].fd < 0)
				continue;
			for (k = 0; k < np && pv[k].fd != fv[i].fd; k++)
				;
			if (k == np || pv[k].revents == 0)
				continue;
			got = recv(fv[i].fd, buf, WIRE_MAX, 0);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				/* ECONNREFUSED: nobody there; try elsewhere. */
				close(fv[i].fd);
				fv[i].fd = -1;
				open--;
				continue;
			}
			/* A stray or forged reply is dropped; keep waiting. */
			if (!reply_matches(buf, (size_t)got, &fv[i]))
				continue;
			if (mauth_wire_parse(buf, (size_t)got, &ans, &id, &tc,
					     err, sizeof err) != 0)
				continue;
			close(fv[i].fd);
			fv[i].fd = -1;
			open--;
			if (tc) {
				mauth_answer_free(ans);
				ans = query_tcp(r, ns, fv[i].q, random_id());
				if (ans == NULL)
					continue;	/* retried next round */
			}
			*fv[i].out = ans;
		}
	}
	for (i = 0; i < n; i++)
		if (fv[i].fd >= 0)
			close(fv[i].fd);
	free(buf);
	return 0;
}

static int net_query(mauth_resolver *base, const mauth_question *qv, size_t n,
		     mauth_answer **out)
{
	net_resolver *r = (net_resolver *)base;
	flight fv[MAX_INFLIGHT];
	size_t i, start, nf;
	double now = now_s();
	int attempt, rc;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	for (start = 0; start < n; start += MAX_INFLIGHT) {
		nf = n - start < MAX_INFLIGHT ? n - start : MAX_INFLIGHT;
		for (i = 0; i < nf; i++) {
			const mauth_question *q = &qv[start + i];
			cache_entry *e;

			fv[i].q = q;
			fv[i].out = &out[start + i];
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
		for (attempt = 0; attempt <= r->retries * (int)r->nns + (int)r->nns - 1;
		     attempt++) {
			int left = 0;

			for (i = 0; i < nf; i++)
				left |= *fv[i].out == NULL;
			if (!left || r->nns == 0)
				break;
			rc = udp_round(r, fv, nf, &r->ns[(size_t)attempt % r->nns]);
			if (rc < 0)
				return rc;
		}
		now = now_s();
		for (i = 0; i < nf; i++) {
			if (*fv[i].out == NULL) {
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

	/* Every entry is on the LRU list: free along it, no unlinking. */
	for (; e != NULL; e = next) {
		next = e->next;
		mauth_answer_free(e->ans);
		free(e->key);
		free(e);
	}
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
	net_resolver *r = calloc(1, sizeof *r);
	size_t i;
	int rc;

	*out = NULL;
	if (r == NULL)
		return MAUTH_ENOMEM;
	r->base.query = net_query;
	r->base.free = net_free;
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

int mauth_resolver_query(mauth_resolver *r, const mauth_question *qv, size_t n,
			 const mauth_answer **out)
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
	rc = r->query(r, qv, n, r->last);
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
 * once more.
 */
static int run_batch(mauth_check *c, mauth_resolver *r,
		     const mauth_question *qv, size_t n)
{
	mauth_answer *few[16], **av = n <= 16 ? few : calloc(n, sizeof *av);
	unsigned ids[16], *idv = n <= 16 ? ids : calloc(n, sizeof *idv);
	size_t i;
	int rc = 0;

	if (av == NULL || idv == NULL) {
		rc = MAUTH_ENOMEM;
		goto out;
	}
	memset(av, 0, n * sizeof *av);
	/* qv is the check's own array: read the ids before it changes */
	for (i = 0; i < n; i++)
		idv[i] = qv[i].id;
	rc = r->query(r, qv, n, av);
	for (i = 0; i < n; i++) {
		if (av[i] == NULL && rc >= 0)
			rc = MAUTH_ENOMEM;
		if (rc < 0)
			mauth_answer_free(av[i]);
		else
			rc = check_take_answer(c, idv[i], av[i]);
	}
out:
	if (av != few)
		free(av);
	if (idv != ids)
		free(idv);
	return rc;
}

int mauth_check_run(mauth_check *c, mauth_resolver *r, unsigned deadline_ms)
{
	double end = deadline_ms > 0 ? now_s() + deadline_ms / 1000.0 : 0;
	static const mauth_answer timeout = { MAUTH_RC_TIMEOUT, 0, 0, 0, NULL };
	int rc;

	while ((rc = mauth_check_step(c)) == MAUTH_WANT_DNS) {
		const mauth_question *qv;
		size_t i, n = mauth_check_questions(c, &qv);

		if (n == 0)
			return MAUTH_ENOMEM;
		if (deadline_ms > 0 && now_s() >= end) {
			/* Out of time: what is still open fails temporarily. */
			for (i = 0; i < n && rc >= 0; i++)
				rc = mauth_check_answer(c, qv[i].id, &timeout);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = run_batch(c, r, qv, n);
		if (rc < 0)
			return rc;
	}
	return rc;
}
