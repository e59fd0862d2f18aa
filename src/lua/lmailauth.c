/*
 * lmailauth.c - the Lua binding, mailauth.core: the only file that includes
 * lua.h.  It knows no protocol but for one fast path: a check is created by
 * kind name with its options table as a value tree, and its result tree
 * becomes a table.  The exception is mailauth.spf, the call made per
 * message: core.spf does in C what spf.lua does around core.run, and an
 * SPF result writes its received_spf on first read (l_received_index).
 * It never calls back into Lua to resolve a name (that would abort an
 * Rspamd worker and fail in HAProxy): the loop lives in lua/mailauth.
 *
 * Rule (from lua-cjson): never raise while holding malloc'd memory.  Every
 * scratch buffer here is a userdata or a Lua string, owned by the GC.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "lua.h"
#include "lauxlib.h"
#include "lua/lcompat.h"	/* LuaJIT: lua_absindex, lua_rawlen */
#include "mailauth.h"
#include "core/internal.h"	/* rcode and qtype names, check_next_open */

#define CHECK_MT "mailauth.check"
#define RESOLVER_MT "mailauth.resolver"
#define MESSAGE_MT "mailauth.message"
#define PARAMS_MAX 4096
#define RECORDS_MAX 65535
#define CNAMES_MAX 64	/* a resolver follows 8 (CNAME_CHAIN_MAX) */

int luaopen_mailauth_core(lua_State *L) MAUTH_API;

/* ---- errors ---- */

static int push_fail(lua_State *L, int rc, const char *err)
{
	lua_pushnil(L);
	if (rc == MAUTH_ENOMEM)
		return luaL_error(L, "mailauth: out of memory");
	lua_pushstring(L, err && *err ? err : "invalid argument");
	return 2;
}

/* ---- answers: Lua table <-> mauth_answer ---- */

static void push_answer(lua_State *L, const mauth_answer *a, int qtype)
{
	size_t i;

	lua_createtable(L, 0, 5);
	lua_pushstring(L, rcode_name(a->rcode));	/* unknown: SERVFAIL */
	lua_setfield(L, -2, "rcode");
	lua_createtable(L, (int)a->n, 0);
	for (i = 0; i < a->n; i++) {
		if (qtype == MAUTH_T_MX) {
			lua_createtable(L, 0, 2);
			lua_pushinteger(L, (lua_Integer)a->rr[i].pref);
			lua_setfield(L, -2, "preference");
			lua_pushlstring(L, a->rr[i].data, a->rr[i].len);
			lua_setfield(L, -2, "exchange");
		} else {
			lua_pushlstring(L, a->rr[i].data, a->rr[i].len);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "records");
	lua_pushinteger(L, (lua_Integer)a->ttl);
	lua_setfield(L, -2, "ttl");
	lua_pushboolean(L, a->secure);
	lua_setfield(L, -2, "secure");
	/* every answer says how it was reached: {} when directly */
	lua_createtable(L, (int)a->ncnames, 0);
	for (i = 0; i < a->ncnames; i++) {
		lua_pushstring(L, a->cnames[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "cnames");
}

/*
 * Reads the answer table at idx into *a.  Its strings stay in the table
 * (an argument: it outlives the call), the record and CNAME arrays in the
 * caller's few / fewnames while they fit, else in userdata the GC owns;
 * only a TXT record given as a list is joined, into a string held by the
 * table at anchor.  No allocation in the common case.
 */
#define FEW_RECORDS 16

/* Pops the top value into the table at anchor, made on first use (nil
 * until then: most answers need nothing kept). */
static void hold(lua_State *L, int anchor)
{
	if (lua_isnil(L, anchor)) {
		lua_newtable(L);
		lua_replace(L, anchor);
	}
	lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
}

/* The cnames list at idx (nil: none) into a->cnames. */
static void answer_cnames(lua_State *L, int idx, mauth_answer *a,
			  const char **names)
{
	lua_Integer n, i;
	size_t len;

	if (lua_isnil(L, idx))
		return;
	if (!lua_istable(L, idx))
		luaL_error(L, "answer: cnames must be a table of names");
	n = (lua_Integer)lua_rawlen(L, idx);
	if (n > CNAMES_MAX)
		luaL_error(L, "answer: too many cnames (at most %d)", CNAMES_MAX);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "answer: cnames[%d] must be a string",
				   (int)i);
		names[i - 1] = lua_tolstring(L, -1, &len);
		/* a NUL would cut the name short in C: refuse it, never cut */
		if (memchr(names[i - 1], '\0', len) != NULL)
			luaL_error(L, "answer: cnames[%d] holds a NUL byte", (int)i);
		lua_pop(L, 1);	/* still held by the list */
	}
	a->cnames = names;
	a->ncnames = (size_t)n;
}

/* Record i (on top of the stack) as text: a string, an MX table, or a
 * TXT list joined (the joined string is kept in the table at anchor). */
static void answer_record(lua_State *L, int anchor, lua_Integer i, mauth_rr *r)
{
	int top = lua_gettop(L);

	memset(r, 0, sizeof *r);
	if (lua_type(L, top) == LUA_TTABLE) {
		lua_getfield(L, top, "exchange");
		if (lua_type(L, -1) == LUA_TSTRING) {
			/* MX: { preference = n, exchange = "host" } */
			lua_getfield(L, top, "preference");
			r->pref = (unsigned)lua_tointeger(L, -1);
			lua_pop(L, 1);
		} else {
			/* TXT as a list of character-strings */
			lua_pop(L, 1);
			luaL_checkstack(L, 4, NULL);
			lua_getglobal(L, "table");
			lua_getfield(L, -1, "concat");
			lua_pushvalue(L, top);
			if (lua_pcall(L, 1, 1, 0) != 0)
				luaL_error(L, "answer: records[%d]: %s", (int)i,
					   lua_tostring(L, -1));
			lua_pushvalue(L, -1);
			hold(L, anchor);
		}
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "answer: records[%d] must be a string, "
			   "a list of strings or an MX table", (int)i);
	r->data = lua_tolstring(L, -1, &r->len);
	lua_settop(L, top - 1);
}

/* The records list at idx (a table) into a->rr: few, or userdata held
 * at anchor past FEW_RECORDS. */
static void answer_records(lua_State *L, int idx, int anchor, mauth_answer *a,
			   mauth_rr *few)
{
	mauth_rr *rr = few;
	lua_Integer n, i;

	n = (lua_Integer)lua_rawlen(L, idx);
	if (n > RECORDS_MAX)
		luaL_error(L, "answer: too many records");
	if (n > FEW_RECORDS) {
		rr = lua_newuserdata(L, (size_t)n * sizeof *rr);
		hold(L, anchor);
	}
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, idx, i);
		answer_record(L, anchor, i, &rr[i - 1]);
	}
	a->n = (size_t)n;
	a->rr = rr;
}

/*
 * The fields of an answer at stack slots base .. base + 4, in the order
 * rcode, ttl, secure, records, cnames (ANSWER_FIELDS), into *a.  The
 * single-check Lua loop reads them from the answer table itself and
 * passes them as arguments (check:answer_next): a field read in Lua costs
 * a fraction of one through the C API.  The values must stay on the stack
 * (they hold the records' strings) while *a is used.
 */
#define ANSWER_FIELDS 5

static void answer_fields(lua_State *L, int base, int anchor, mauth_answer *a,
			  mauth_rr *few, const char **names)
{
	const char *rcode;
	lua_Number ttl;

	memset(a, 0, sizeof *a);
	answer_cnames(L, base + 4, a, names);
	if (!lua_isnil(L, base)) {
		rcode = luaL_checkstring(L, base);
		a->rcode = rcode_from_name(rcode);
		if (a->rcode < 0)
			luaL_error(L, "answer: unknown rcode '%s'", rcode);
	}
	ttl = lua_tonumberx(L, base + 1, NULL);	/* 0 when not a number */
	a->ttl = ttl > 0 ? (unsigned)ttl : 0;
	a->secure = lua_toboolean(L, base + 2);
	if (lua_isnil(L, base + 3))
		return;
	if (!lua_istable(L, base + 3))
		luaL_error(L, "answer: records must be a table");
	answer_records(L, base + 3, anchor, a, few);
}

/* The answer table at idx: its fields pushed (ANSWER_FIELDS values, as
 * lua_getfield reads them: through __index too) and read into *a. */
static void check_answer_table(lua_State *L, int idx, int anchor,
			       mauth_answer *a, mauth_rr *few,
			       const char **names)
{
	static const char *const fields[ANSWER_FIELDS] = {
		"rcode", "ttl", "secure", "records", "cnames"
	};
	int base, k;

	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	luaL_checkstack(L, ANSWER_FIELDS, NULL);
	base = lua_gettop(L) + 1;
	for (k = 0; k < ANSWER_FIELDS; k++)
		lua_getfield(L, idx, fields[k]);
	answer_fields(L, base, anchor, a, few, names);
}

/* ---- results: mauth_value -> Lua ---- */

static void push_value(lua_State *L, const mauth_value *v);

/* A member of a list or map: a scalar pushed here (most of a result's
 * fields, so no call and no stack check each), a table by push_value. */
static void push_member(lua_State *L, const mauth_value *m)
{
	switch (m->kind) {
	case MAUTH_V_STR:
		lua_pushlstring(L, m->str, m->len);
		break;
	case MAUTH_V_INT:
		lua_pushinteger(L, (lua_Integer)m->num);
		break;
	case MAUTH_V_BOOL:
		lua_pushboolean(L, (int)m->num);
		break;
	case MAUTH_V_LIST:
	case MAUTH_V_MAP:
		push_value(L, m);
		break;
	default:	/* no other kind: a slot filled all the same */
		lua_pushnil(L);
	}
}

static void push_value(lua_State *L, const mauth_value *v)
{
	const mauth_value *m;
	int i;

	switch (v->kind) {
	case MAUTH_V_LIST:
	case MAUTH_V_MAP:
		/* only a table nests: the stack is checked once per table (a
		 * member needs the one slot above it) */
		luaL_checkstack(L, 4, "result too deep");
		/* sized at once: a result map has a dozen fields */
		for (m = v->child, i = 0; m != NULL; m = m->next)
			i++;
		if (v->kind == MAUTH_V_LIST) {
			lua_createtable(L, i, 0);
			for (m = v->child, i = 1; m != NULL; m = m->next) {
				push_member(L, m);
				lua_rawseti(L, -2, i++);
			}
		} else {
			lua_createtable(L, 0, i);
			for (m = v->child; m != NULL; m = m->next) {
				push_member(L, m);
				lua_setfield(L, -2, m->key);
			}
		}
		break;
	default:
		push_member(L, v);
	}
}

/* ---- check options: a Lua table turned into a value tree ---- */

/*
 * The tree is what the C API takes (mauth_check_new's opts): a sequence
 * becomes a LIST, string keys a MAP, integers INT, booleans BOOL, strings
 * STR.  Strings are used in place (the options table is an argument, so
 * they outlive the call); nodes come from the caller's stack array, then
 * from userdata blocks anchored on the stack (the GC owns them all).  A
 * value no tree can hold (a float, a function) is the caller's mistake,
 * reported in the validator's words (mauth_option_rule) when the kind
 * declares the option.
 */
#define OPT_BLOCK 64

typedef struct {
	mauth_value *next;	/* free nodes of the current block */
	size_t left, made;
	int anchor;		/* stack slot: nil, or a table keeping blocks */
	lua_Integer kept;
	const char *kind;	/* the check kind, for the words */
	const char *top;	/* the option being read */
	mauth_value **tail;	/* after read_options: where a member goes next */
	const mauth_value *now;	/* the member "now", NULL when absent */
	int budget;		/* stack slot for time_budget's value, or 0 */
	int receiver;		/* stack slot for receiver's value, or 0 */
	int resolver;		/* stack slot for resolver's value, or 0 */
	char err[200];
} opt_tree;

static mauth_value *opt_node(lua_State *L, opt_tree *t)
{
	mauth_value *v;

	if (t->left == 0) {
		if (t->made >= PARAMS_MAX)
			return NULL;
		if (t->kept == 0) {
			lua_newtable(L);
			lua_replace(L, t->anchor);
		}
		t->next = lua_newuserdata(L, OPT_BLOCK * sizeof *t->next);
		lua_rawseti(L, t->anchor, ++t->kept);
		t->left = OPT_BLOCK;
	}
	t->left--;
	t->made++;
	v = t->next++;
	memset(v, 0, sizeof *v);
	return v;
}

/* Says what option t->top must be; returns -1. */
static int opt_bad(opt_tree *t)
{
	const mauth_option *o;
	char rule[64];

	/* the declarations looked up only here: an error is rare */
	for (o = mauth_check_options(t->kind); o != NULL && o->name != NULL; o++)
		if (strcmp(o->name, t->top) == 0) {
			snprintf(t->err, sizeof t->err, "option '%s' must be %s",
				 o->name, mauth_option_rule(o, rule, sizeof rule));
			return -1;
		}
	snprintf(t->err, sizeof t->err, "option '%.64s' must be a string, an "
		 "integer, a boolean or a table", t->top);
	return -1;
}

