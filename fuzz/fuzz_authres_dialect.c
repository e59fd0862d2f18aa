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

static void check_props(const mauth_value *props, int dialect, int dmarc)
{
	const mauth_value *pv, *f;
	size_t n = 0;

	FUZZ_ASSERT(props->kind == MAUTH_V_LIST);
	for (pv = props->child; pv != NULL; pv = pv->next) {
		FUZZ_ASSERT(pv->kind == MAUTH_V_MAP && pv->key == NULL);
		FUZZ_ASSERT(++n <= 64);
		f = mauth_value_get(pv, "ptype");
		FUZZ_ASSERT(f != NULL && f->kind == MAUTH_V_STR);
		if (f->len == 0)
			FUZZ_ASSERT(dialect && dmarc &&
				    str_is(mauth_value_get(pv, "property"), "action"));
		else
			FUZZ_ASSERT(is_lower_word(f, 0));
		FUZZ_ASSERT(is_lower_word(mauth_value_get(pv, "property"), 0));
		f = mauth_value_get(pv, "value");
		/* may be empty in both: "" is an RFC 2045 quoted-string, which
		 * the strict grammar allows (the dialect's bare "header.from=;"
		 * looks the same in the tree, so it is not told apart here) */
		FUZZ_ASSERT(f != NULL && f->kind == MAUTH_V_STR);
	}
}

static void check_tree(const mauth_value *r, int dialect)
{
	const mauth_value *f, *res, *list;
	size_t n = 0;

	FUZZ_ASSERT(r != NULL && r->kind == MAUTH_V_MAP);
	strings_terminated(r->child, 0);
	f = mauth_value_get(r, "invalid");
	if (f != NULL) {
		FUZZ_ASSERT(f->kind == MAUTH_V_STR && f->len > 0);
		FUZZ_ASSERT(r->child == f && f->next == NULL);
		return;
	}
	f = mauth_value_get(r, "authserv_id");
	/* no authserv-id only in the dialect, and never in an ARC AAR */
	FUZZ_ASSERT(f != NULL || (dialect &&
				  mauth_value_get(r, "instance") == NULL &&
				  mauth_value_get(r, "version") == NULL));
	FUZZ_ASSERT(f == NULL || f->kind == MAUTH_V_STR);
	f = mauth_value_get(r, "version");
	FUZZ_ASSERT(f == NULL || (f->kind == MAUTH_V_INT && f->num >= 0));
	f = mauth_value_get(r, "instance");
	FUZZ_ASSERT(f == NULL || (f->kind == MAUTH_V_INT && f->num >= 0));
	list = mauth_value_get(r, "results");
	FUZZ_ASSERT(list != NULL && list->kind == MAUTH_V_LIST);
	f = mauth_value_get(r, "result");
	if (f != NULL) {
		FUZZ_ASSERT(f->kind == MAUTH_V_STR && strcmp(f->str, "none") == 0);
		FUZZ_ASSERT(list->child == NULL);
	} else {
		FUZZ_ASSERT(list->child != NULL);
	}
	for (res = list->child; res != NULL; res = res->next) {
		FUZZ_ASSERT(res->kind == MAUTH_V_MAP && res->key == NULL);
		FUZZ_ASSERT(++n <= 256);
		FUZZ_ASSERT(is_lower_word(mauth_value_get(res, "method"), 0));
		FUZZ_ASSERT(is_lower_word(mauth_value_get(res, "result"), 0));
		f = mauth_value_get(res, "method_version");
		FUZZ_ASSERT(f == NULL || (f->kind == MAUTH_V_INT && f->num >= 0));
		f = mauth_value_get(res, "comment");
		FUZZ_ASSERT(f == NULL || f->kind == MAUTH_V_STR);
		f = mauth_value_get(res, "reason");
		FUZZ_ASSERT(f == NULL || f->kind == MAUTH_V_STR);
		f = mauth_value_get(res, "properties");
		FUZZ_ASSERT(f != NULL);
		check_props(f, dialect, str_is(mauth_value_get(res, "method"), "dmarc"));
	}
}

static mauth_check *parse(const char *text, size_t len, int dialect)
{
	mauth_check *c = authres_run(text, len, "dialect", dialect ? "microsoft" : "strict");

	check_tree(mauth_check_result(c), dialect);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text;
	size_t len;
	mauth_check *strict, *ms;
	const mauth_value *rs, *rm;

	if (!authres_input(data, size, &text, &len))
		return 0;
	strict = parse(text, len, 0);
	ms = parse(text, len, 1);
	rs = mauth_check_result(strict);
	rm = mauth_check_result(ms);
	if (mauth_value_get(rs, "invalid") == NULL) {
		if (mauth_value_get(rm, "invalid") != NULL ||
		    !same_tree(rs->child, rm->child)) {
			fprintf(stderr, "strict and microsoft differ on a strictly "
				"valid field\n");
			abort();
		}
	}
	mauth_check_free(strict);
	mauth_check_free(ms);
	return 0;
}
