/*
 * keycache_threads.c - DKIM verification from several threads at once
 * while another thread keeps emptying the process-wide key cache
 * (mauth_caches_clear).  Every result must equal the expected one.
 * Run by spec/dkim_keycache_threads_spec.lua, which writes the inputs.
 *
 * usage: keycache_threads DIR THREADS PASSES
 *        keycache_threads slots TYPE < texts   (TYPE 1 rsa, 2 ed25519)
 *   DIR/zone.txt    master-file text with the key records
 *   DIR/cases.txt   "<message file>\t<expected result>" lines
 * Each worker has its own zone resolver and verifies every case PASSES
 * times, in its own order (so threads meet on different slots).  Prints
 * "ok <verifications> <clears>" and exits 0, or describes the first wrong
 * result on stderr and exits 1 (2: bad usage or input).
 *
 * "slots" prints, for each p= text read (one a line), the cache slot
 * src/core/crypto.c gives it (crypto_keycache_slot): the spec uses it to
 * publish texts of different keys that compete for the same slot.
 */
#define STRESS_NAME "keycache_threads"
#include "stress.h"
#include "core/crypto.h"

#define MAX_CASES 4096

typedef struct {
	char *msg;
	size_t len;
	char expected[32];
	char name[128];
} test_case;

static test_case cases[MAX_CASES];
static size_t ncases;

/* One "file<TAB>expected" line of cases.txt: the message read from DIR/file. */
static void read_case(const char *dir, char *line)
{
	char path[4096], *tab = strchr(line, '\t');
	test_case *c = &cases[ncases];

	if (tab == NULL || ncases == MAX_CASES)
		fail_input("bad cases.txt line", line);
	*tab = '\0';
	snprintf(c->name, sizeof c->name, "%s", line);
	snprintf(c->expected, sizeof c->expected, "%s", tab + 1);
	snprintf(path, sizeof path, "%s/%s", dir, line);
	c->msg = slurp(path, &c->len);
	ncases++;
}

/* The first signature's result into out. */
static int verify(mauth_resolver *res, const test_case *tc, char *out,
		  size_t outlen)
{
	mauth_opts *o = mauth_opts_new();
	mauth_check *c;
	const mauth_value *r, *sigs, *v = NULL;
	char err[256] = "out of memory";
	int rc;

	mauth_opts_ref(o, "message", tc->msg, tc->len);
	mauth_opts_int(o, "now", 1700000000);
	mauth_opts_bool(o, "allow_sha1", 1);	/* the Mail::DKIM rsa-sha1 cases */
	mauth_opts_bool(o, "legacy_versions", 1);	/* their signatures have no v= */
	rc = mauth_opts_tree(o) != NULL ?
	     mauth_check_new(&c, "dkim_verify", mauth_opts_tree(o), err, sizeof err) : -1;
	mauth_opts_free(o);
	if (rc != 0) {
		snprintf(out, outlen, "check_new: %s", err);
		return -1;
	}
	if (mauth_check_run(c, res, 0) < 0) {
		mauth_check_free(c);
		snprintf(out, outlen, "check_run failed");
		return -1;
	}
	r = mauth_check_result(c);
	sigs = r != NULL ? mauth_value_get(r, "signatures") : NULL;
	if (sigs != NULL && sigs->child != NULL)
		v = mauth_value_get(sigs->child, "result");
	snprintf(out, outlen, "%.*s", v != NULL ? (int)v->len : 4,
		 v != NULL ? v->str : "none");
	mauth_check_free(c);
	return 0;
}

static void stress_check(mauth_resolver *res, size_t k, char *got, size_t cap)
{
	verify(res, &cases[k], got, cap);
}

static const char *stress_want(size_t k)
{
	return cases[k].expected;
}

static const char *stress_label(size_t k)
{
	return cases[k].name;
}

static int print_slots(int type)
{
	char line[4096];

	while (fgets(line, sizeof line, stdin) != NULL) {
		size_t n = strcspn(line, "\n");

		printf("%u\n", crypto_keycache_slot(type, line, n));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "slots") == 0)
		return print_slots(atoi(argv[2]));
	if (argc != 4)
		fail_input("usage", "keycache_threads DIR THREADS PASSES");
	stress_read_zone(argv[1]);
	free(stress_read_cases(argv[1], read_case));
	/* no pause between two clears: keys and contexts taken and given
	 * back while their slot empties */
	return stress_main(argv[1], argv[2], argv[3], ncases, 0);
}
