/*
 * check.c - the job machinery shared by every protocol.
 *
 * A protocol supplies a check_vt.  This file keeps its questions in
 * batches: the protocol's step() runs only when every question of the
 * current batch is answered, reads those answers, and asks the next batch.
 * A driver therefore sees independent questions together and may answer
 * them in any order.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

typedef struct {
	mauth_question q;
	mauth_answer *ans;
} slot;

typedef struct {
	slot *v;
	size_t n, cap;
} batch;

struct mauth_check {
	const check_vt *vt;
	void *state;
	arena mem;
	mauth_value *result;
	int failed;		/* out of memory inside the protocol */
	unsigned next_id;
	batch open;		/* asked, being answered */
	batch done;		/* answered; read by the running step() */
	mauth_question *view;	/* questions() output */
};

static const check_vt *const kinds[] = {
	&mauth_iprev_vt, &mauth_ptr_vt, &mauth_spf_vt,
	&mauth_dmarc_vt, &mauth_org_domain_vt, &mauth_authres_parse_vt,
	&mauth_dkim_verify_vt, &mauth_dkim_sign_vt, &mauth_message_info_vt,
	&mauth_arc_verify_vt, &mauth_arc_seal_vt,
};

static const char *kind_names[sizeof kinds / sizeof kinds[0] + 1];

const char *const *mauth_check_kinds(void)
{
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		kind_names[i] = kinds[i]->kind;
	return kind_names;
}

static void seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0) {
		strncpy(err, msg, errlen - 1);
		err[errlen - 1] = '\0';
	}
}

static void batch_clear(batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		mauth_answer_free(b->v[i].ans);
	b->n = 0;
}

int mauth_check_new(mauth_check **out, const char *kind,
		    const mauth_param *pv, size_t pn, char *err, size_t errlen)
{
	const check_vt *vt = NULL;
	mauth_check *c;
	params p;
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (kind != NULL && strcmp(kinds[i]->kind, kind) == 0)
			vt = kinds[i];
	if (vt == NULL) {
		seterr(err, errlen, "unknown check kind");
		return MAUTH_EINVAL;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return MAUTH_ENOMEM;
	arena_init(&c->mem);
	c->vt = vt;
	c->next_id = 1;
	c->state = arena_alloc(&c->mem, vt->state_size);
	if (c->state == NULL) {
		mauth_check_free(c);
		return MAUTH_ENOMEM;
	}
	p.v = pv;
	p.n = pn;
	rc = vt->init(c, c->state, &p, err, errlen);
	if (rc < 0 || c->failed || c->mem.failed) {
		mauth_check_free(c);
		return rc < 0 ? rc : MAUTH_ENOMEM;
	}
	*out = c;
	return 0;
}

unsigned check_ask(mauth_check *c, int type, const char *name)
{
	batch *b = &c->open;
	slot *s;
	size_t i;

	/* One question per (type, name) in a batch; both askers get its id. */
	for (i = 0; i < b->n; i++)
		if (b->v[i].q.type == type &&
		    name_eq(b->v[i].q.name, strlen(b->v[i].q.name),
			    name, strlen(name)))
			return b->v[i].q.id;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		slot *v = realloc(b->v, cap * sizeof *v);

		if (v == NULL) {
			c->failed = 1;
			return 0;
		}
		b->v = v;
		b->cap = cap;
	}
	s = &b->v[b->n];
	s->q.name = arena_strndup(&c->mem, name, strlen(name));
	if (s->q.name == NULL) {
		c->failed = 1;
		return 0;
	}
	s->q.type = type;
	s->q.id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	s->ans = NULL;
	b->n++;
	return s->q.id;
}

const mauth_answer *check_got(const mauth_check *c, unsigned id)
{
	size_t i;

	for (i = 0; i < c->done.n; i++)
		if (c->done.v[i].q.id == id)
			return c->done.v[i].ans;
	return NULL;
}

arena *check_arena(mauth_check *c)
{
	return &c->mem;
}

mauth_value *check_result(mauth_check *c)
{
	if (c->result == NULL)
		c->result = val_new(&c->mem, MAUTH_V_MAP);
	if (c->result == NULL)
		c->failed = 1;
	return c->result;
}

int mauth_check_step(mauth_check *c)
{
	batch tmp;
	size_t i;
	int rc;

	if (c == NULL)
		return MAUTH_EINVAL;
	if (c->failed || c->mem.failed)
		return MAUTH_ENOMEM;
	if (c->result != NULL && c->open.n == 0)
		return MAUTH_DONE;
	for (i = 0; i < c->open.n; i++)
		if (c->open.v[i].ans == NULL)
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
	return MAUTH_DONE;
}

size_t mauth_check_questions(const mauth_check *c, const mauth_question **qv)
{
	mauth_check *mc = (mauth_check *)c;
	size_t i, n = 0;

	*qv = NULL;
	if (c == NULL || c->open.n == 0)
		return 0;
	free(mc->view);
	mc->view = malloc(c->open.n * sizeof *mc->view);
	if (mc->view == NULL)
		return 0;
	for (i = 0; i < c->open.n; i++)
		if (c->open.v[i].ans == NULL)
			mc->view[n++] = c->open.v[i].q;
	*qv = mc->view;
	return n;
}

int mauth_check_answer(mauth_check *c, unsigned id, const mauth_answer *a)
{
	size_t i;

	if (c == NULL || a == NULL)
		return MAUTH_EINVAL;
	for (i = 0; i < c->open.n; i++) {
		slot *s = &c->open.v[i];

		if (s->q.id != id)
			continue;
		if (s->ans != NULL)
			return MAUTH_ESTATE;
		s->ans = mauth_answer_dup(a);
		return s->ans != NULL ? 0 : MAUTH_ENOMEM;
	}
	return MAUTH_ESTATE;
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
	free(c->open.v);
	free(c->done.v);
	free(c->view);
	arena_free(&c->mem);
	free(c);
}