static int opt_value(lua_State *L, opt_tree *t, mauth_value *v, int depth);

/* Members of the table on top: its sequence, or its string keys. */
static int opt_table(lua_State *L, opt_tree *t, mauth_value *v, int depth)
{
	int idx = lua_gettop(L);
	size_t n = (size_t)lua_rawlen(L, idx), i, keys = 0;
	mauth_value **tail = &v->child;

	if (depth >= 8) {
		snprintf(t->err, sizeof t->err, "option '%.64s' is nested too deep",
			 t->top);
		return -1;
	}
	luaL_checkstack(L, 4, "options nested too deep");
	v->kind = n > 0 ? MAUTH_V_LIST : MAUTH_V_MAP;
	for (i = 1; i <= n; i++) {
		mauth_value *m = opt_node(L, t);

		if (m == NULL)
			return luaL_error(L, "too many options");
		lua_rawgeti(L, idx, (lua_Integer)i);
		if (opt_value(L, t, m, depth + 1) < 0)
			return -1;
		lua_pop(L, 1);
		*tail = m;
		tail = &m->next;
	}
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		mauth_value *m;

		keys++;
		if (n > 0 && keys <= n) {
			lua_pop(L, 1);	/* one of the sequence's (read above) */
			continue;
		}
		if (n > 0 || lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 2);
			snprintf(t->err, sizeof t->err, "option '%.64s' must be a list "
				 "or a map of names, not both", t->top);
			return -1;
		}
		m = opt_node(L, t);
		if (m == NULL)
			return luaL_error(L, "too many options");
		m->key = lua_tostring(L, -2);
		if (opt_value(L, t, m, depth + 1) < 0)
			return -1;
		lua_pop(L, 1);
		*tail = m;
		tail = &m->next;
	}
	return 0;
}

/* The value on top of the stack into v (left there). */
static int opt_value(lua_State *L, opt_tree *t, mauth_value *v, int depth)
{
	switch (lua_type(L, -1)) {
	case LUA_TSTRING:
		v->kind = MAUTH_V_STR;
		v->str = lua_tolstring(L, -1, &v->len);
		return 0;
	case LUA_TBOOLEAN:
		v->kind = MAUTH_V_BOOL;
		v->num = lua_toboolean(L, -1);
		return 0;
	case LUA_TNUMBER: {
#if LUA_VERSION_NUM >= 503
		if (lua_isinteger(L, -1)) {
			v->kind = MAUTH_V_INT;
			v->num = (long long)lua_tointeger(L, -1);
			return 0;
		}
#endif
		lua_Number d = lua_tonumber(L, -1);

		/* LuaJIT has no integers: a whole number in range is one */
		if (d < 9.2e18 && d > -9.2e18 && d == (lua_Number)(long long)d) {
			v->kind = MAUTH_V_INT;
			v->num = (long long)d;
			return 0;
		}
		return opt_bad(t);
	}
	case LUA_TTABLE:
		return opt_table(L, t, v, depth);
	default:
		return opt_bad(t);
	}
}

/*
 * Options only the Lua layer reads (lua/mailauth/options.lua's M.LUA that
 * the per-message functions take): no check kind declares them, so they
 * are left out here, and mailauth.spf hands its options table over as it
 * is instead of copying it without them.  1: resolver, 2: time_budget.
 */
static int lua_only(const char *key, size_t len)
{
	if (len == 8 && memcmp(key, "resolver", 8) == 0)
		return 1;
	return len == 11 && memcmp(key, "time_budget", 11) == 0 ? 2 : 0;
}

/* One member of an options table (key at -2, value at -1) into *tail. */
static int opt_member(lua_State *L, opt_tree *t, mauth_value ***tail,
		      const char *key, size_t len)
{
	mauth_value *m = opt_node(L, t);

	if (m == NULL)
		return luaL_error(L, "too many options");
	m->key = t->top = key;
	if (lua_type(L, -1) == LUA_TSTRING) {	/* most options: no call */
		m->kind = MAUTH_V_STR;
		m->str = lua_tolstring(L, -1, &m->len);
	} else if (opt_value(L, t, m, 1) < 0) {
		return -1;
	}
	if (len == 3 && memcmp(key, "now", 3) == 0)
		t->now = m;
	**tail = m;
	*tail = &m->next;
	return 0;
}

/*
 * The options table at idx as a MAP tree in *root, starting in the
 * caller's nodes (few); then the members of the table at defaults (0 for
 * none) that idx does not have (mailauth.spf's now = os.time()).  Pushes
 * the anchor slot (nil until blocks need keeping) on top of the stack: the
 * caller must not pop it before using the tree.  -1 with t->err when a
 * value cannot be an option.  t->budget, t->receiver and t->resolver (set
 * by the caller, 0 for none): stack slots the values of time_budget,
 * receiver and resolver are copied to when there are some (core.spf's,
 * read in the same pass); t->now: the member "now" of idx, if any.
 */
static int read_options(lua_State *L, int idx, int defaults, const char *kind,
			opt_tree *t, mauth_value *few, size_t nfew,
			mauth_value **root)
{
	mauth_value **tail;
	const char *key;
	size_t len;

	lua_pushnil(L);		/* the anchor table, made when needed */
	t->anchor = lua_gettop(L);
	t->kept = 0;
	t->next = few;
	t->left = nfew;
	t->made = 0;
	t->kind = kind;
	t->err[0] = '\0';
	t->tail = NULL;
	t->now = NULL;
	*root = opt_node(L, t);
	(*root)->kind = MAUTH_V_MAP;
	tail = &(*root)->child;
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 2);
			snprintf(t->err, sizeof t->err, "options must be a map of names");
			return -1;
		}
		key = lua_tolstring(L, -2, &len);
		switch (lua_only(key, len)) {
		case 0:
			if (t->receiver != 0 && len == 8 &&
			    memcmp(key, "receiver", 8) == 0)
				lua_copy(L, -1, t->receiver);
			if (opt_member(L, t, &tail, key, len) < 0)
				return -1;
			break;
		case 1:
			if (t->resolver != 0)
				lua_copy(L, -1, t->resolver);
			break;
		case 2:
			if (t->budget != 0)
				lua_copy(L, -1, t->budget);
			break;
		}
		lua_pop(L, 1);
	}
	t->tail = tail;
	if (defaults == 0)
		return 0;
	lua_pushnil(L);
	while (lua_next(L, defaults) != 0) {
		lua_pushvalue(L, -2);
		lua_rawget(L, idx);
		if (lua_isnil(L, -1) && lua_type(L, -3) == LUA_TSTRING) {
			lua_pop(L, 1);
			key = lua_tolstring(L, -2, &len);
			if (opt_member(L, t, &tail, key, len) < 0)
				return -1;
		} else {
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	t->tail = tail;
	return 0;
}

/*
 * core.options(kind) -> { { name =, kind =, min =, max =, member =,
 * required =, default =, aliases =, words =, rule = }, ... }: the kind's
 * declared options, in the validator's words (rule).
 */
static int l_options(lua_State *L)
{
	static const char *const kinds[] = { "string", "integer", "boolean", "list", "map" };
	const mauth_option *o = mauth_check_options(luaL_checkstring(L, 1));
	lua_Integer i = 0;
	char rule[64];

	if (o == NULL)
		return luaL_argerror(L, 1, "unknown check kind");
	lua_newtable(L);
	for (; o->name != NULL; o++) {
		lua_createtable(L, 0, 9);
		lua_pushstring(L, o->name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, kinds[o->kind]);
		lua_setfield(L, -2, "kind");
		if (o->kind == MAUTH_V_INT) {
			lua_pushinteger(L, (lua_Integer)o->min);
			lua_setfield(L, -2, "min");
			lua_pushinteger(L, (lua_Integer)o->max);
			lua_setfield(L, -2, "max");
		}
		if (o->kind == MAUTH_V_LIST) {
			lua_pushstring(L, kinds[o->member]);
			lua_setfield(L, -2, "member");
		}
		lua_pushboolean(L, o->required);
		lua_setfield(L, -2, "required");
		if (o->def != NULL) {
			lua_pushstring(L, o->def);
			lua_setfield(L, -2, "default");
		}
		if (o->aliases != NULL) {
			lua_pushstring(L, o->aliases);
			lua_setfield(L, -2, "aliases");
		}
		if (o->words != NULL) {
			lua_pushstring(L, o->words);
			lua_setfield(L, -2, "words");
		}
		lua_pushstring(L, mauth_option_rule(o, rule, sizeof rule));
		lua_setfield(L, -2, "rule");
		lua_rawseti(L, -2, ++i);
	}
	return 1;
}

/*
 * The value at v an integer as options.lua's FITS.integer has it (a whole
 * number in (-2^63, 2^63), from d.min to d.max, d the declaration at d).
 * 0 also when the bounds are not integers (5.3+): options.check decides.
 */
static int fit_integer(lua_State *L, int v, int d)
{
	long long x;
	int ok;

	if (lua_type(L, v) != LUA_TNUMBER)
		return 0;
#if LUA_VERSION_NUM >= 503
	if (lua_isinteger(L, v)) {
		x = (long long)lua_tointeger(L, v);
		if (x == (long long)LUA_MININTEGER)	/* -2^63 is out */
			return 0;
	} else
#endif
	{
		lua_Number n = lua_tonumber(L, v);

		/* NaN and the ends fail the range; then the cast is exact */
		if (!(n > -9223372036854775808.0 && n < 9223372036854775808.0) ||
		    n != (lua_Number)(long long)n)
			return 0;
		x = (long long)n;
	}
	lua_getfield(L, d, "min");
	lua_getfield(L, d, "max");
#if LUA_VERSION_NUM >= 503
	ok = lua_isinteger(L, -2) && lua_isinteger(L, -1) &&
	     x >= (long long)lua_tointeger(L, -2) &&
	     x <= (long long)lua_tointeger(L, -1);
#else
	/* every number a double, as the Lua test compares them */
	ok = lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TNUMBER &&
	     (lua_Number)x >= lua_tonumber(L, -2) &&
	     (lua_Number)x <= lua_tonumber(L, -1);
#endif
	lua_pop(L, 2);
	return ok;
}

/*
 * core.options_fit(opts, fits, by) -> true when every member of the plain
 * table opts passes options.check's tests with the declaration's fits
 * and by (options.declare's): a known name, and a value of the kind the
 * fit names inline ("string", "boolean", "table", "integer"; true or
 * false: any value).  false for anything else (an unknown name, a wrong
 * value, a fit function, opts with a metatable, whose pairs may differ):
 * options.check then runs its own loop, which passes or raises in its
 * words.  The per-message functions' options, checked with no Lua loop.
 */
static int l_options_fit(lua_State *L)
{
	int ok = 1;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, 2, LUA_TTABLE);
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	if (lua_getmetatable(L, 1))
		ok = 0;
	lua_pushnil(L);
	while (ok && lua_next(L, 1) != 0) {	/* 4: key, 5: value */
		lua_pushvalue(L, 4);
		lua_rawget(L, 2);		/* 6: the fit */
		switch (lua_type(L, 6)) {
		case LUA_TBOOLEAN:
			break;
		case LUA_TSTRING:
			if (strcmp(lua_tostring(L, 6), "integer") == 0) {
				lua_pushvalue(L, 4);
				lua_rawget(L, 3);	/* 7: the declaration */
				ok = lua_istable(L, 7) && fit_integer(L, 5, 7);
			} else {
				ok = strcmp(lua_tostring(L, 6), luaL_typename(L, 5)) == 0;
			}
			break;
		default:	/* nil: unknown; a function: Lua's test */
			ok = 0;
		}
		lua_settop(L, 4);
	}
	lua_pushboolean(L, ok);
	return 1;
}

/* ---- mailauth.check ---- */

/*
 * Every function of the module holds the two metatables and the run slot
 * as upvalues: comparing a userdata's metatable with an upvalue is much
 * cheaper than luaL_checkudata's registry lookup by name.
 */
#define UP_CHECK_MT lua_upvalueindex(1)
#define UP_RESOLVER_MT lua_upvalueindex(2)
#define UP_RUN_SLOT lua_upvalueindex(3)
#define UP_READER lua_upvalueindex(4)	/* received_spf's reader, see l_received_index */
#define UP_READERS lua_upvalueindex(5)	/* the same per receiver (weak values) */
#define NUPVALUES 5

/* The userdata at idx when its metatable is the one at mt, else NULL. */
static void *test_udata(lua_State *L, int idx, int mt)
{
	void *p = lua_touserdata(L, idx);

	if (p != NULL && lua_getmetatable(L, idx)) {
		int same = lua_rawequal(L, -1, mt);

		lua_pop(L, 1);
		if (same)
			return p;
	}
	return NULL;
}

static void *udata(lua_State *L, int idx, int mt, const char *tname)
{
	void *p = test_udata(L, idx, mt);

	/* luaL_checkudata raises the usual error */
	return p != NULL ? p : luaL_checkudata(L, idx, tname);
}

static mauth_check **check_box(lua_State *L)
{
	mauth_check **box = udata(L, 1, UP_CHECK_MT, CHECK_MT);

	if (*box == NULL)
		luaL_error(L, "mailauth: check is closed");
	return box;
}

