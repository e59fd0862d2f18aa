/*
 * spf_libspf2_bench.c - the same evaluation as spf_bench.c with libspf2
 * 1.2.10 and its in-memory zone layer (Debian libspf2-dev):
 *   gcc -O2 bench/spf_libspf2_bench.c -lspf2 -o /tmp/spf_libspf2_bench
 */
#include <stdio.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <spf2/spf.h>
#include <spf2/spf_dns_zone.h>
int main(void) {
  SPF_dns_server_t *z = SPF_dns_zone_new(NULL, "bench", 0);
  SPF_dns_zone_add_str(z, "example.com", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:10.0.0.0/8 include:_spf.example.com mx a:mail.example.com -all");
  SPF_dns_zone_add_str(z, "_spf.example.com", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:172.16.0.0/12 ip6:2001:db8::/32 ~all");
  SPF_dns_zone_add_str(z, "example.com", ns_t_mx, NETDB_SUCCESS, "mx1.example.com");
  SPF_dns_zone_add_str(z, "example.com", ns_t_mx, NETDB_SUCCESS, "mx2.example.com");
  SPF_dns_zone_add_str(z, "mx1.example.com", ns_t_a, NETDB_SUCCESS, "192.0.2.10");
  SPF_dns_zone_add_str(z, "mx2.example.com", ns_t_a, NETDB_SUCCESS, "192.0.2.11");
  SPF_dns_zone_add_str(z, "mail.example.com", ns_t_a, NETDB_SUCCESS, "192.0.2.25");
  SPF_server_t *s = SPF_server_new_dns(z, 0);
  struct timespec t0, t1; int n = 100000;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++) {
    SPF_request_t *rq = SPF_request_new(s);
    SPF_response_t *rp = NULL;
    SPF_request_set_ipv4_str(rq, "192.0.2.25");
    SPF_request_set_helo_dom(rq, "mx.example.com");
    SPF_request_set_env_from(rq, "a@example.com");
    SPF_request_query_mailfrom(rq, &rp);
    if (i == n - 1) printf("%s\n", SPF_strresult(SPF_response_result(rp)));
    SPF_response_free(rp);
    SPF_request_free(rq);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double sec = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("libspf2: %d evals in %.3f s = %.0f/s\n", n, sec, n / sec);
  return 0;
}
