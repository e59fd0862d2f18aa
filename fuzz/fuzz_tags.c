/*
 * fuzz_tags.c - the tag=value list parser (RFC 6376 §3.2) that DKIM
 * signatures, DKIM key records and ARC fields go through.
 * Checks: tag count within TAGS_MAX, every name and value inside the input
 * and in order, names well-formed, tag_compact bounded and FWS-free.
 */
#include <string.h>
#include "fuzz.h"
#include "core/internal.h"
#include "core/tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *why = NULL;
	tag_list t;
	char out[256];
	size_t i, j;

	if (tags_parse(s, size, &t, &why) != 0) {
		FUZZ_ASSERT(why != NULL);
		return 0;
	}
	FUZZ_ASSERT(t.n <= TAGS_MAX);
	for (i = 0; i < t.n; i++) {
		const tag *g = &t.v[i];
		size_t n;

		FUZZ_ASSERT(g->name >= s && g->name + g->nlen <= s + size);
		FUZZ_ASSERT(g->nlen > 0);
		FUZZ_ASSERT(g->vlen == 0 || (g->val >= s && g->val + g->vlen <= s + size));
		FUZZ_ASSERT(g->raw_start <= g->raw_end && g->raw_end <= size);
		for (j = 0; j < i; j++)	/* RFC 6376 §3.2: no tag twice */
			FUZZ_ASSERT(!(t.v[j].nlen == g->nlen &&
				      memcmp(t.v[j].name, g->name, g->nlen) == 0));
		FUZZ_ASSERT(tags_get(&t, "") == NULL);
		n = tag_compact(g, out, sizeof out);
		if (n != (size_t)-1) {
			FUZZ_ASSERT(n < sizeof out && out[n] == '\0');
			for (j = 0; j < n; j++)
				FUZZ_ASSERT(out[j] != ' ' && out[j] != '\t' &&
					    out[j] != '\r' && out[j] != '\n');
		}
	}
	return 0;
}
