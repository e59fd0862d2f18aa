/*
 * check.c - the job machinery shared by every protocol.
 *
 * A protocol supplies a check_vt.  This file keeps its questions in
 * batches: the protocol's step() runs only when every question of the
 * current batch is answered, reads those answers, and asks the next batch.
 * A driver therefore sees independent questions together and may answer
 * them in any order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"
#include "core/message.h"

/*
 * Questions and answers are parallel arrays so that a batch with no answer
 * yet can be handed to a driver as it is (mauth_check_questions without a
 * copy).  The arrays are kept from step to step.
 */
typedef struct {
	mauth_question *q;
	mauth_answer **ans;
	size_t n, cap;
	size_t answered;
	/* bit i: ans[i] is lent by the driver (check_lend_answer), not freed */
	unsigned long long lent;
} batch;

#define LENT_MAX 64		/* answers a batch can hold lent: lent's bits */

/* The first arena block lives in the check itself: one malloc per check. */
#define BATCH_INLINE 8
#define INLINE_ARENA 8192	/* a DKIM check with a few signatures fits */

struct mauth_check {
	const check_vt *vt;
	void *state;
	arena mem;
	mauth_value *result;
	int failed;		/* out of memory inside the protocol */
	int finished;		/* vt->finish has run */
	unsigned next_id;
	batch open;		/* asked, being answered */
	batch done;		/* answered; read by the running step() */
	mauth_question *view;	/* questions() output when some are answered */
	char *expired;		/* the first question cut by the time budget */
	const mauth_message *message;	/* during init only: the parsed message */
	int message_read;	/* init asked for it (check_message) */
	int host_formats;	/* check_host_formats: leave out header text */
	/* first storage of the two batches: most checks ask a few at a time */
	mauth_question q0[2][BATCH_INLINE];
	mauth_answer *a0[2][BATCH_INLINE];
	_Alignas(16) unsigned char first[INLINE_ARENA];	/* arena block */
};

/*
 * One freed check block kept for the next check (an atomic exchange, so
 * any thread may take or give it): a block is about 9 KB, beyond glibc's
 * per-thread cache, and its malloc and free cost about 400 instructions,
 * a tenth of a whole SPF check against cached answers.  Only memory is
 * reused, never state: check_create sets every field as after a malloc.
 * Not under AddressSanitizer, which must see each block's lifetime.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SPARE_BLOCK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPARE_BLOCK 0
#endif
#endif
#if !defined(SPARE_BLOCK)
#define SPARE_BLOCK 1
#endif

#if SPARE_BLOCK
static mauth_check *spare;

static mauth_check *block_take(void)
{
	mauth_check *c = __atomic_exchange_n(&spare, NULL, __ATOMIC_ACQUIRE);

	return c != NULL ? c : malloc(sizeof *c);
}

static void block_give(mauth_check *c)
{
	free(__atomic_exchange_n(&spare, c, __ATOMIC_ACQ_REL));
}

/*
 * The Lua module is unloaded at lua_close (dlclose): without this the
 * spare block's only pointer goes with the library's data and leak
 * checkers see it as lost.
 */
__attribute__((destructor)) static void block_release_spare(void)
{
	free(__atomic_exchange_n(&spare, NULL, __ATOMIC_ACQ_REL));
}
#else
static mauth_check *block_take(void)
{
	return malloc(sizeof(mauth_check));
}

static void block_give(mauth_check *c)
{
	free(c);
}
#endif

static void seterr(char *err, size_t errlen, const char *text)
{
	if (err != NULL && errlen > 0) {
		strncpy(err, text, errlen - 1);
		err[errlen - 1] = '\0';
	}
}

static void batch_clear(batch *b)
{
	size_t i;

	if (b->n == 0)
		return;
	for (i = 0; i < b->n; i++)
		if (i >= LENT_MAX || !(b->lent >> i & 1))
			mauth_answer_free(b->ans[i]);
	b->n = 0;
	b->answered = 0;
	b->lent = 0;
}

/*
 * Both constructors: parsed (may be NULL) is lent to the kind's init, which
 * reads it through check_message; a kind that never asks for it reads no
 * message, so being given one is the caller's mistake.
 */
