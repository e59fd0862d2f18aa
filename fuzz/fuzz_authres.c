/*
 * fuzz_authres.c - the Authentication-Results parser (kind authres_parse)
 * on arbitrary text, strict and lenient.
 *
 * Input: the header text itself, except that an input starting with byte
 * 0xff is "\xff" k text: the text repeated to about k * 512 bytes, so that
 * fields near and past the 64 KiB limit are tried without huge inputs.
 *
 * Checks: a parse ends in a map that is either { invalid = reason } alone
 * or the documented tree (authserv_id, results of maps with lower-case
 * method and result, properties of { ptype, property, value }), within
 * the bounds (256 results, 64 properties each), every string terminated
 * at its length.  A text the strict parser accepts, the lenient one
 * accepts too, with the same tree: lenient only adds what lies outside
 * the grammar.  Memory stays linear in the text: at most 256 bytes per
 * byte of text plus 256 KiB (a quoted-string once cost the rest of the
 * field, 600 MB for 64 KiB of "" pairs).  A strictly valid field with an
 * authserv-id, written back by mauth_authres_format (folded and not),
 * parses strictly to the same tree, unless the bounds left results out
 * (then the field says so) or a value held a control byte (CR LF inside
 * a quoted-string: the writer turns it into a space).
 */
#include <string.h>
#include "fuzz.h"
#include "authres_tree.h"
#include "core/internal.h"

/* Whether any string of the tree holds a control byte. */
static int has_ctl(const mauth_value *v)
{
	size_t i;

	for (; v != NULL; v = v->next) {
		if (v->kind == MAUTH_V_STR)
			for (i = 0; i < v->len; i++)
				if ((unsigned char)v->str[i] < 32 || v->str[i] == 127)
					return 1;
		if (has_ctl(v->child))
			return 1;
	}
	return 0;
}

/* format(parse(text)) parses back to parse(text) (see the top). */
static void round_trip(const mauth_value *r)
{
	static char buf[1 << 20];
	const mauth_value *id = mauth_value_get(r, "authserv_id");
	const mauth_value *ver = mauth_value_get(r, "version");
	const mauth_value *inst = mauth_value_get(r, "instance");
	mauth_authres_opts o;
	mauth_check *back;
	char err[200];
	long len;
	int fold;

	if (id == NULL || id->len == 0 || has_ctl(r->child))
		return;
	for (fold = 0; fold < 2; fold++) {
		memset(&o, 0, sizeof o);
		o.authserv_id = id->str;
		o.version = ver != NULL ? ver->num : 0;
		o.instance = inst != NULL ? inst->num : 0;
		o.no_fold = !fold;
		len = mauth_authres_format(&r, 1, &o, buf, sizeof buf, err, sizeof err);
		FUZZ_ASSERT(len >= 0 && (size_t)len < sizeof buf);
		if (strstr(buf, " not shown)") != NULL || (ver != NULL && ver->num == 0) ||
		    (inst != NULL && inst->num == 0))
			return;	/* the bounds cut it; 0 is written as absent */
		back = authres_run(buf, (size_t)len, "lenient", "0");
		FUZZ_ASSERT(same_tree(r->child, mauth_check_result(back)->child));
		mauth_check_free(back);
	}
}

/* A property: with lenient the ptype may be absent or "". */
static void check_props(const mauth_value *props, int lenient)
{
	const mauth_value *pv, *f;
	size_t n = 0;

	for (pv = props->child; pv != NULL; pv = pv->next) {
		authres_prop(pv, &n, lenient);
		f = mauth_value_get(pv, "ptype");
		FUZZ_ASSERT(f != NULL || lenient);
		FUZZ_ASSERT(f == NULL || is_lower_word(f, lenient));
	}
}

/* Lenient also takes empty words and a field without results. */
static void check_tree(const mauth_value *r, int lenient)
{
	const mauth_value *res;
	size_t n = 0;

	if (!authres_tree_head(r))
		return;
	/* "" is a value; lenient takes a field with no authserv-id at all */
	FUZZ_ASSERT(mauth_value_get(r, "authserv_id") != NULL || lenient);
	for (res = authres_results(r, lenient)->child; res != NULL; res = res->next)
		check_props(authres_result(res, &n, lenient), lenient);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mauth_check *c[2];	/* strict, lenient */
	const mauth_value *rs, *rl;

	if (!authres_parse_two(data, size, "lenient", "0", "1", check_tree, c))
		return 0;
	rs = mauth_check_result(c[0]);
	rl = mauth_check_result(c[1]);
	if (mauth_value_get(rs, "invalid") == NULL) {
		FUZZ_ASSERT(mauth_value_get(rl, "invalid") == NULL);
		FUZZ_ASSERT(same_tree(rs->child, rl->child));
		round_trip(rs);
	}
	mauth_check_free(c[0]);
	mauth_check_free(c[1]);
	return 0;
}