static mauth_resolver **resolver_box(lua_State *L, int idx);
static long long deadline_arg(lua_State *L, int idx);
static void push_reader(lua_State *L, int receiver);

/* The parsed message at idx (core.message), or NULL when it is nil. */
static const mauth_message *message_arg(lua_State *L, int idx)
{
	mauth_message **box;

	if (lua_isnoneornil(L, idx))
		return NULL;
	box = luaL_checkudata(L, idx, MESSAGE_MT);
	if (*box == NULL)
		luaL_error(L, "mailauth: message is freed");
	return *box;
}

/* Both constructors, by whether a parsed message is given. */
static int new_check(mauth_check **box, const char *kind,
		     const mauth_message *msg, const mauth_value *opts,
		     char *err, size_t errlen)
{
	int rc;

	if (msg != NULL)
		rc = mauth_check_new_message(box, kind, msg, opts, err, errlen);
	else
		rc = mauth_check_new(box, kind, opts, err, errlen);
	/* Received-SPF is written on first read (core.received_reader), with
	 * the same writer: most callers never read it */
	if (rc >= 0)
		check_host_formats(*box);
	return rc;
}

/* A new check box (a userdata with the check metatable) on the stack. */
static mauth_check **push_box(lua_State *L)
{
	mauth_check **box = lua_newuserdata(L, sizeof *box);

	*box = NULL;
	lua_pushvalue(L, UP_CHECK_MT);
	lua_setmetatable(L, -2);
	return box;
}

/* An optional table of defaults at idx: its index, or 0 (nil/none). */
static int defaults_arg(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	luaL_checktype(L, idx, LUA_TTABLE);
	return idx;
}

/*
 * core.check(kind, options [, message [, defaults]]) -> check | nil, reason
 * defaults: options used where options has none (both are read as they
 * are; resolver and time_budget are left out, see lua_only).
 */
static int l_check_new(lua_State *L)
{
	const char *kind = luaL_checkstring(L, 1);
	opt_tree t;
	mauth_value few[32], *opts;	/* grows into userdata past 32 nodes */
	mauth_check **box;
	char err[256] = "";
	int rc;

	const mauth_message *msg = message_arg(L, 3);

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 4);	/* the message (3) stays referenced while options are read */
	t.budget = t.receiver = t.resolver = 0;
	if (read_options(L, 2, defaults_arg(L, 4), kind, &t, few,
			 sizeof few / sizeof few[0], &opts) < 0)
		return push_fail(L, MAUTH_EINVAL, t.err);
	box = push_box(L);
	rc = new_check(box, kind, msg, opts, err, sizeof err);
	if (rc < 0)
		return push_fail(L, rc, err);
	return 1;
}

static int step_rc(lua_State *L, int rc)
{
	switch (rc) {
	case MAUTH_DONE:
		lua_pushliteral(L, "done");
		return 1;
	case MAUTH_WANT_DNS:
		lua_pushliteral(L, "dns");
		return 1;
	case MAUTH_ENOMEM:
		return luaL_error(L, "mailauth: out of memory");
	default:
		return luaL_error(L, "mailauth: check in a bad state (%d)", rc);
	}
}

/* check:step() -> "dns" | "done" */
static int l_check_step(lua_State *L)
{
	return step_rc(L, mauth_check_step(*check_box(L)));
}

/* A record type as text: its name, or TYPEn (RFC 3597) for the others. */
static const char *type_text(int type, char *buf, size_t len)
{
	const char *name = qtype_name(type);

	if (name != NULL)
		return name;
	snprintf(buf, len, "TYPE%d", type);
	return buf;
}

static int type_arg(lua_State *L, int idx)
{
	const char *s;
	int type;

	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Integer t = lua_tointeger(L, idx);

		if (t < 1 || t > 65535)
			luaL_argerror(L, idx, "record type out of range");
		return (int)t;
	}
	s = luaL_checkstring(L, idx);
	type = qtype_from_name(s);
	if (type < 0)
		return luaL_argerror(L, idx, lua_pushfstring(L, "unknown record type '%s'", s));
	return type;
}

/* check:questions() -> { { id = n, type = "TXT", name = "..." }, ... } */
static int l_check_questions(lua_State *L)
{
	const mauth_question *qv;
	size_t i, n = mauth_check_questions(*check_box(L), &qv);
	char buf[16];

	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		lua_createtable(L, 0, 3);
		lua_pushinteger(L, (lua_Integer)qv[i].id);
		lua_setfield(L, -2, "id");
		lua_pushstring(L, type_text(qv[i].type, buf, sizeof buf));
		lua_setfield(L, -2, "type");
		lua_pushstring(L, qv[i].name);
		lua_setfield(L, -2, "name");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* Pushes id, type, name of q; returns 3. */
static int push_question(lua_State *L, const mauth_question *q)
{
	char buf[16];

	lua_pushinteger(L, (lua_Integer)q->id);
	lua_pushstring(L, type_text(q->type, buf, sizeof buf));
	lua_pushstring(L, q->name);
	return 3;
}

/*
 * check:question(i) -> id, type, name | nil: the i-th open question of
 * the batch, no table made (the batch driver reads them all before it
 * answers any, so mauth_check_questions copies nothing).
 */
static int l_check_question(lua_State *L)
{
	const mauth_question *qv;
	size_t n = mauth_check_questions(*check_box(L), &qv);
	lua_Integer i = luaL_checkinteger(L, 2);

	if (i < 1 || (size_t)i > n)
		return 0;
	return push_question(L, &qv[i - 1]);
}

/*
 * The next open question of c, pushed as id, type, name, seconds left
 * (nil without a deadline): returns 4, or 0 when c is done.  Steps c when
 * its batch is answered; once the deadline has passed, answers what is
 * open TIMEOUT itself (mauth_check_expire: the result's problem names the
 * first question cut) instead of returning it.
 */
static int push_next(lua_State *L, mauth_check *c, long long deadline)
{
	const mauth_question *q;
	long long left;

	for (;;) {
		q = check_next_open(c);
		if (q == NULL) {
			int rc = mauth_check_step(c);

			if (rc == MAUTH_DONE)
				return 0;
			if (rc != MAUTH_WANT_DNS)
				step_rc(L, rc);	/* raises */
			continue;
		}
		left = deadline > 0 ? deadline - mauth_clock_ms() : 1;
		if (left > 0)
			break;
		if (mauth_check_expire(c, q->id) == MAUTH_ENOMEM)
			return luaL_error(L, "mailauth: out of memory");
	}
	push_question(L, q);
	if (deadline > 0)
		lua_pushnumber(L, (lua_Number)left / 1000);
	else
		lua_pushnil(L);
	return 4;
}

/*
 * check:next_question(deadline) -> id, type, name, seconds left | nil
 * The single-check Lua loop's first call (push_next); nil: done.
 */
static int l_check_next_question(lua_State *L)
{
	mauth_check *c = *check_box(L);

	return push_next(L, c, deadline_arg(L, 2));
}

/*
 * Gives the answer *a to the open question id of the check.  With a
 * deadline, a TIMEOUT answer once it has passed (give or take the clocks'
 * 2 ms) is the budget cutting the question: mauth_check_expire names it
 * in the result.
 */
static void give_answer(lua_State *L, mauth_check **box, lua_Integer id,
			long long deadline, const mauth_answer *a)
{
	int rc;

	if (deadline > 0 && a->rcode == MAUTH_RC_TIMEOUT &&
	    mauth_clock_ms() >= deadline - 2)
		rc = mauth_check_expire(*box, (unsigned)id);
	else
		rc = mauth_check_answer(*box, (unsigned)id, a);
	if (rc == MAUTH_ENOMEM)
		luaL_error(L, "mailauth: out of memory");
	if (rc < 0)
		luaL_argerror(L, 2, "not an open question of this check");
}

/* check:answer(id, answer [, deadline]): the answer table given to the
 * open question id (give_answer). */
static int l_check_answer(lua_State *L)
{
	mauth_check **box = check_box(L);
	lua_Integer id = luaL_checkinteger(L, 2);
	long long deadline = deadline_arg(L, 4);
	mauth_rr few[FEW_RECORDS];
	const char *names[CNAMES_MAX];
	mauth_answer a;

	lua_settop(L, 3);
	lua_pushnil(L);		/* slot 4: the anchor, made when needed */
	check_answer_table(L, 3, 4, &a, few, names);
	give_answer(L, box, id, deadline, &a);
	return 0;
}

/*
 * check:answer_next(id, deadline, rcode, ttl, secure, records, cnames)
 *   -> id, type, name, seconds left | nil, result
 * check:answer then check:next_question in one call: the single-check
 * Lua loop's one call per question, the answer's fields passed as they
 * are read from its table (answer_fields; deadline: 0 for none).  Once
 * the check is done: nil and its result (check:result's), the check then
 * closed.
 */
static int l_check_answer_next(lua_State *L)
{
	mauth_check **box = check_box(L);
	lua_Integer id = luaL_checkinteger(L, 2);
	long long deadline = deadline_arg(L, 3);
	mauth_rr few[FEW_RECORDS];
	const char *names[CNAMES_MAX];
	mauth_answer a;
	const mauth_value *v;

	lua_settop(L, 3 + ANSWER_FIELDS);
	lua_pushnil(L);		/* the anchor, made when needed */
	answer_fields(L, 4, 4 + ANSWER_FIELDS, &a, few, names);
	give_answer(L, box, id, deadline, &a);
	/* a finalizer run meanwhile may have closed it */
	if (*box == NULL)
		return luaL_error(L, "mailauth: check is closed");
	if (push_next(L, *box, deadline) == 4)
		return 4;
	lua_pushnil(L);
	v = mauth_check_result(*box);
	if (v == NULL)
		lua_pushnil(L);
	else
		push_value(L, v);
	/* pushing may run finalizers: the box is still this check's */
	mauth_check_free(*box);
	*box = NULL;
	return 2;
}

/* check:result() -> table | nil */
static int l_check_result(lua_State *L)
{
	const mauth_value *v = mauth_check_result(*check_box(L));

	if (v == NULL)
		lua_pushnil(L);
	else
		push_value(L, v);
	return 1;
}

static mauth_resolver **resolver_box(lua_State *L, int idx)
{
	mauth_resolver **box = udata(L, idx, UP_RESOLVER_MT, RESOLVER_MT);

	if (*box == NULL)
		luaL_error(L, "mailauth: resolver is closed");
	return box;
}

/*
 * core.monotonic() -> seconds on a monotonic clock (CLOCK_MONOTONIC, with
 * milliseconds): the clock of every deadline argument below.
 */
static int l_monotonic(lua_State *L)
{
	lua_pushnumber(L, (lua_Number)mauth_clock_ms() / 1000);
	return 1;
}

/*
 * The deadline argument at idx: absolute seconds on core.monotonic's
 * clock, nil or 0 for none; as mauth_clock_ms milliseconds.
 */
static long long deadline_arg(lua_State *L, int idx)
{
	lua_Number d = luaL_optnumber(L, idx, 0);

	/* d == d: NaN is no deadline at all, never "no bound" */
	luaL_argcheck(L, d == d && d >= 0 && d < 1e12, idx,
		      "deadline must be core.monotonic() seconds (or 0)");
	return d > 0 ? (long long)(d * 1000) : 0;
}

static int l_check__gc(lua_State *L)
{
	mauth_check **box = udata(L, 1, UP_CHECK_MT, CHECK_MT);

	mauth_check_free(*box);
	*box = NULL;
	return 0;
}

/*
 * core.run's check box.  A finalizer or a hook may call core.run again
 * while an outer core.run still uses the slot (its result is being turned
 * into tables, and every table may start a collection step), so the slot
 * is taken only when free; a nested call boxes its check in a userdata
 * the GC owns.  Errors raised while the slot is taken (out of memory or a
 * result too deep for the Lua stack, both inside push_value) leave it
 * taken: later calls then box their checks, and the stranded check is
 * freed with the module.
 */
typedef struct {
	mauth_check *check;
	int busy;
} run_slot;

/*
 * A check made, run and freed in one call (core.run, core.run_dmarc,
 * core.spf): in the common case no check object for the GC.  r NULL: the
 * check is stepped once, and must not ask DNS.  Pushes the result (nil
 * when the check gives none) and returns 1, or push_fail's nil, reason
 * when the check cannot be made from these options; raises on out of
 * memory, a question with no resolver, or a bad state.
 */
/*
 * keep: the check stays open and is returned after its result (the caller
 * closes it), so that core.header writes from its C result; it then lives
 * in a box of its own, never in the slot.
 */
typedef struct ahead ahead;	/* questions asked ahead (see there) */
static void run_checks(lua_State *L, mauth_check *const *cv, size_t n,
		       mauth_resolver *r, long long deadline, ahead *ah);

static int run_one(lua_State *L, const char *kind, const mauth_message *msg,
		   const mauth_value *opts, mauth_resolver *r,
		   long long deadline, int keep, ahead *ah)
{
	run_slot *slot = lua_touserdata(L, UP_RUN_SLOT);
	mauth_check **box;
	char err[256] = "";
	int rc, owns_slot = 0, box_at = 0;

	if (!slot->busy && !keep && ah == NULL) {	/* run_checks may raise */
		slot->busy = owns_slot = 1;
		box = &slot->check;
	} else {
		box = push_box(L);
		box_at = lua_gettop(L);
	}
	rc = new_check(box, kind, msg, opts, err, sizeof err);
	if (rc < 0) {
		if (owns_slot)
			slot->busy = 0;
		return push_fail(L, rc, err);
	}
	if (r != NULL && (keep || ah != NULL)) {
		/* the loop of mailauth.check's rounds (core._round_count) */
		run_checks(L, box, 1, r, deadline, ah);
		rc = mauth_check_step(*box);
	} else if (r != NULL)
		rc = mauth_check_run(*box, r, deadline);
	else
		rc = mauth_check_step(*box);	/* MAUTH_WANT_DNS: see below */
	if (rc == MAUTH_DONE) {
		/* From here on Lua may run finalizers, which may call us: the
		 * check is ours alone (the slot is marked busy, or the box is
		 * this call's). */
		const mauth_value *v = mauth_check_result(*box);

		if (v == NULL)
			lua_pushnil(L);
		else
			push_value(L, v);
	}
	if (!keep || rc != MAUTH_DONE) {
		mauth_check_free(*box);
		*box = NULL;
	}
	if (owns_slot)
		slot->busy = 0;
	if (rc == MAUTH_ENOMEM)
		return luaL_error(L, "mailauth: out of memory");
	if (rc == MAUTH_WANT_DNS)
		return luaL_error(L, "mailauth: check '%s' asks DNS questions and "
				  "no resolver was given", kind);
	if (rc != MAUTH_DONE)
		return luaL_error(L, "mailauth: check in a bad state (%d)", rc);
	if (!keep)
		return 1;
	lua_pushvalue(L, box_at);	/* the open check */
	return 2;
}

/*
 * core.run(kind, options, resolver [, deadline [, message [, defaults]]])
 *   -> result | nil, reason  (defaults: as core.check's)
 */
static int l_run(lua_State *L)
{
	const char *kind = luaL_checkstring(L, 1);
	mauth_resolver **r;
	long long deadline = deadline_arg(L, 4);
	opt_tree t;
	mauth_value few[32], *opts;

	const mauth_message *msg = message_arg(L, 5);

	luaL_checktype(L, 2, LUA_TTABLE);
	/* nil: a job that asks no DNS (dkim_sign, message_info, ...) */
	r = lua_isnil(L, 3) ? NULL : resolver_box(L, 3);
	lua_settop(L, 6);
	/* Options first: reading them may raise, and must not strand the slot. */
	t.budget = t.receiver = t.resolver = 0;
	if (read_options(L, 2, defaults_arg(L, 6), kind, &t, few,
			 sizeof few / sizeof few[0], &opts) < 0)
		return push_fail(L, MAUTH_EINVAL, t.err);
	return run_one(L, kind, msg, opts, r != NULL ? *r : NULL, deadline, 0, NULL);
}

/*
 * core.spf(options) -> result | check, deadline | nil
 * mailauth.spf's common call, doing here what spf.lua does around
 * core.run and core.check: the deadline options.time_budget seconds from
 * now (20 when absent, as internal.deadline_of); now, when absent, the
 * time of day (os.time()'s).  With a C resolver (options.resolver), the
 * check run to its end in this call: the result, made to write
 * received_spf on first read (push_reader, with options.receiver).  With
 * a Lua function, the check for internal.lua's loop and its deadline
 * (core.monotonic seconds).  Returns nothing, having asked and raised
 * nothing, for any other call (no resolver, an object, options with a
 * metatable, a time_budget outside (0, 3600]) and for options the core
 * refuses: spf.lua then takes its own path, which words the error.  The
 * resolver, time_budget and receiver are found in the one pass that reads
 * the options (read_options), not looked up.
 */
static int l_spf(lua_State *L)
{
	opt_tree t;
	mauth_value few[32], *opts, *now;
	mauth_resolver **r;
	mauth_check **box;
	lua_Number budget = 20, d;
	char err[256];

	if (!lua_istable(L, 1) || lua_getmetatable(L, 1))
		return 0;
	lua_settop(L, 1);
	lua_pushnil(L);				/* 2: resolver's value */
	lua_pushnil(L);				/* 3: time_budget's */
	lua_pushnil(L);				/* 4: receiver's */
	t.resolver = 2;
	t.budget = 3;
	t.receiver = 4;
	if (read_options(L, 1, 0, "spf", &t, few, sizeof few / sizeof few[0],
			 &opts) < 0)
		return 0;
	r = test_udata(L, 2, UP_RESOLVER_MT);
	if (r == NULL ? !lua_isfunction(L, 2) : *r == NULL)
		return 0;
	if (!lua_isnil(L, 3)) {
		if (lua_type(L, 3) != LUA_TNUMBER)
			return 0;
		budget = lua_tonumber(L, 3);
		if (!(budget > 0 && budget <= 3600))	/* NaN too */
			return 0;
	}
	if (t.now == NULL) {
		now = opt_node(L, &t);
		if (now == NULL)
			return 0;
		now->key = "now";
		now->kind = MAUTH_V_INT;
		now->num = (long long)time(NULL);
		*t.tail = now;
	}
	/* the deadline as internal.deadline_of makes it (and deadline_arg
	 * reads it) */
	d = (lua_Number)mauth_clock_ms() / 1000 + budget;
	if (r == NULL) {
		box = push_box(L);
		if (new_check(box, "spf", NULL, opts, err, sizeof err) < 0)
			return 0;
		lua_pushnumber(L, d);
		return 2;
	}
	if (run_one(L, "spf", NULL, opts, *r, (long long)(d * 1000), 0, NULL) != 1)
		return 0;
	if (lua_istable(L, -1)) {
		push_reader(L, 4);
		lua_setmetatable(L, -2);
	}
	return 1;
}

/*
 * The C loop for several checks at once (mailauth.check over a C
 * resolver): every round, the open questions of all the checks go to the
 * resolver as one batch (once each, when two checks ask the same thing:
 * they are asked in parallel), and each check gets its answers.  The
 * deadline bounds the whole run as in mauth_check_run.
 */
typedef struct {
	mauth_check *c;
	unsigned id;
	size_t slot;		/* its question in the batch */
} pending_q;

/* Rounds asked by the C loops (core._round_count, for the specs); a
 * relaxed atomic, as msg_parse_count's. */
static unsigned long rounds;

/* core._round_count() -> rounds the C loops asked so far in this process */
static int l_round_count(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)__atomic_load_n(&rounds, __ATOMIC_RELAXED));
	return 1;
}