static int check_create(mauth_check **out, const char *kind,
			const mauth_message *parsed, const mauth_value *opts,
			char *err, size_t errlen)
{
	const check_vt *vt;
	mauth_check *c;
	params p;
	int rc;

	*out = NULL;
	vt = check_kind_find(kind);
	if (vt == NULL) {
		seterr(err, errlen, "unknown check kind");
		return MAUTH_EINVAL;
	}
	/* Before any work: init may trust the names, kinds and ranges. */
	if (options_check(vt->options, opts, err, errlen) != 0)
		return MAUTH_EINVAL;
	/* Not calloc: the inline arena block needs no zeroing (arena_alloc
	 * zeroes what it hands out). */
	c = block_take();
	if (c == NULL)
		return MAUTH_ENOMEM;
	memset(c, 0, offsetof(mauth_check, q0));
	arena_init_inline(&c->mem, c->first, sizeof c->first);
	c->open.q = c->q0[0];
	c->open.ans = c->a0[0];
	c->open.cap = BATCH_INLINE;
	c->done.q = c->q0[1];
	c->done.ans = c->a0[1];
	c->done.cap = BATCH_INLINE;
	c->vt = vt;
	c->next_id = 1;
	c->state = arena_alloc(&c->mem, vt->state_size);
	if (c->state == NULL) {
		mauth_check_free(c);
		return MAUTH_ENOMEM;
	}
	p.map = opts;
	c->message = parsed;
	rc = vt->init(c, c->state, &p, err, errlen);
	if (rc >= 0 && parsed != NULL && !c->message_read) {
		seterr(err, errlen, "this check kind reads no message");
		rc = MAUTH_EINVAL;
	}
	c->message = NULL;	/* the caller's again */
	if (rc < 0 || c->failed || c->mem.failed) {
		mauth_check_free(c);
		return rc < 0 ? rc : MAUTH_ENOMEM;
	}
	*out = c;
	return 0;
}

int mauth_check_new(mauth_check **out, const char *kind,
		    const mauth_value *opts, char *err, size_t errlen)
{
	return check_create(out, kind, NULL, opts, err, errlen);
}

int mauth_check_new_message(mauth_check **out, const char *kind,
			    const mauth_message *parsed, const mauth_value *opts,
			    char *err, size_t errlen)
{
	if (parsed == NULL) {
		*out = NULL;
		seterr(err, errlen, "option 'message' is required");
		return MAUTH_EINVAL;
	}
	return check_create(out, kind, parsed, opts, err, errlen);
}

int check_message(mauth_check *c, const params *p, msg *out, char *err,
		  size_t errlen)
{
	size_t len;
	const char *text = param_get(p, "message", &len);

	c->message_read = 1;
	if (c->message != NULL && text != NULL) {
		seterr(err, errlen, "option 'message' is given twice (parsed and as text)");
		return MAUTH_EINVAL;
	}
	if (c->message != NULL) {
		*out = c->message->m;	/* a shallow copy: fields stay shared */
		return 0;
	}
	if (text == NULL) {
		seterr(err, errlen, "option 'message' is required");
		return MAUTH_EINVAL;
	}
	return msg_parse(&c->mem, text, len, NULL, out) != 0 ? MAUTH_ENOMEM : 0;
}

const mauth_question *check_next_open(const mauth_check *c)
{
	size_t i;

	if (c == NULL || c->open.answered == c->open.n)
		return NULL;
	for (i = 0; i < c->open.n; i++)
		if (c->open.ans[i] == NULL)
			return &c->open.q[i];
	return NULL;
}

static int batch_inline(const mauth_check *c, const batch *b)
{
	return b->q == c->q0[0] || b->q == c->q0[1];
}

/* Doubles a batch; the check's inline arrays are copied out, never freed. */
static int batch_grow(mauth_check *c, batch *b)
{
	size_t cap = b->cap > 0 ? b->cap * 2 : BATCH_INLINE;
	mauth_question *q = malloc(cap * sizeof *q);
	mauth_answer **ans = malloc(cap * sizeof *ans);

	if (q == NULL || ans == NULL) {
		free(q);
		free(ans);
		return -1;
	}
	memcpy(q, b->q, b->n * sizeof *q);
	memcpy(ans, b->ans, b->n * sizeof *ans);
	if (!batch_inline(c, b)) {
		free(b->q);
		free(b->ans);
	}
	b->q = q;
	b->ans = ans;
	b->cap = cap;
	return 0;
}

