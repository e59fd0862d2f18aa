/*
 * fuzz_authres_dialect.c - the Authentication-Results parser (kind
 * authres_parse) in Microsoft's dialect (dialect = "microsoft"), checked
 * against the strict parser on the same text.
 *
 * Input: the header text itself, except that an input starting with byte
 * 0xff is "\xff" k text: the text repeated to about k * 512 bytes (fields
 * near and past the 64 KiB limit without huge inputs).
 *
 * Checks:
 *   - differential (the point of the target): when the strict parser
 *     accepts the text, the dialect accepts it too and returns the very
 *     same tree (authserv-id, version, instance, every method, result,
 *     reason, comment and property, in order).  The dialect may only add
 *     readings where the strict grammar fails; it never reads a strictly
 *     valid field differently (src/authres/authres.c, "dialect").
 *   - the dialect's own trees are { invalid } alone or the documented
 *     shape, with only the documented deviations: authserv_id absent (and
 *     then no instance), ptype "" only for "action" in a dmarc result, an empty
 *     value only as the last thing before ";" or the end, at least one
 *     result; bounds 256 results, 64 properties.
 *   - memory linear in the text, as in fuzz_authres.c.
 */
#include <string.h>
#include "fuzz.h"
#include "authres_tree.h"
#include "core/internal.h"

static int str_is(const mauth_value *v, const char *s)
{
	return v != NULL && v->kind == MAUTH_V_STR && v->len == strlen(s) &&
	       memcmp(v->str, s, v->len) == 0;
}

/* A property: ptype "" only for "action" in the dialect's dmarc result. */
static void check_props(const mauth_value *props, int dialect, int dmarc)
{
	const mauth_value *pv, *f;
	size_t n = 0;

	for (pv = props->child; pv != NULL; pv = pv->next) {
		/* an empty value looks the same in the tree whether strict's
		 * "" or the dialect's bare "header.from=;": not told apart */
		authres_prop(pv, &n, 0);
		f = mauth_value_get(pv, "ptype");
		FUZZ_ASSERT(f != NULL && f->kind == MAUTH_V_STR);
		if (f->len == 0)
			FUZZ_ASSERT(dialect && dmarc &&
				    str_is(mauth_value_get(pv, "property"), "action"));
		else
			FUZZ_ASSERT(is_lower_word(f, 0));
	}
}

static void check_tree(const mauth_value *r, int dialect)
{
	const mauth_value *res;
	size_t n = 0;

	if (!authres_tree_head(r))
		return;
	/* no authserv-id only in the dialect, and never in an ARC AAR */
	FUZZ_ASSERT(mauth_value_get(r, "authserv_id") != NULL ||
		    (dialect && mauth_value_get(r, "instance") == NULL &&
		     mauth_value_get(r, "version") == NULL));
	for (res = authres_results(r, 0)->child; res != NULL; res = res->next)
		check_props(authres_result(res, &n, 0), dialect,
			    str_is(mauth_value_get(res, "method"), "dmarc"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mauth_check *c[2];	/* strict, microsoft */
	const mauth_value *rs, *rm;

	if (!authres_parse_two(data, size, "dialect", "strict", "microsoft",
			       check_tree, c))
		return 0;
	rs = mauth_check_result(c[0]);
	rm = mauth_check_result(c[1]);
	if (mauth_value_get(rs, "invalid") == NULL) {
		if (mauth_value_get(rm, "invalid") != NULL ||
		    !same_tree(rs->child, rm->child)) {
			fprintf(stderr, "strict and microsoft differ on a strictly "
				"valid field\n");
			abort();
		}
	}
	mauth_check_free(c[0]);
	mauth_check_free(c[1]);
	return 0;
}