/* Asks one round: 1 (av holds the answers), 0 when the deadline had
 * passed (nothing asked: every question expired), or MAUTH_ENOMEM.
 * need: the round waits for the first need questions only (0: all). */
static int run_round(mauth_resolver *r, const mauth_question *uq, size_t nu,
		     size_t need, const pending_q *pq, size_t np,
		     const mauth_answer **av, long long deadline)
{
	size_t i;
	int rc = 0, late;

	if (deadline > 0 && mauth_clock_ms() >= deadline) {
		for (i = 0; i < np && rc >= 0; i++)
			rc = mauth_check_expire(pq[i].c, pq[i].id);
		return rc < 0 ? MAUTH_ENOMEM : 0;
	}
	if (resolver_query_need(r, uq, nu, need, av, deadline) < 0)
		return MAUTH_ENOMEM;
	__atomic_add_fetch(&rounds, 1, __ATOMIC_RELAXED);
	late = deadline > 0 && mauth_clock_ms() >= deadline;
	for (i = 0; i < np && rc >= 0; i++) {
		if (late && av[pq[i].slot]->rcode == MAUTH_RC_TIMEOUT)
			rc = mauth_check_expire(pq[i].c, pq[i].id);
		else
			rc = mauth_check_answer(pq[i].c, pq[i].id, av[pq[i].slot]);
	}
	return rc < 0 ? MAUTH_ENOMEM : 1;
}

/* The slot of (type, name) among the batch's n questions, added if new. */
static size_t batch_slot(mauth_question *uq, size_t *n, const mauth_question *q)
{
	size_t i, len = strlen(q->name);

	for (i = 0; i < *n; i++)
		if (uq[i].type == q->type &&
		    name_eq(uq[i].name, strlen(uq[i].name), q->name, len))
			return i;
	uq[*n] = *q;
	uq[*n].id = (unsigned)*n + 1;
	return (*n)++;
}

#define RUN_MANY_MAX 64		/* checks in one core.run_many */
#define ROUND_FEW 64		/* questions of a round on the C stack */
#define ROUND_MAX 1024		/* questions of one round */

/*
 * Questions asked ahead for a check made later, mailauth.check's DMARC:
 * its first questions depend on the From domain only (the tree walk's or
 * _dmarc.<from> and _dmarc.<org>), so core.run_check asks them with the
 * first round and keeps the answers, for this message only; the DMARC
 * check of core.run_dmarc takes them there, with no round trip.  They
 * are the questions a DMARC check made from the From reader's result
 * alone asks first: the job's own, no second reading of From.  The
 * round waits for the other checks' answers only (resolver_query_need):
 * a slow DMARC server delays no other check.  A TIMEOUT is not kept (the
 * check asks again, as it would have), and nothing is used once the
 * deadline has passed: the question then expires, named, as it would.
 */
#define AHEAD_MT "mailauth.ahead"
#define AHEAD_MAX 16		/* the tree walk's 8, with room */

struct ahead {
	size_t n;			/* questions */
	int asked;			/* the first round is over */
	mauth_question q[AHEAD_MAX];
	mauth_answer *a[AHEAD_MAX];	/* NULL: not kept */
	char name[AHEAD_MAX][NAME_MAX_TEXT + 16];
};

static int l_ahead__gc(lua_State *L)
{
	ahead *ah = lua_touserdata(L, 1);
	size_t i;

	for (i = 0; i < ah->n; i++) {
		mauth_answer_free(ah->a[i]);
		ah->a[i] = NULL;
	}
	return 0;
}

/* The kept answer of q, or NULL. */
static const mauth_answer *ahead_find(const ahead *ah, const mauth_question *q)
{
	size_t i, len = strlen(q->name);

	for (i = 0; i < ah->n; i++)
		if (ah->a[i] != NULL && ah->q[i].type == q->type &&
		    name_eq(ah->q[i].name, strlen(ah->q[i].name), q->name, len))
			return ah->a[i];
	return NULL;
}

/* The answers of the round (av, by the slots the questions took) kept,
 * but a TIMEOUT: the round did not wait for these questions. */
static void ahead_keep(lua_State *L, ahead *ah, const mauth_answer **av,
		       const size_t *slot)
{
	size_t i;

	for (i = 0; i < ah->n; i++) {
		if (av[slot[i]]->rcode == MAUTH_RC_TIMEOUT)
			continue;	/* asked again by the check, as before */
		ah->a[i] = mauth_answer_dup(av[slot[i]]);
		if (ah->a[i] == NULL)
			luaL_error(L, "mailauth: out of memory");
	}
}

/*
 * core.run_many({ check, ... }, resolver [, deadline [, keep]]) -> { result, ... }
 * Runs the checks (from core.check) to their end over a C resolver and
 * closes them; keep = true leaves them open, so that core.header can
 * write from their C results without reading the tables back (the caller
 * closes them, or their finalizers do).
 */
/*
 * The loop of core.run_many over the open checks cv[0..n): every check
 * stepped each round, the round's questions asked as one batch; raises
 * on a check's error and on out of memory.  Big rounds take scratch the
 * GC owns (pushed on the stack), so nothing leaks when a later call raises.
 */
/*
 * ah: NULL, or questions asked ahead (see ahead): asked with the first
 * round when it is not over (core.run_check's, when a check asks
 * something then), else the checks' answers where it has them.
 */
