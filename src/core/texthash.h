/*
 * texthash.h - a fast hash of bytes (8 at a time, in util.c) for the slots
 * of the process-wide caches (crypto.c, spfcache.c).  Not for anything
 * where a collision an attacker arranges costs more than a cache miss.
 */
#if !defined(MAUTH_TEXTHASH_H)
#define MAUTH_TEXTHASH_H

#include <stddef.h>

unsigned long long text_hash(const char *s, size_t len);

#endif
