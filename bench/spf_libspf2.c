/*
 * spf_libspf2.c - libspf2 on the synthetic SPF zone, answered from memory
 * by libspf2's own zone layer (SPF_dns_zone_new / SPF_dns_zone_add_str), so
 * no resolver is involved.  Note: that layer is a linear list (libspf2 calls
 * it "a proof-of-concept static zone"); with ~400 records each lookup scans
 * it, which is part of what is measured here.  LAYER "cache" puts libspf2's
 * own hash-cache layer (SPF_dns_cache_new) in front of the zone, as a
 * server would run it: a fair DNS layer, each answer found by hash after
 * its first lookup.
 *
 * usage: spf_libspf2 check|bench SECONDS LAYER RRFILE CASEFILE
 * LAYER: zone | cache
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>
#include <spf2/spf_dns_cache.h>
#include "bench.h"

typedef struct {
	SPF_server_t *server;
	char **cases;
	size_t ncases;
	int print;
} ctx;

static const char *evaluate(SPF_server_t *server, const char *ip,
			    const char *sender, const char *helo)
{
	static char out[32];
	SPF_request_t *req = SPF_request_new(server);
	SPF_response_t *resp = NULL;
	SPF_errcode_t err;

	if (req == NULL)
		die("libspf2", "SPF_request_new");
	if (strchr(ip, ':') != NULL)
		err = SPF_request_set_ipv6_str(req, ip);
	else
		err = SPF_request_set_ipv4_str(req, ip);
	if (err != SPF_E_SUCCESS)
		die("libspf2: bad ip", ip);
	SPF_request_set_helo_dom(req, helo);
	/* An empty sender becomes postmaster@helo (RFC 7208 §2.4). */
	SPF_request_set_env_from(req, sender);
	SPF_request_query_mailfrom(req, &resp);
	snprintf(out, sizeof out, "%s",
		 resp != NULL ? SPF_strresult(SPF_response_result(resp)) : "(null)");
	SPF_response_free(resp);
	SPF_request_free(req);
	return out;
}

static long pass(void *p)
{
	ctx *x = p;
	size_t i;

	for (i = 0; i < x->ncases; i++) {
		const char *r = evaluate(x->server, x->cases[i * 3],
					 x->cases[i * 3 + 1], x->cases[i * 3 + 2]);

		if (x->print)
			printf("%s\n", r);
	}
	return (long)x->ncases;
}

static ns_type rrtype(const char *t)
{
	if (strcmp(t, "A") == 0)
		return ns_t_a;
	if (strcmp(t, "AAAA") == 0)
		return ns_t_aaaa;
	if (strcmp(t, "MX") == 0)
		return ns_t_mx;
	if (strcmp(t, "TXT") == 0)
		return ns_t_txt;
	if (strcmp(t, "PTR") == 0)
		return ns_t_ptr;
	die("libspf2: unsupported type", t);
	return ns_t_invalid;
}

int main(int argc, char **argv)
{
	SPF_dns_server_t *dns;
	char **rr;
	size_t nrr, i;
	double seconds = 0;
	int bench = argc > 1 && strcmp(argv[1], "bench") == 0;
	ctx x;

	const char *layer;

	if (argc != (bench ? 6 : 5))
		die("usage", "spf_libspf2 check|bench SECONDS LAYER RRFILE CASEFILE");
	if (bench)
		seconds = atof(argv[2]);
	layer = argv[bench ? 3 : 2];
	argv += 1;	/* the rest as before the LAYER argument */
	nrr = split_tsv(slurp(argv[bench ? 3 : 2], NULL), 3, &rr);
	dns = SPF_dns_zone_new(NULL, "bench", 0);
	if (dns == NULL)
		die("libspf2", "SPF_dns_zone_new");
	for (i = 0; i < nrr; i++)
		if (SPF_dns_zone_add_str(dns, rr[i * 3], rrtype(rr[i * 3 + 1]),
					 NETDB_SUCCESS, rr[i * 3 + 2]) != SPF_E_SUCCESS)
			die("libspf2: cannot add record", rr[i * 3]);
	if (strcmp(layer, "cache") == 0) {
		/* 2^10 buckets: room for the ~400 records many times over */
		dns = SPF_dns_cache_new(dns, "cache", 0, 10);
		if (dns == NULL)
			die("libspf2", "SPF_dns_cache_new");
	} else if (strcmp(layer, "zone") != 0) {
		die("libspf2: LAYER is zone or cache", layer);
	}
	x.server = SPF_server_new_dns(dns, 0);
	if (x.server == NULL)
		die("libspf2", "SPF_server_new_dns");
	x.ncases = split_tsv(slurp(argv[bench ? 4 : 3], NULL), 3, &x.cases);
	x.print = !bench;
	bench_or_check(bench, seconds, pass, &x);
	SPF_server_free(x.server);
	return 0;
}