static void run_checks(lua_State *L, mauth_check *const *cv, size_t n,
		       mauth_resolver *r, long long deadline, ahead *ah)
{
	pending_q fewp[ROUND_FEW], *pq = fewp;
	mauth_question fewq[ROUND_FEW], *uq = fewq;
	const mauth_answer *fewa[ROUND_FEW], **av = fewa;
	size_t i, np, nu, need, cap = ROUND_FEW, slot[AHEAD_MAX];
	int open, rc, fill;

	do {
		const ahead *use = ah != NULL && ah->asked &&
				   !(deadline > 0 && mauth_clock_ms() >= deadline) ? ah : NULL;

		open = 0;
		np = nu = 0;
		for (i = 0; i < n; i++) {
			const mauth_question *qv;
			const mauth_answer *kept;
			size_t k, nq;

			rc = mauth_check_step(cv[i]);
			if (rc == MAUTH_DONE)
				continue;
			step_rc(L, rc);	/* raises on the errors */
			open = 1;
			nq = mauth_check_questions(cv[i], &qv);
			if (nq == 0 || np + nq > ROUND_MAX)
				luaL_error(L, "mailauth: out of memory");
			if (np + nq + AHEAD_MAX > cap) {
				/* a big round: the stack's scratch copied over */
				pending_q *p2 = lua_newuserdata(L, ROUND_MAX * sizeof *p2);
				mauth_question *q2 = lua_newuserdata(L, (ROUND_MAX + AHEAD_MAX) * sizeof *q2);

				memcpy(p2, pq, np * sizeof *pq);
				memcpy(q2, uq, nu * sizeof *uq);
				av = lua_newuserdata(L, (ROUND_MAX + AHEAD_MAX) * sizeof *av);
				pq = p2;
				uq = q2;
				cap = ROUND_MAX + AHEAD_MAX;
			}
			for (k = 0; k < nq; k++) {
				if (use != NULL && (kept = ahead_find(use, &qv[k])) != NULL) {
					if (mauth_check_answer(cv[i], qv[k].id, kept) < 0)
						luaL_error(L, "mailauth: out of memory");
					continue;
				}
				pq[np].c = cv[i];
				pq[np].id = qv[k].id;
				pq[np++].slot = batch_slot(uq, &nu, &qv[k]);
			}
		}
		/* the round waits for the checks' questions, not for these */
		need = nu;
		fill = ah != NULL && !ah->asked && open;
		for (i = 0; fill && i < ah->n; i++)
			slot[i] = batch_slot(uq, &nu, &ah->q[i]);
		rc = open && np > 0 ? run_round(r, uq, nu, fill ? need : 0, pq, np,
						av, deadline) : 0;
		if (rc < 0)
			luaL_error(L, "mailauth: out of memory");
		if (fill && rc == 1)
			ahead_keep(L, ah, av, slot);
		if (ah != NULL)
			ah->asked = 1;
	} while (open);
}

/*
 * { result, ... } of cv[0..n) on the stack (false for a check not run).
 * member: NULL, or per check NULL or the name of the one member of its
 * result the caller reads, pushed in its place (nil when absent): no
 * table made only to be thrown away.
 */
static void push_results(lua_State *L, mauth_check *const *cv, size_t n,
			 const char *const *member)
{
	size_t i;

	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		const mauth_value *v = cv[i] != NULL ? mauth_check_result(cv[i]) : NULL;

		if (v == NULL)
			lua_pushboolean(L, 0);
		else if (member != NULL && member[i] != NULL &&
			 (v = mauth_value_get(v, member[i])) == NULL)
			lua_pushnil(L);
		else
			push_value(L, v);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

static int l_run_many(lua_State *L)
{
	mauth_check *cv[RUN_MANY_MAX] = { NULL };
	mauth_resolver *r;
	long long deadline = deadline_arg(L, 3);
	size_t i, n;

	int keep = lua_toboolean(L, 4);

	luaL_checktype(L, 1, LUA_TTABLE);
	r = *resolver_box(L, 2);
	n = (size_t)lua_rawlen(L, 1);
	luaL_argcheck(L, n <= RUN_MANY_MAX, 1, "too many checks");
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, 1, (lua_Integer)i + 1);
		cv[i] = *(mauth_check **)udata(L, -1, UP_CHECK_MT, CHECK_MT);
		if (cv[i] == NULL)
			return luaL_error(L, "mailauth: check is closed");
		lua_pop(L, 1);	/* held by the list */
	}
	run_checks(L, cv, n, r, deadline, NULL);
	push_results(L, cv, n, NULL);
	/* closed by their boxes' finalizers, or here at once */
	for (i = 0; i < n && !keep; i++) {
		lua_rawgeti(L, 1, (lua_Integer)i + 1);
		mauth_check_free(*(mauth_check **)lua_touserdata(L, -1));
		*(mauth_check **)lua_touserdata(L, -1) = NULL;
		lua_pop(L, 1);
	}
	return 1;
}

/*
 * mailauth.check's jobs over a C resolver, made here from its arguments
 * rather than from six option tables (what check.lua would hand to
 * core.check), in mailauth.check's order: iprev, SPF for MAIL FROM, SPF
 * for HELO, dkim_verify, arc_verify, message_info.
 */
enum { JOB_IPREV, JOB_SPF, JOB_SPF_HELO, JOB_DKIM, JOB_ARC, JOB_INFO, NJOBS };

/* Option trees of the jobs: a map each, members from one stack pool. */
typedef struct {
	mauth_value map[NJOBS];
	mauth_value pool[24];
	size_t used;
} job_opts;

/* A new member key of map, appended (NULL when the pool is used up). */
static mauth_value *job_node(job_opts *j, mauth_value *map, const char *key)
{
	mauth_value *v, **tail;

	if (j->used == sizeof j->pool / sizeof j->pool[0])
		return NULL;
	v = &j->pool[j->used++];
	memset(v, 0, sizeof *v);
	v->key = key;
	for (tail = &map->child; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = v;
	return v;
}

/* The value at idx (if not nil) as member key of map; -1 if it is not
 * one an option tree holds (then the general path words the error). */
static int job_member(lua_State *L, job_opts *j, mauth_value *map,
		      const char *key, int idx)
{
	opt_tree t;
	mauth_value *v;
	int rc;

	if (lua_isnoneornil(L, idx))
		return 0;
	if (lua_type(L, idx) == LUA_TTABLE || (v = job_node(j, map, key)) == NULL)
		return -1;
	memset(&t, 0, sizeof t);
	t.top = key;
	lua_pushvalue(L, idx);
	rc = opt_value(L, &t, v, 0);
	lua_pop(L, 1);	/* a string stays referenced at idx */
	return rc < 0 ? -1 : 0;
}

static int job_word(job_opts *j, mauth_value *map, const char *key,
		    const char *word)
{
	mauth_value *v = job_node(j, map, key);

	if (v == NULL)
		return -1;
	v->kind = MAUTH_V_STR;
	v->str = word;
	v->len = strlen(word);
	return 0;
}

/* The option trees of the jobs from core.run_check's arguments (see
 * there); -1 when an argument is no option value. */
static int job_trees(lua_State *L, job_opts *j, int with_ip)
{
	int rc = 0, i;

	memset(j->map, 0, sizeof j->map);
	j->used = 0;
	for (i = 0; i < NJOBS; i++)
		j->map[i].kind = MAUTH_V_MAP;
	if (with_ip) {
		rc |= job_member(L, j, &j->map[JOB_IPREV], "ip", 4);
		rc |= job_member(L, j, &j->map[JOB_SPF], "ip", 4);
		rc |= job_member(L, j, &j->map[JOB_SPF], "sender", 5);
		rc |= job_member(L, j, &j->map[JOB_SPF], "helo", 6);
		rc |= job_member(L, j, &j->map[JOB_SPF], "now", 7);
		rc |= job_member(L, j, &j->map[JOB_SPF], "receiver", 8);
		rc |= job_member(L, j, &j->map[JOB_SPF_HELO], "ip", 4);
		rc |= job_member(L, j, &j->map[JOB_SPF_HELO], "helo", 6);
		rc |= job_word(j, &j->map[JOB_SPF_HELO], "scope", "helo");
		rc |= job_member(L, j, &j->map[JOB_SPF_HELO], "now", 7);
		rc |= job_member(L, j, &j->map[JOB_SPF_HELO], "receiver", 8);
	}
	rc |= job_member(L, j, &j->map[JOB_DKIM], "now", 7);
	rc |= job_member(L, j, &j->map[JOB_DKIM], "allow_sha1", 9);
	rc |= job_member(L, j, &j->map[JOB_ARC], "now", 7);
	return rc < 0 ? -1 : 0;
}

static const char *const JOB_KINDS[NJOBS] = {
	"iprev", "spf", "spf", "dkim_verify", "arc_verify", "message_info",
};

static void push_ahead(lua_State *L, int idx, const mauth_value *info);

/*
 * core.run_check(message, resolver, deadline, ip, sender, helo, now,
 *                receiver, allow_sha1, helo_scope [, dmarc])
 *   -> results, checks [, ahead] | nil
 * mailauth.check's first round over a C resolver: its six jobs (above;
 * iprev and both SPF only with ip, SPF for HELO only with helo_scope)
 * made from these arguments, run together as core.run_many runs them and
 * kept open, so that core.run_dmarc and core.header read their C results.
 * Both lists hold the jobs in that order, false for one not run; for
 * dkim_verify the results list holds its signatures list only; SPF's
 * results write received_spf on first read (core.received_reader's,
 * with receiver).  dmarc: core.run_dmarc's options; DMARC's first
 * questions then go with the first round, and ahead holds their answers
 * for core.run_dmarc (none when DMARC asks nothing from this From).  nil
 * when a job cannot be made from the arguments (the caller's options):
 * check.lua then makes them the general way, which words the error.
 */
static int l_run_check(lua_State *L)
{
	const mauth_message *msg = message_arg(L, 1);
	mauth_resolver *r = *resolver_box(L, 2);
	long long deadline = deadline_arg(L, 3);
	int with_ip = !lua_isnoneornil(L, 4), helo_scope = lua_toboolean(L, 10);
	mauth_check *cv[NJOBS];
	mauth_check **box[NJOBS];
	ahead *ah = NULL;
	job_opts j;
	char err[256];
	int i;

	if (msg == NULL)
		return luaL_argerror(L, 1, "message expected");
	lua_settop(L, 11);
	if (job_trees(L, &j, with_ip) < 0)
		return 0;
	/* the boxes before the checks (nothing to leak if one raises) */
	lua_createtable(L, NJOBS, 0);	/* 12: the checks */
	for (i = 0; i < NJOBS; i++) {
		cv[i] = NULL;
		box[i] = NULL;
		if (i <= JOB_SPF_HELO && (!with_ip || (i == JOB_SPF_HELO && !helo_scope))) {
			lua_pushboolean(L, 0);
		} else {
			box[i] = lua_newuserdata(L, sizeof *box[i]);
			*box[i] = NULL;
			lua_pushvalue(L, UP_CHECK_MT);
			lua_setmetatable(L, -2);
		}
		lua_rawseti(L, 12, i + 1);
	}
	for (i = 0; i < NJOBS; i++) {
		if (box[i] == NULL)
			continue;
		if (new_check(box[i], JOB_KINDS[i], i >= JOB_DKIM ? msg : NULL,
			      &j.map[i], err, sizeof err) < 0)
			return 0;	/* the boxes' finalizers free what was made */
		cv[i] = *box[i];
	}
	/* the From reader asks nothing: done at its first step */
	if (lua_istable(L, 11) && mauth_check_step(cv[JOB_INFO]) == MAUTH_DONE) {
		push_ahead(L, 11, mauth_check_result(cv[JOB_INFO]));
		ah = luaL_testudata(L, 13, AHEAD_MT);	/* 13: the ahead, if any */
	}
	lua_settop(L, ah != NULL ? 13 : 12);
	{
		mauth_check *run[NJOBS];
		size_t n = 0;

		for (i = 0; i < NJOBS; i++)
			if (cv[i] != NULL)
				run[n++] = cv[i];
		run_checks(L, run, n, r, deadline, ah);
	}
	{
		/* check.lua reads only dkim_verify's signatures */
		static const char *const member[NJOBS] = {
			[JOB_DKIM] = "signatures",
		};

		push_results(L, cv, NJOBS, member);
	}
	/* SPF's results write received_spf on first read, with receiver
	 * (what spf.lua's finish does to mailauth.spf's) */
	for (i = JOB_SPF; i <= JOB_SPF_HELO; i++) {
		lua_rawgeti(L, -1, i + 1);
		if (lua_istable(L, -1)) {
			push_reader(L, 8);
			lua_setmetatable(L, -2);
		}
		lua_pop(L, 1);
	}
	lua_pushvalue(L, 12);
	if (ah == NULL)
		return 2;
	lua_pushvalue(L, 13);
	return 3;
}

/* A borrowed copy of the member key of map (another check's result) as
 * the option name (NULL when map has none), appended after *tail. */
static void dmarc_borrow(mauth_value ***tail, mauth_value *slot,
			 const mauth_value *map, const char *key,
			 const char *name)
{
	const mauth_value *v = map != NULL ? mauth_value_get(map, key) : NULL;

	if (v == NULL)
		return;
	*slot = *v;
	slot->key = name;
	slot->next = NULL;
	**tail = slot;
	*tail = &slot->next;
}

/* The C result of the open check at idx (kept by core.run_many), or NULL
 * for nil/false there. */
static const mauth_value *kept_result(lua_State *L, int idx)
{
	mauth_check **box;

	if (!lua_toboolean(L, idx))
		return NULL;
	box = udata(L, idx, UP_CHECK_MT, CHECK_MT);
	if (*box == NULL)
		luaL_error(L, "mailauth: check is closed");
	return mauth_check_result(*box);
}

/* Nodes of a DMARC check's option tree (dmarc_tree). */
typedef struct {
	mauth_value few[32], extra[8];
} dmarc_nodes;

/*
 * The option tree of a DMARC check for mailauth.check (into *opts): the
 * options at idx (org_domain, psl_file, pct_roll, shared_domains) with the
 * From reader's domains and author problem (info), and, when not NULL,
 * MAIL FROM's result and domain (spf) and every DKIM signature (dkim),
 * borrowed from those checks' C results as they are.  -1 (reason in
 * t->err) when the options cannot be read.
 */
static int dmarc_tree(lua_State *L, int idx, opt_tree *t, dmarc_nodes *d,
		      const mauth_value *info, const mauth_value *spf,
		      const mauth_value *dkim, mauth_value **opts)
{
	mauth_value **tail, *spfmap = &d->extra[0], **stail = &spfmap->child;

	t->budget = t->receiver = t->resolver = 0;
	if (read_options(L, idx, 0, "dmarc", t, d->few, sizeof d->few / sizeof d->few[0],
			 opts) < 0)
		return -1;
	tail = t->tail;
	dmarc_borrow(&tail, &d->extra[1], info, "from_domains", "from_domains");
	dmarc_borrow(&tail, &d->extra[2], info, "author_problem", "author_problem");
	dmarc_borrow(&tail, &d->extra[3], info, "author_code", "author_code");
	dmarc_borrow(&tail, &d->extra[4], dkim, "signatures", "dkim");
	if (spf != NULL) {
		memset(spfmap, 0, sizeof *spfmap);
		spfmap->kind = MAUTH_V_MAP;
		spfmap->key = "spf";
		dmarc_borrow(&stail, &d->extra[5], spf, "result", "result");
		dmarc_borrow(&stail, &d->extra[6], spf, "domain", "domain");
		*tail = spfmap;
	}
	return 0;
}

/*
 * The questions a DMARC check made from the From reader's result alone
 * (info, done) and the options at idx asks first, into a new ahead on the
 * stack (see ahead); nothing is pushed when it asks nothing (no usable
 * From domain, an author problem) or cannot be made (core.run_dmarc then
 * words the error).
 */
static void push_ahead(lua_State *L, int idx, const mauth_value *info)
{
	ahead *ah = lua_newuserdata(L, sizeof *ah);	/* first: nothing to leak */
	int at = lua_gettop(L);
	mauth_check *probe = NULL;
	const mauth_question *qv;
	dmarc_nodes d;
	opt_tree t;
	mauth_value *opts;
	char err[256];
	size_t i, nq = 0;

	ah->n = 0;
	ah->asked = 0;
	luaL_setmetatable(L, AHEAD_MT);
	if (dmarc_tree(L, idx, &t, &d, info, NULL, NULL, &opts) == 0 &&
	    mauth_check_new(&probe, "dmarc", opts, err, sizeof err) >= 0 &&
	    mauth_check_step(probe) == MAUTH_WANT_DNS)
		nq = mauth_check_questions(probe, &qv);
	/* no Lua call from here to the free: the probe cannot leak */
	for (i = 0; i < nq && ah->n < AHEAD_MAX; i++) {
		size_t len = strlen(qv[i].name);

		if (len >= sizeof ah->name[0])
			continue;	/* not asked ahead: asked later */
		memcpy(ah->name[ah->n], qv[i].name, len + 1);
		ah->q[ah->n] = qv[i];
		ah->q[ah->n].name = ah->name[ah->n];
		ah->a[ah->n++] = NULL;
	}
	mauth_check_free(probe);
	lua_settop(L, at);
	if (ah->n == 0)
		lua_pop(L, 1);
}

/*
 * core.run_dmarc(options, resolver, deadline, info, spf, dkim [, keep
 *                [, ahead]]) -> result [, check]
 * DMARC for mailauth.check from the C results of the checks core.run_many
 * kept open (info: message_info, spf: MAIL FROM's, false when none; dkim:
 * dkim_verify), handed over as they are (RFC 7489 §4.1: the From domains
 * with the author's problem, MAIL FROM's result and domain, every DKIM
 * signature): nothing goes through a Lua table.  options: the rest of
 * dmarc's options (org_domain, psl_file, pct_roll, shared_domains).
 * keep: the check stays open, returned after the result, so that
 * core.header writes from its C result too (the caller closes it).
 * ahead: core.run_check's third value, the answers it asked ahead.
 */
static int l_run_dmarc(lua_State *L)
{
	mauth_resolver *r;
	long long deadline = deadline_arg(L, 3);
	const mauth_value *info, *spf, *dkim;
	mauth_value *opts;
	dmarc_nodes d;
	opt_tree t;
	int keep = lua_toboolean(L, 7);
	ahead *ah = luaL_testudata(L, 8, AHEAD_MT);

	luaL_checktype(L, 1, LUA_TTABLE);
	r = *resolver_box(L, 2);
	info = kept_result(L, 4);
	spf = kept_result(L, 5);
	dkim = kept_result(L, 6);
	lua_settop(L, 8);	/* the ahead stays referenced */
	if (dmarc_tree(L, 1, &t, &d, info, spf, dkim, &opts) < 0)
		return push_fail(L, MAUTH_EINVAL, t.err);
	return run_one(L, "dmarc", NULL, opts, r, deadline, keep, ah);
}

/* ---- parsed messages ---- */

/* core.message(text) -> message: read once, for several checks */
static int l_message_new(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	mauth_message **box = lua_newuserdata(L, sizeof *box);

	*box = NULL;
	luaL_setmetatable(L, MESSAGE_MT);
	if (mauth_message_parse(box, text, len) < 0)
		return luaL_error(L, "mailauth: out of memory");
	return 1;
}

static int l_message__gc(lua_State *L)
{
	mauth_message **box = luaL_checkudata(L, 1, MESSAGE_MT);

	mauth_message_free(*box);
	*box = NULL;
	return 0;
}

/* core._parse_count() -> messages read so far in this process (specs) */
static int l_parse_count(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)msg_parse_count());
	return 1;
}