/* A question of this step; name (len bytes, NUL-terminated) is copied
 * when copy is set, else kept as it is (check_ask_kept). */
static unsigned ask(mauth_check *c, int type, const char *name, size_t len,
		    int copy)
{
	batch *b = &c->open;
	mauth_question *q;
	size_t i;

	/* One question per (type, name) in a batch; both askers get its id. */
	for (i = 0; i < b->n; i++)
		if (b->q[i].type == type &&
		    name_eq(b->q[i].name, strlen(b->q[i].name), name, len))
			return b->q[i].id;
	if (b->n == b->cap && batch_grow(c, b) != 0) {
		c->failed = 1;
		return 0;
	}
	q = &b->q[b->n];
	q->name = copy ? arena_strndup(&c->mem, name, len) : name;
	if (q->name == NULL) {
		c->failed = 1;
		return 0;
	}
	q->type = type;
	q->id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	b->ans[b->n] = NULL;
	b->n++;
	return q->id;
}

unsigned check_ask(mauth_check *c, int type, const char *name)
{
	return ask(c, type, name, strlen(name), 1);
}

unsigned check_ask_kept(mauth_check *c, int type, const char *name, size_t len)
{
	return ask(c, type, name, len, 0);
}

const mauth_answer *check_got(const mauth_check *c, unsigned id)
{
	size_t i;

	for (i = 0; i < c->done.n; i++)
		if (c->done.q[i].id == id)
			return c->done.ans[i];
	return NULL;
}

arena *check_arena(mauth_check *c)
{
	return &c->mem;
}

void check_host_formats(mauth_check *c)
{
	c->host_formats = 1;
}

int check_leaves_formatting(const mauth_check *c)
{
	return c->host_formats;
}

int check_step_none(mauth_check *c, void *st)
{
	(void)c;
	(void)st;
	return 0;
}

mauth_value *check_result(mauth_check *c)
{
	if (c->result == NULL)
		c->result = val_new(&c->mem, MAUTH_V_MAP);
	if (c->result == NULL)
		c->failed = 1;
	return c->result;
}

/*
 * The result's problem becomes text and its code "budget_expired" (the
 * first "problem" and "code" members are rewritten, else added): the
 * protocol's own words for a cut question ("TIMEOUT") say less than which
 * question the budget cut.
 */
static void set_member(mauth_check *c, const char *key, const char *text)
{
	mauth_value *v;

	for (v = c->result->child; v != NULL; v = v->next)
		if (v->key != NULL && strcmp(v->key, key) == 0 &&
		    v->kind == MAUTH_V_STR) {
			v->str = text;
			v->len = strlen(text);
			return;
		}
	val_ref(&c->mem, c->result, key, text, strlen(text));
}

static void set_problem(mauth_check *c, const char *text)
{
	set_member(c, "problem", text);
	set_member(c, "code", "budget_expired");
}

/* The result is complete: the protocol's finish() runs, once. */
static int done(mauth_check *c)
{
	if (!c->finished && c->vt->finish != NULL)
		c->vt->finish(c, c->state, c->result);
	c->finished = 1;
	return c->mem.failed ? MAUTH_ENOMEM : MAUTH_DONE;
}

int mauth_check_step(mauth_check *c)
{
	batch tmp;
	int rc;

	if (c == NULL)
		return MAUTH_EINVAL;
	if (c->failed || c->mem.failed)
		return MAUTH_ENOMEM;
	if (c->result != NULL && c->open.n == 0)
		return done(c);
	if (c->open.answered < c->open.n)
		return MAUTH_WANT_DNS;
	/* The batch is complete: it becomes what step() reads. */
	batch_clear(&c->done);
	tmp = c->done;
	c->done = c->open;
	c->open = tmp;
	rc = c->vt->step(c, c->state);
	batch_clear(&c->done);
	if (rc < 0 || c->failed || c->mem.failed) {
		c->failed = 1;
		return MAUTH_ENOMEM;
	}
	if (c->open.n > 0)
		return MAUTH_WANT_DNS;
	if (c->result == NULL)
		return MAUTH_ESTATE;	/* a protocol that neither asked nor ended */
	if (c->expired != NULL)
		set_problem(c, c->expired);
	return done(c);
}

