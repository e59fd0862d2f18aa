/*
 * fuzz_message.c - the RFC 5322 message reader (message.c) and the From
 * reader built on it (msginfo.c, kind "message_info").
 * Checks: fields lie inside the input, in order, within the limits; the body
 * starts after the last field; message_info always ends with its fields.
 */
#include <string.h>
#include "fuzz.h"
#include "core/internal.h"
#include "core/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	msg_limits lim = { 50, 4096 };
	mauth_opts *o = mauth_opts_new();
	const mauth_value *r, *v;
	mauth_check *c;
	arena a;
	msg m;
	size_t i;

	arena_init(&a);
	/* Small limits so that the truncation paths are reached too. */
	if (msg_parse(&a, s, size, &lim, &m) == 0) {
		FUZZ_ASSERT(m.n <= lim.max_fields);
		for (i = 0; i < m.n; i++) {
			const msg_field *f = &m.f[i];

			FUZZ_ASSERT(f->raw >= s && f->raw + f->len <= s + size);
			FUZZ_ASSERT(f->nlen <= f->len);
			FUZZ_ASSERT(f->vlen == 0 || (f->value >= f->raw &&
				    f->value + f->vlen <= f->raw + f->len));
			if (i > 0)
				FUZZ_ASSERT(f->raw >= m.f[i - 1].raw + m.f[i - 1].len);
		}
		if (m.body != NULL) {
			FUZZ_ASSERT(m.body >= s && m.body + m.body_len == s + size);
			if (m.n > 0)
				FUZZ_ASSERT(m.body >= m.f[m.n - 1].raw + m.f[m.n - 1].len);
		}
		FUZZ_ASSERT(!m.truncated || m.problem != NULL);
	}
	arena_free(&a);

	mauth_opts_ref(o, "message", s, size);
	FUZZ_ASSERT(mauth_check_new(&c, "message_info", mauth_opts_tree(o), NULL, 0) == 0);
	mauth_opts_free(o);
	FUZZ_ASSERT(mauth_check_step(c) == MAUTH_DONE);
	r = mauth_check_result(c);
	FUZZ_ASSERT(mauth_value_get(r, "from_fields") != NULL);
	v = mauth_value_get(r, "from_domains");
	FUZZ_ASSERT(v != NULL && v->kind == MAUTH_V_LIST);
	for (v = v->child; v != NULL; v = v->next)
		FUZZ_ASSERT(v->len > 0 && strlen(v->str) <= v->len);
	mauth_check_free(c);
	return 0;
}