/* Collected when the Lua state closes, before the module is unloaded:
 * the key cache goes with it. */
static int l_run_slot__gc(lua_State *L)
{
	run_slot *slot = lua_touserdata(L, 1);

	mauth_check_free(slot->check);
	slot->check = NULL;
	mauth_caches_clear();
	return 0;
}

/* ---- mailauth.resolver ---- */

/* A new resolver box (a userdata with the resolver metatable) on the stack. */
static mauth_resolver **push_resolver_box(lua_State *L)
{
	mauth_resolver **box = lua_newuserdata(L, sizeof *box);

	*box = NULL;
	lua_pushvalue(L, UP_RESOLVER_MT);
	lua_setmetatable(L, -2);
	return box;
}

/*
 * Field name of the table at 1, left on the stack: 0 when nil, else 1 for
 * a number in [min, max] ((min, max] when open); raises with rule for
 * anything else.
 */
static int number_opt(lua_State *L, const char *name, lua_Number min,
		      int open, lua_Number max, const char *rule)
{
	lua_Number n;

	lua_getfield(L, 1, name);
	if (lua_isnil(L, -1))
		return 0;
	n = lua_tonumber(L, -1);
	luaL_argcheck(L, lua_isnumber(L, -1) && (open ? n > min : n >= min) &&
		      n <= max, 1, rule);
	return 1;
}

/* core.resolver{ nameservers = {...}, timeout =, retries =, cache =, cache_bytes =, resolv_conf = } */
static int l_resolver_new(lua_State *L)
{
	mauth_resolver_opts o;
	const char *ns[8];
	mauth_resolver **box;
	char err[256] = "";
	int rc;

	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&o, 0, sizeof o);
	o.retries = -1;
	lua_getfield(L, 1, "nameservers");
	if (!lua_isnil(L, -1)) {
		size_t i, n;

		luaL_argcheck(L, lua_istable(L, -1), 1, "nameservers must be a list");
		n = (size_t)lua_rawlen(L, -1);
		luaL_argcheck(L, n <= 8, 1, "at most 8 nameservers");
		for (i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_argerror(L, 1, "nameservers must be strings");
			ns[i] = lua_tostring(L, -1);
			lua_pop(L, 1);	/* still referenced by the list */
		}
		o.nameservers = ns;
		o.n_nameservers = n;
	}
	if (number_opt(L, "timeout", 0, 1, 600, "timeout must be seconds in (0, 600]"))
		o.timeout = lua_tonumber(L, -1);
	if (number_opt(L, "retries", 0, 0, 10, "retries must be a number in [0, 10]"))
		o.retries = (int)lua_tointeger(L, -1);
	lua_getfield(L, 1, "cache");
	if (lua_isboolean(L, -1))
		o.cache_size = lua_toboolean(L, -1) ? 10000 : 0;
	else if (number_opt(L, "cache", 0, 0, 1e8,
			    "cache must be a number of answers (or a boolean)"))
		o.cache_size = (size_t)lua_tointeger(L, -1);
	if (number_opt(L, "cache_bytes", 4096, 0, 1e12,
		       "cache_bytes must be a number of bytes in [4096, 1e12]"))
		o.cache_bytes = (size_t)lua_tonumber(L, -1);
	lua_getfield(L, 1, "resolv_conf");
	if (!lua_isnil(L, -1))
		o.resolv_conf = luaL_checkstring(L, -1);
	box = push_resolver_box(L);
	rc = mauth_resolver_new(box, &o, err, sizeof err);
	if (rc < 0)
		return push_fail(L, rc, err);
	return 1;
}

/*
 * The strings of the list at idx, borrowed (the list keeps them alive):
 * pointer and length arrays in GC-owned userdata.  Raises with what on a
 * non-string element.
 */
static size_t string_list(lua_State *L, int idx, const char ***strs,
			  size_t **lens, const char *what)
{
	size_t i, n;

	luaL_checktype(L, idx, LUA_TTABLE);
	n = (size_t)lua_rawlen(L, idx);
	*strs = lua_newuserdata(L, (n ? n : 1) * sizeof **strs);
	*lens = lua_newuserdata(L, (n ? n : 1) * sizeof **lens);
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_argerror(L, idx, what);
		(*strs)[i] = lua_tolstring(L, -1, &(*lens)[i]);
		lua_pop(L, 1);	/* still referenced by the list */
	}
	return n;
}

/* core.zone_resolver{ text, ... } */
static int l_zone_new(lua_State *L)
{
	const char **texts;
	size_t *lens, n;
	mauth_resolver **box;
	char err[256] = "";
	int rc;

	n = string_list(L, 1, &texts, &lens, "zones must be strings of zone-file text");
	box = push_resolver_box(L);
	rc = mauth_resolver_new_zone(box, texts, lens, n, err, sizeof err);
	if (rc < 0)
		return push_fail(L, rc, err);
	return 1;
}

/*
 * Answers copied out of the resolver for pushing.  mauth_resolver_query's
 * answers live until the next call on the resolver, and pushing them
 * allocates, so a finalizer may query the same resolver meanwhile: they are
 * copied first (malloc only, no Lua call in between) into a GC-owned
 * holder, which frees what is left in it if a push raises.
 */
#define ANSWERS_MT "mailauth.answers"

typedef struct {
	size_t n;
	mauth_answer *a[];
} answer_holder;

static void holder_clear(answer_holder *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		mauth_answer_free(h->a[i]);
		h->a[i] = NULL;
	}
}

static int l_answers__gc(lua_State *L)
{
	holder_clear(lua_touserdata(L, 1));
	return 0;
}

/* A holder for n answers, on top of the stack (allocate before asking). */
static answer_holder *new_holder(lua_State *L, size_t n)
{
	answer_holder *h = lua_newuserdata(L, sizeof *h + (n ? n : 1) * sizeof h->a[0]);

	h->n = 0;
	luaL_setmetatable(L, ANSWERS_MT);
	return h;
}

/* Asks r and copies the answers into h; raises on out of memory. */
static void ask_into(lua_State *L, mauth_resolver *r, const mauth_question *qv,
		     size_t n, const mauth_answer **av, answer_holder *h,
		     long long deadline)
{
	size_t i;
	int oom = mauth_resolver_query_until(r, qv, n, av, deadline) < 0;

	for (i = 0; i < n && !oom; i++) {
		h->a[i] = mauth_answer_dup(av[i]);
		h->n = i + 1;
		oom = h->a[i] == NULL;
	}
	if (oom)
		luaL_error(L, "mailauth: out of memory");
}

/* The answer for a name with a NUL byte: it cannot be asked. */
static const mauth_answer badname = { .rcode = MAUTH_RC_BADNAME };

/* resolver:query(name, qtype) -> answer (BADNAME for a name with a NUL) */
static int l_resolver_query(lua_State *L)
{
	mauth_resolver **r = resolver_box(L, 1);
	size_t len;
	mauth_question q;
	const mauth_answer *a;
	answer_holder *h;

	q.name = luaL_checklstring(L, 2, &len);
	q.type = type_arg(L, 3);
	q.id = 1;
	if (memchr(q.name, '\0', len) != NULL) {
		/* C would read the name only up to the NUL: another name */
		push_answer(L, &badname, q.type);
		return 1;
	}
	h = new_holder(L, 1);
	ask_into(L, *r, &q, 1, &a, h, 0);
	push_answer(L, h->a[0], q.type);
	holder_clear(h);
	return 1;
}

/*
 * resolver:query_many({ {name=, type=}, ... } [, deadline]) -> { answer, ... }
 * (in parallel; what is unanswered at the deadline is TIMEOUT)
 */