size_t mauth_check_questions(const mauth_check *c, const mauth_question **qv)
{
	mauth_check *mc = (mauth_check *)c;
	size_t i, n = 0;

	*qv = NULL;
	if (c == NULL || c->open.n == 0)
		return 0;
	if (c->open.answered == 0) {
		/* the usual case: the whole batch is open, no copy needed */
		*qv = c->open.q;
		return c->open.n;
	}
	free(mc->view);
	mc->view = malloc(c->open.n * sizeof *mc->view);
	if (mc->view == NULL)
		return 0;
	for (i = 0; i < c->open.n; i++)
		if (c->open.ans[i] == NULL)
			mc->view[n++] = c->open.q[i];
	*qv = mc->view;
	return n;
}

/* The open question id, or -1. */
static long open_index(const mauth_check *c, unsigned id)
{
	size_t i;

	for (i = 0; i < c->open.n; i++)
		if (c->open.q[i].id == id)
			return c->open.ans[i] == NULL ? (long)i : -1;
	return -1;
}

int mauth_check_answer(mauth_check *c, unsigned id, const mauth_answer *a)
{
	long i;

	if (c == NULL || a == NULL)
		return MAUTH_EINVAL;
	i = open_index(c, id);
	if (i < 0)
		return MAUTH_ESTATE;
	c->open.ans[i] = mauth_answer_dup(a);
	if (c->open.ans[i] == NULL)
		return MAUTH_ENOMEM;
	c->open.answered++;
	return 0;
}

int check_take_answer(mauth_check *c, unsigned id, mauth_answer *a)
{
	long i = open_index(c, id);

	if (i < 0) {
		mauth_answer_free(a);
		return MAUTH_ESTATE;
	}
	c->open.ans[i] = a;
	c->open.answered++;
	return 0;
}

/*
 * The driver's own answer, read in place: no copy and no free.  Only for
 * a step run before the driver can change or free it (mauth_check_run's
 * loop, whose next step reads it); past the bits of lent, a copy.
 */
int check_lend_answer(mauth_check *c, unsigned id, const mauth_answer *a)
{
	long i = open_index(c, id);

	if (i < 0)
		return MAUTH_ESTATE;
	if (i >= LENT_MAX) {
		c->open.ans[i] = mauth_answer_dup(a);
		if (c->open.ans[i] == NULL)
			return MAUTH_ENOMEM;
	} else {
		/* never written through nor freed: batch_clear skips it */
		c->open.ans[i] = (mauth_answer *)(uintptr_t)a;
		c->open.lent |= 1ULL << i;
	}
	c->open.answered++;
	return 0;
}

/*
 * RFC 7208 §4.6.4 (and the same bound for every other check): the time
 * budget ran out with question id open.  It is answered TIMEOUT, and the
 * first question so cut is named in the result's problem.
 */
int mauth_check_expire(mauth_check *c, unsigned id)
{
	static const mauth_answer timeout = { .rcode = MAUTH_RC_TIMEOUT };
	long i;

	if (c == NULL)
		return MAUTH_EINVAL;
	i = open_index(c, id);
	if (i < 0)
		return MAUTH_ESTATE;
	if (c->expired == NULL) {
		const char *type = qtype_name(c->open.q[i].type) ?
				   qtype_name(c->open.q[i].type) : "?";
		const char *name = c->open.q[i].name;
		size_t len = sizeof "time budget ran out waiting for " + strlen(type) +
			     1 + strlen(name);

		c->expired = arena_alloc(&c->mem, len);
		if (c->expired == NULL)
			return MAUTH_ENOMEM;
		snprintf(c->expired, len, "time budget ran out waiting for %s %s",
			 type, name);
	}
	return mauth_check_answer(c, id, &timeout);
}

const mauth_value *mauth_check_result(const mauth_check *c)
{
	return c != NULL && c->open.n == 0 ? c->result : NULL;
}

void mauth_check_free(mauth_check *c)
{
	if (c == NULL)
		return;
	if (c->vt != NULL && c->vt->free != NULL && c->state != NULL)
		c->vt->free(c->state);
	batch_clear(&c->open);
	batch_clear(&c->done);
	if (!batch_inline(c, &c->open)) {
		free(c->open.q);
		free(c->open.ans);
	}
	if (!batch_inline(c, &c->done)) {
		free(c->done.q);
		free(c->done.ans);
	}
	free(c->view);
	arena_free(&c->mem);
	block_give(c);
}
