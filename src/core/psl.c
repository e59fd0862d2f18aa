/*
 * psl.c - the Public Suffix List behind DMARC's Organizational Domain
 * (RFC 7489 §3.2), through libpsl.
 *
 * This is the one place in the core that reads a file.  The list is about
 * 200 kB of rules; parsing it for every message would cost milliseconds, so
 * pslcache_get() loads a path the first time a check asks for it and keeps
 * it for the life of the process.  Every lookup after that is pure.
 * Operators keep the file current (Debian's publicsuffix package, or the
 * psl_file option); a new process picks up a changed file.
 *
 * The cache is shared by every check of the process, so it is guarded by a
 * mutex (hosts such as Rspamd or HAProxy may run Lua states on threads).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <libpsl.h>
#include "core/internal.h"

#define PSL_PATHS_MAX 4		/* distinct list files one process may load */

static struct {
	char *path;
	psl_ctx_t *ctx;
} cache[PSL_PATHS_MAX];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

const void *pslcache_get(const char *path, const char **why)
{
	psl_ctx_t *ctx = NULL;
	size_t i;

	*why = NULL;
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < PSL_PATHS_MAX && cache[i].path != NULL; i++)
		if (strcmp(cache[i].path, path) == 0) {
			ctx = cache[i].ctx;
			goto out;
		}
	if (i == PSL_PATHS_MAX) {
		*why = "too many distinct public suffix list files";
		goto out;
	}
	ctx = psl_load_file(path);
	if (ctx == NULL) {
		*why = "cannot load the public suffix list file";
		goto out;
	}
	cache[i].path = strdup(path);
	if (cache[i].path == NULL) {
		psl_free(ctx);
		ctx = NULL;
		*why = "out of memory";
		goto out;
	}
	cache[i].ctx = ctx;
out:
	pthread_mutex_unlock(&cache_lock);
	return ctx;
}

/*
 * The answers of the last lookups, by name: a message asks about the same
 * few names (the author's, SPF's, each signer's) and so does the next
 * message from the same sender, while libpsl walks its rules each time.
 * An answer depends only on the list (ctx) and the name, so a name's
 * answer is kept as the offset of its registrable domain in it (-1: none).
 * Direct-mapped by a hash of the name, under the cache's mutex.
 */
#define REG_SLOTS 64
#define REG_NAME_MAX 256	/* longer names are not kept */

static struct {
	const void *ctx;
	long at;
	size_t len;
	char name[REG_NAME_MAX];
} reg[REG_SLOTS];

static size_t reg_slot(const char *name, size_t len)
{
	size_t h = 5381, i;

	for (i = 0; i < len; i++)
		h = h * 33 + (unsigned char)name[i];
	return h % REG_SLOTS;
}

/* 1 and *at when the answer for (ctx, name) is kept. */
static int reg_find(const void *ctx, const char *name, size_t len, size_t slot,
		    long *at)
{
	int hit;

	pthread_mutex_lock(&cache_lock);
	hit = reg[slot].ctx == ctx && reg[slot].len == len &&
	      memcmp(reg[slot].name, name, len) == 0;
	if (hit)
		*at = reg[slot].at;
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void reg_keep(const void *ctx, const char *name, size_t len, size_t slot,
		     long at)
{
	pthread_mutex_lock(&cache_lock);
	reg[slot].ctx = ctx;
	reg[slot].at = at;
	reg[slot].len = len;
	memcpy(reg[slot].name, name, len);
	pthread_mutex_unlock(&cache_lock);
}

/*
 * The registrable domain of a lower-case name: the longest matching public
 * suffix plus one label (RFC 7489 §3.2 steps 1-3).  Returns a pointer into
 * name, or NULL when name is itself a public suffix or not a usable name
 * (empty labels, a leading dot).
 */
const char *pslcache_registrable(const void *ctx, const char *name)
{
	size_t len = strlen(name), i, slot;
	const char *r;
	long at;

	if (len == 0 || name[0] == '.')
		return NULL;
	for (i = 0; i + 1 < len; i++)
		if (name[i] == '.' && name[i + 1] == '.')
			return NULL;
	if (len >= REG_NAME_MAX)
		return psl_registrable_domain(ctx, name);
	slot = reg_slot(name, len);
	if (reg_find(ctx, name, len, slot, &at))
		return at < 0 ? NULL : name + at;
	r = psl_registrable_domain(ctx, name);
	/* libpsl answers with a suffix of name (NULL for none) */
	if (r == NULL || (r >= name && r <= name + len))
		reg_keep(ctx, name, len, slot, r == NULL ? -1 : (long)(r - name));
	return r;
}

/* Lower-cases a name into the arena: ASCII by hand, UTF-8 through libpsl. */
char *pslcache_lower(arena *a, const char *s, size_t len)
{
	char *out = arena_strndup(a, s, len), *low = NULL;
	size_t i;
	int ascii = 1;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)out[i];

		if (ch >= 'A' && ch <= 'Z')
			out[i] = (char)(ch + 32);
		else if (ch >= 0x80)
			ascii = 0;
	}
	if (ascii || memchr(out, '\0', len) != NULL)
		return out;
	if (psl_str_to_utf8lower(out, NULL, NULL, &low) == PSL_SUCCESS &&
	    low != NULL) {
		out = arena_strndup(a, low, strlen(low));
		psl_free_string(low);
	}
	return out;
}

/*
 * Frees the cached lists when the module is unloaded (dlclose at exit), so
 * leak checkers see the cache as what it is: kept on purpose, then freed.
 */
__attribute__((destructor)) static void pslcache_unload(void)
{
	size_t i;

	for (i = 0; i < PSL_PATHS_MAX; i++) {
		free(cache[i].path);
		psl_free(cache[i].ctx);
		cache[i].path = NULL;
		cache[i].ctx = NULL;
	}
}