static int l_resolver_query_many(lua_State *L)
{
	mauth_resolver **r = resolver_box(L, 1);
	long long deadline = deadline_arg(L, 3);
	mauth_question *qv;
	const mauth_answer **av;
	answer_holder *h;
	size_t i, n, len;

	luaL_checktype(L, 2, LUA_TTABLE);
	n = (size_t)lua_rawlen(L, 2);
	luaL_argcheck(L, n <= 1024, 2, "at most 1024 questions");
	qv = lua_newuserdata(L, (n ? n : 1) * sizeof *qv);
	av = lua_newuserdata(L, (n ? n : 1) * sizeof *av);
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, 2, (lua_Integer)i + 1);
		luaL_argcheck(L, lua_istable(L, -1), 2, "questions must be tables");
		lua_getfield(L, -1, "name");
		if (lua_type(L, -1) != LUA_TSTRING)
			return luaL_argerror(L, 2, "question name must be a string");
		qv[i].name = lua_tolstring(L, -1, &len);
		qv[i].id = (unsigned)i + 1;
		/* a name with a NUL is asked as the empty name, which the
		 * drivers refuse, and answered BADNAME below (id 0 marks it) */
		if (memchr(qv[i].name, '\0', len) != NULL) {
			qv[i].name = "";
			qv[i].id = 0;
		}
		lua_getfield(L, -2, "type");
		qv[i].type = type_arg(L, lua_gettop(L));
		lua_pop(L, 3);	/* the name stays referenced by the question */
	}
	h = new_holder(L, n);
	ask_into(L, *r, qv, n, av, h, deadline);
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		push_answer(L, qv[i].id == 0 ? &badname : h->a[i],
			    qv[i].type);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	holder_clear(h);
	return 1;
}

static int l_resolver_stats(lua_State *L)
{
	mauth_resolver_stats s;

	mauth_resolver_stats_get(*resolver_box(L, 1), &s);
	{
		const struct { const char *name; unsigned long n; } f[] = {
			{ "queries", s.queries }, { "tcp", s.tcp },
			{ "cache_hits", s.cache_hits }, { "cache_misses", s.cache_misses },
			{ "timeouts", s.timeouts }, { "cache_entries", s.cache_entries },
			{ "cache_bytes", s.cache_bytes },
		};
		size_t i;

		lua_createtable(L, 0, (int)(sizeof f / sizeof f[0]));
		for (i = 0; i < sizeof f / sizeof f[0]; i++) {
			lua_pushinteger(L, (lua_Integer)f[i].n);
			lua_setfield(L, -2, f[i].name);
		}
	}
	return 1;
}

static int l_resolver__gc(lua_State *L)
{
	mauth_resolver **box = udata(L, 1, UP_RESOLVER_MT, RESOLVER_MT);

	mauth_resolver_free(*box);
	*box = NULL;
	return 0;
}

/* ---- DNS wire helpers ---- */

/* core.query_wire(name, qtype, id) -> bytes | nil, reason */
static int l_query_wire(lua_State *L)
{
	size_t len;
	const char *name = luaL_checklstring(L, 1, &len);
	int type = type_arg(L, 2);
	lua_Integer id = luaL_optinteger(L, 3, 0);
	unsigned char buf[1024];
	int n;

	luaL_argcheck(L, id >= 0 && id <= 65535, 3, "id must be in [0, 65535]");
	if (memchr(name, '\0', len) != NULL)
		return push_fail(L, MAUTH_EINVAL, "name contains a NUL byte");
	n = mauth_wire_query(name, type, (unsigned)id, buf, sizeof buf);
	if (n < 0)
		return push_fail(L, MAUTH_EINVAL, "not a valid domain name");
	lua_pushlstring(L, (const char *)buf, (size_t)n);
	return 1;
}

/* core.parse_wire(bytes) -> answer (with id, tc) | nil, reason */
static int l_parse_wire(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	mauth_answer *a = NULL;
	unsigned id = 0;
	int tc = 0, rc, qtype = 0;
	char err[256] = "";

	/* the question's type tells how to present records (MX as tables) */
	rc = mauth_wire_parse_typed((const unsigned char *)s, len, &a, &id, &tc,
				    &qtype, err, sizeof err);
	if (rc < 0)
		return push_fail(L, rc, err);
	/* push_answer raises only on out-of-memory, where a leak is moot. */
	push_answer(L, a, qtype);
	mauth_answer_free(a);
	lua_pushinteger(L, (lua_Integer)id);
	lua_setfield(L, -2, "id");
	lua_pushboolean(L, tc);
	lua_setfield(L, -2, "tc");
	return 1;
}

/* core.ip_match(ip, { "192.0.2.0/24", ... }) -> index | false; raises on a non-IP */
static int l_ip_match(lua_State *L)
{
	size_t len, n;
	const char *ip = luaL_checklstring(L, 1, &len);
	const char **nets;
	size_t *lens;
	int rc;

	n = string_list(L, 2, &nets, &lens, "networks must be strings");
	rc = mauth_ip_match(ip, len, nets, lens, n);
	if (rc < 0)
		return luaL_argerror(L, 1, "not an IP address");
	if (rc == 0)
		lua_pushboolean(L, 0);
	else
		lua_pushinteger(L, rc);
	return 1;
}

/* ---- header fields: Authentication-Results, Received-SPF ---- */

/* The fields of a result the header writers read (mailauth.h): all of
 * them for Authentication-Results, those of read_spf (authres_format.c)
 * for Received-SPF (besides properties, which both read). */
static const char *const HEADER_FIELDS[] = {
	"method", "method_version", "result", "comment", "reason", "problem",
	"name", "policy", "disposition", "ip", "sender", "helo", "mechanism",
	"scope", NULL
};
static const char *const SPF_FIELDS[] = {
	"result", "ip", "sender", "helo", "mechanism", "problem", "scope", NULL
};
#define HEADER_NODES_MAX (1u << 20)
#define FEW_NODES 48
/* mailauth.check's header has at most 6 results (iprev, SPF twice, DKIM,
 * DMARC, ARC): their list on the C stack */
#define FEW_RESULTS 8

typedef struct {
	mauth_value *v;
	size_t n;
	int anchor;	/* stack index of a table keeping converted numbers (hold) */
} header_nodes;

/* A member of parent (after *tail) for the scalar on top of the stack. */
static void header_scalar(lua_State *L, header_nodes *h, mauth_value ***tail,
			  const char *key)
{
	mauth_value *v = &h->v[h->n];
	int type = lua_type(L, -1);

	memset(v, 0, sizeof *v);
	v->key = key;
	if (type == LUA_TSTRING) {
		v->kind = MAUTH_V_STR;	/* the table keeps the string alive */
		v->str = lua_tolstring(L, -1, &v->len);
	} else if (type == LUA_TNUMBER) {
		lua_Number d = lua_tonumber(L, -1);

		if (d >= -9e15 && d <= 9e15 && d == (lua_Number)(long long)d) {
			v->kind = MAUTH_V_INT;
			v->num = (long long)d;
		} else {
			lua_pushvalue(L, -1);
			v->kind = MAUTH_V_STR;
			v->str = lua_tolstring(L, -1, &v->len);
			hold(L, h->anchor);
		}
	} else {
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	h->n++;
	**tail = v;
	*tail = &v->next;
}

static mauth_value *header_node(header_nodes *h, mauth_value ***tail,
				const char *key, mauth_vkind kind)
{
	mauth_value *v = &h->v[h->n++];

	memset(v, 0, sizeof *v);
	v->key = key;
	v->kind = kind;
	**tail = v;
	*tail = &v->next;
	return v;
}

/* The result table at idx as a map of fields and properties. */
static void header_result(lua_State *L, header_nodes *h, int idx,
			  mauth_value *map, const char *const *fields)
{
	mauth_value **tail = &map->child, *props, **ptail, *p, **f;
	size_t i, n;
	int k;

	for (k = 0; fields[k] != NULL; k++) {
		lua_getfield(L, idx, fields[k]);
		header_scalar(L, h, &tail, fields[k]);
	}
	lua_getfield(L, idx, "properties");
	if (lua_type(L, -1) == LUA_TTABLE) {
		props = header_node(h, &tail, "properties", MAUTH_V_LIST);
		ptail = &props->child;
		n = lua_rawlen(L, -1);
		for (i = 1; i <= n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i);
			if (lua_type(L, -1) == LUA_TTABLE) {
				p = header_node(h, &ptail, NULL, MAUTH_V_MAP);
				f = &p->child;
				lua_getfield(L, -1, "ptype");
				header_scalar(L, h, &f, "ptype");
				lua_getfield(L, -1, "property");
				header_scalar(L, h, &f, "property");
				lua_getfield(L, -1, "value");
				header_scalar(L, h, &f, "value");
			}
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
}

/*
 * The C result of the check object at idx (run to its end, kept open by
 * core.run_many's keep), or NULL when idx holds no such object.
 */
static const mauth_value *header_check(lua_State *L, int idx)
{
	mauth_check **box;

	if (lua_type(L, idx) != LUA_TUSERDATA)
		return NULL;
	box = udata(L, idx, UP_CHECK_MT, CHECK_MT);
	if (*box == NULL)
		luaL_error(L, "mailauth: check is closed");
	return mauth_check_result(*box);
}

/* Nodes a result table needs at most (its fields and its properties). */
static size_t header_count(lua_State *L, int idx)
{
	size_t n = 2 + sizeof HEADER_FIELDS / sizeof HEADER_FIELDS[0];

	if (lua_type(L, idx) != LUA_TTABLE)
		return 0;
	lua_getfield(L, idx, "properties");
	if (lua_type(L, -1) == LUA_TTABLE)
		n += 4 * lua_rawlen(L, -1);
	lua_pop(L, 1);
	return n;
}

/* One run of the writer of kind over list into buf; for
 * Authentication-Results its options are the table at opts. */
static long header_write(lua_State *L, int kind, const mauth_value **list,
			 size_t n, int opts, const char *receiver, char *buf,
			 size_t cap, char *err, size_t errlen)
{
	mauth_authres_opts o;

	if (kind == 1) {
		snprintf(err, errlen, "not an SPF result");
		return mauth_received_spf_format(list[0], receiver, buf, cap);
	}
	memset(&o, 0, sizeof o);
	lua_getfield(L, opts, "authserv_id");
	o.authserv_id = lua_tostring(L, -1);
	lua_getfield(L, opts, "version");
	o.version = (long long)lua_tonumber(L, -1);
	lua_getfield(L, opts, "instance");
	o.instance = (long long)lua_tonumber(L, -1);
	lua_getfield(L, opts, "fold");
	o.no_fold = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
	lua_getfield(L, opts, "max_per_method");
	o.max_per_method = (size_t)luaL_optinteger(L, -1, 0);
	lua_getfield(L, opts, "max_bytes");
	o.max_bytes = (size_t)luaL_optinteger(L, -1, 0);
	return mauth_authres_format(list, n, &o, buf, cap, err, errlen);
}

/*
 * Pushes the field of kind (0: Authentication-Results for the list of
 * results at idx, with the options table at opts; 1: Received-SPF for the
 * result at idx, with receiver, NULL for none), written by the C writer
 * from the tables read as mailauth.h's result trees; a result may also be
 * a check object kept open by core.run_many, whose C result is written as
 * it is.  Returns 1, or push_fail's nil, reason.
 */
static int header_push(lua_State *L, int kind, int idx, int opts,
		       const char *receiver)
{
	header_nodes h = { NULL, 0, 0 };
	mauth_value few_nodes[FEW_NODES];
	const mauth_value **list, *few_list[FEW_RESULTS];
	const char *const *fields = kind == 0 ? HEADER_FIELDS : SPF_FIELDS;
	size_t i, n, nodes = 0;
	char stackbuf[16384], err[200], *buf = stackbuf;
	size_t cap = sizeof stackbuf;
	long len;
	int top;

	lua_pushnil(L);		/* the anchor of converted numbers (hold) */
	h.anchor = lua_gettop(L);
	n = kind == 0 ? lua_rawlen(L, idx) : 1;
	for (i = 1; i <= n; i++) {
		if (kind == 0)
			lua_rawgeti(L, idx, (lua_Integer)i);
		else
			lua_pushvalue(L, idx);
		nodes += header_count(L, lua_gettop(L));
		lua_pop(L, 1);
		if (nodes > HEADER_NODES_MAX)
			return luaL_argerror(L, 2, "too many results");
	}
	/* one result (Received-SPF on first read) fits on the C stack */
	h.v = nodes + n + 1 <= FEW_NODES ? few_nodes :
	      lua_newuserdata(L, (nodes + n + 1) * sizeof *h.v);
	list = n + 1 <= FEW_RESULTS ? few_list :
	       lua_newuserdata(L, (n + 1) * sizeof *list);
	top = lua_gettop(L);
	for (i = 1; i <= n; i++) {
		mauth_value *map = &h.v[h.n++];
		const mauth_value *cv;

		memset(map, 0, sizeof *map);
		map->kind = MAUTH_V_MAP;
		list[i - 1] = map;
		if (kind == 0)
			lua_rawgeti(L, idx, (lua_Integer)i);
		else
			lua_pushvalue(L, idx);
		if (lua_type(L, -1) == LUA_TTABLE)
			header_result(L, &h, top + 1, map, fields);
		else if ((cv = header_check(L, top + 1)) != NULL)
			list[i - 1] = cv;
		lua_settop(L, top);
	}
	for (;;) {
		len = header_write(L, kind, list, n, opts, receiver, buf, cap,
				   err, sizeof err);
		lua_settop(L, top);
		if (len == MAUTH_ENOMEM)
			return luaL_error(L, "mailauth: out of memory");
		if (len < 0)
			return push_fail(L, (int)len, err);
		if ((size_t)len < sizeof stackbuf || buf != stackbuf)
			break;
		/* longer than the stack buffer: once more into one that fits */
		cap = (size_t)len + 1;
		buf = lua_newuserdata(L, cap);
		top = lua_gettop(L);
	}
	lua_pushlstring(L, buf, (size_t)len);
	return 1;
}

/*
 * core.header("authres", { result, ... }, { authserv_id =, version =,
 *   instance =, fold =, max_per_method =, max_bytes = }) -> text | nil, why
 * core.header("received_spf", spf_result, { receiver = }) -> text
 * The one C writer of both fields (src/authres/authres_format.c) over the
 * result tables (see header_push; a check object kept open is
 * mailauth.check's fast path).
 */
static int l_header(lua_State *L)
{
	static const char *const kinds[] = { "authres", "received_spf", NULL };
	int kind = luaL_checkoption(L, 1, NULL, kinds);
	const char *receiver = NULL;

	luaL_checktype(L, 2, LUA_TTABLE);
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	if (kind == 1) {
		lua_getfield(L, 3, "receiver");	/* 4: holds it while written */
		receiver = lua_tostring(L, 4);
	}
	return header_push(L, kind, 2, 3, receiver);
}

/*
 * received_spf on first read: an SPF result's metatable (READER, or one
 * per receiver from the READERS cache, whose receiver field names it) has
 * this as __index.  Most callers never read the field, and writing it is
 * a fifth of an evaluation, so the binding has the core leave it out
 * (check_host_formats) and this writes it with the same C writer a C
 * host's results get it from (mauth_received_spf_format), from the
 * table's fields.  Then the table is a plain one, the text in it.
 *
 * The fields are read as core.header reads them (header_result: the
 * same tree, so the same text), but with the keys interned once, as this
 * closure's upvalues after the module's (RKEY): a raw read by a key on
 * the stack costs a third of lua_getfield's, which interns its C string
 * every time.  The table has no metatable by then, so raw reads are its
 * reads; a property's fields are read with lua_gettable, as getfield.
 */
enum {
	RKEY_RECEIVED_SPF, RKEY_RECEIVER, RKEY_PROPERTIES, RKEY_PTYPE,
	RKEY_VALUE, RKEY_FIELDS		/* then SPF_FIELDS, in order */
};
static const char *const RKEY_NAMES[] = {
	"received_spf", "receiver", "properties", "ptype", "value", NULL
};
#define UP_RKEY(k) lua_upvalueindex(NUPVALUES + 1 + (k))
#define SPF_NFIELDS (sizeof SPF_FIELDS / sizeof SPF_FIELDS[0] - 1)
#define NRKEYS (RKEY_FIELDS + SPF_NFIELDS)

/* Pushes the field of the table at idx under the key upvalue k. */
static void received_get(lua_State *L, int idx, int k, int raw)
{
	lua_pushvalue(L, UP_RKEY(k));
	if (raw)
		lua_rawget(L, idx);
	else
		lua_gettable(L, idx);
}

/* The value at idx as header_scalar takes it (a string as it is). */
static void received_scalar(lua_State *L, header_nodes *h, mauth_value ***tail,
			    int idx, const char *key)
{
	int type = lua_type(L, idx);
	mauth_value *v;

	if (type == LUA_TSTRING) {
		v = &h->v[h->n++];
		memset(v, 0, sizeof *v);
		v->key = key;
		v->kind = MAUTH_V_STR;
		v->str = lua_tolstring(L, idx, &v->len);
		**tail = v;
		*tail = &v->next;
	} else if (type == LUA_TNUMBER) {
		lua_pushvalue(L, idx);
		header_scalar(L, h, tail, key);
	}
}

/* A field of one result's own (SPF_FIELDS and two per property) at most. */
#define RECEIVED_FEW 32

static int l_received_index(lua_State *L)
{
	header_nodes h = { NULL, 0, 0 };
	mauth_value few[RECEIVED_FEW], *map, *props, *p, **tail, **ptail, **f;
	const char *receiver = NULL;
	char stackbuf[1024], *buf = stackbuf;
	size_t k, i, n, nodes;
	int at;
	long len;

	if (!lua_rawequal(L, 2, UP_RKEY(RKEY_RECEIVED_SPF)))
		return 0;
	lua_settop(L, 2);
	/* 3: the metatable, holding the receiver while it is written */
	if (!lua_getmetatable(L, 1))
		lua_pushnil(L);
	if (lua_istable(L, 3)) {
		received_get(L, 3, RKEY_RECEIVER, 1);
		receiver = lua_tostring(L, -1);
	}
	/* a plain table again first: the writer reads absent fields too */
	lua_pushnil(L);
	lua_setmetatable(L, 1);
	lua_pushnil(L);		/* the anchor of converted numbers (hold) */
	h.anchor = lua_gettop(L);
	/* the nodes: the map, its fields, the list and two per property */
	received_get(L, 1, RKEY_PROPERTIES, 1);
	n = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0;
	nodes = 2 + SPF_NFIELDS + 3 * n;
	h.v = nodes <= RECEIVED_FEW ? few :
	      lua_newuserdata(L, nodes * sizeof *h.v);
	at = lua_gettop(L);	/* the fields from at + 1 */
	for (k = 0; k < SPF_NFIELDS; k++)
		received_get(L, 1, (int)(RKEY_FIELDS + k), 1);
	map = &h.v[h.n++];
	memset(map, 0, sizeof *map);
	map->kind = MAUTH_V_MAP;
	tail = &map->child;
	for (k = 0; k < SPF_NFIELDS; k++)
		received_scalar(L, &h, &tail, at + 1 + (int)k, SPF_FIELDS[k]);
	if (n > 0) {
		int list = h.anchor + 1;

		props = header_node(&h, &tail, "properties", MAUTH_V_LIST);
		ptail = &props->child;
		for (i = 1; i <= n; i++) {
			lua_rawgeti(L, list, (lua_Integer)i);
			if (lua_istable(L, -1)) {
				int item = lua_gettop(L);

				/* the writer reads a property's ptype and value */
				p = header_node(&h, &ptail, NULL, MAUTH_V_MAP);
				f = &p->child;
				received_get(L, item, RKEY_PTYPE, 0);
				received_get(L, item, RKEY_VALUE, 0);
				received_scalar(L, &h, &f, item + 1, "ptype");
				received_scalar(L, &h, &f, item + 2, "value");
			}
			lua_settop(L, at + (int)SPF_NFIELDS);
		}
	} else if (lua_istable(L, h.anchor + 1)) {
		(void)header_node(&h, &tail, "properties", MAUTH_V_LIST);
	}
	len = mauth_received_spf_format(map, receiver, buf, sizeof stackbuf);
	if (len >= (long)sizeof stackbuf) {
		/* longer than the stack buffer: once more into one that fits */
		buf = lua_newuserdata(L, (size_t)len + 1);
		len = mauth_received_spf_format(map, receiver, buf, (size_t)len + 1);
	}
	if (len == MAUTH_ENOMEM)
		return luaL_error(L, "mailauth: out of memory");
	if (len < 0)
		lua_pushnil(L);
	else
		lua_pushlstring(L, buf, (size_t)len);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, 1);
	return 1;
}

/* Pushes the reader metatable for receiver (NULL: none), made once per
 * receiver and kept while some result uses it (READERS is weak). */
static void push_reader(lua_State *L, int receiver)
{
	if (receiver == 0 || lua_isnil(L, receiver)) {
		lua_pushvalue(L, UP_READER);
		return;
	}
	lua_pushvalue(L, receiver);
	lua_rawget(L, UP_READERS);	/* (5.1's returns no type) */
	if (!lua_isnil(L, -1))
		return;
	lua_pop(L, 1);
	lua_createtable(L, 0, 2);
	lua_getfield(L, UP_READER, "__index");
	lua_setfield(L, -2, "__index");
	lua_pushvalue(L, receiver);
	lua_setfield(L, -2, "receiver");
	lua_pushvalue(L, receiver);
	lua_pushvalue(L, -2);
	lua_rawset(L, UP_READERS);
}

/*
 * core.received_reader(spf_result, receiver) -> spf_result, which then
 * writes received_spf (with receiver, a string or nil) on first read.
 */
static int l_received_reader(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 2);
	push_reader(L, 2);
	lua_setmetatable(L, 1);
	lua_settop(L, 1);
	return 1;
}

/* ---- module ---- */

static const luaL_Reg check_methods[] = {
	{ "step", l_check_step },
	{ "questions", l_check_questions },
	{ "question", l_check_question },
	{ "next_question", l_check_next_question },
	{ "answer", l_check_answer },
	{ "answer_next", l_check_answer_next },
	{ "result", l_check_result },
	{ "close", l_check__gc },
	{ NULL, NULL }
};

static const luaL_Reg resolver_methods[] = {
	{ "query", l_resolver_query },
	{ "query_many", l_resolver_query_many },
	{ "stats", l_resolver_stats },
	{ "close", l_resolver__gc },
	{ NULL, NULL }
};

static const luaL_Reg functions[] = {
	{ "check", l_check_new },
	{ "run", l_run },
	{ "run_many", l_run_many },
	{ "run_check", l_run_check },
	{ "run_dmarc", l_run_dmarc },
	{ "spf", l_spf },
	{ "received_reader", l_received_reader },
	{ "message", l_message_new },
	{ "_parse_count", l_parse_count },
	{ "_round_count", l_round_count },
	{ "options", l_options },
	{ "options_fit", l_options_fit },
	{ "monotonic", l_monotonic },
	{ "resolver", l_resolver_new },
	{ "zone_resolver", l_zone_new },
	{ "query_wire", l_query_wire },
	{ "parse_wire", l_parse_wire },
	{ "ip_match", l_ip_match },
	{ "header", l_header },
	{ NULL, NULL }
};

/* Pushes the module's upvalues: stack slots 1 to NUPVALUES (see luaopen). */
static void push_upvalues(lua_State *L)
{
	int i;

	for (i = 1; i <= NUPVALUES; i++)
		lua_pushvalue(L, i);
}

/* Fills the metatable at mt: methods as __index, gc as __gc (and __close). */
static void fill_class(lua_State *L, int mt, const luaL_Reg *methods,
		       lua_CFunction gc)
{
	lua_newtable(L);
	push_upvalues(L);
	luaL_setfuncs(L, methods, NUPVALUES);
	lua_setfield(L, mt, "__index");
	push_upvalues(L);
	lua_pushcclosure(L, gc, NUPVALUES);
	lua_setfield(L, mt, "__gc");
#if LUA_VERSION_NUM >= 504
	push_upvalues(L);
	lua_pushcclosure(L, gc, NUPVALUES);
	lua_setfield(L, mt, "__close");
#endif
}

int luaopen_mailauth_core(lua_State *L)
{
	const char *const *k;
	int i = 1;
	run_slot *slot;

	lua_settop(L, 0);
	luaL_newmetatable(L, CHECK_MT);		/* 1 */
	luaL_newmetatable(L, RESOLVER_MT);	/* 2 */
	slot = lua_newuserdata(L, sizeof *slot);	/* 3: core.run's check */
	slot->check = NULL;
	slot->busy = 0;
	lua_newtable(L);
	lua_pushcfunction(L, l_run_slot__gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, 3);
	lua_createtable(L, 0, 1);		/* 4: received_spf's reader */
	lua_createtable(L, 0, 0);		/* 5: the same per receiver */
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "v");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, 5);
	push_upvalues(L);
	for (k = RKEY_NAMES; *k != NULL; k++)
		lua_pushstring(L, *k);
	for (k = SPF_FIELDS; *k != NULL; k++)
		lua_pushstring(L, *k);
	lua_pushcclosure(L, l_received_index, NUPVALUES + (int)NRKEYS);
	lua_setfield(L, 4, "__index");
	luaL_newmetatable(L, ANSWERS_MT);	/* answer holders */
	lua_pushcfunction(L, l_answers__gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newmetatable(L, AHEAD_MT);	/* questions asked ahead */
	lua_pushcfunction(L, l_ahead__gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newmetatable(L, MESSAGE_MT);	/* parsed messages */
	lua_pushcfunction(L, l_message__gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	fill_class(L, 1, check_methods, l_check__gc);
	fill_class(L, 2, resolver_methods, l_resolver__gc);
	luaL_newlibtable(L, functions);
	push_upvalues(L);
	luaL_setfuncs(L, functions, NUPVALUES);
	lua_pushliteral(L, LUA_VERSION);
	lua_setfield(L, -2, "_LUA_VERSION");
	lua_pushliteral(L, MAUTH_VERSION);
	lua_setfield(L, -2, "_VERSION");
	lua_newtable(L);
	for (k = mauth_check_kinds(); *k != NULL; k++) {
		lua_pushstring(L, *k);
		lua_rawseti(L, -2, i++);
	}
	lua_setfield(L, -2, "kinds");
	return 1;
}
