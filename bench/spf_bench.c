/*
 * spf_bench.c - SPF evaluations per second through the C API with the
 * offline zone resolver (same zone and question as spf_libspf2_bench.c).
 *   make LUA=lua5.4 && gcc -O2 -Isrc bench/spf_bench.c $(ls build/lua5.4/obj/*.o | grep -v lmailauth) \
 *     -lldns -lcrypto -lpsl -o /tmp/spf_bench
 * Record: ip4, include (softfail), mx with two hosts, a: that passes:
 * 6 TXT/MX/A questions in 5 steps (both MX hosts in one).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "mailauth.h"
int main(void) {
  const char *zone =
    "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns hm 1 2 3 4 5\n"
    "@ IN TXT \"v=spf1 ip4:10.0.0.0/8 include:_spf.example.com mx a:mail.example.com -all\"\n"
    "_spf IN TXT \"v=spf1 ip4:172.16.0.0/12 ip6:2001:db8::/32 ~all\"\n"
    "@ IN MX 10 mx1\n@ IN MX 20 mx2\nmx1 IN A 192.0.2.10\nmx2 IN A 192.0.2.11\nmail IN A 192.0.2.25\n";
  size_t len = strlen(zone);
  mauth_resolver *r; char err[200];
  if (mauth_resolver_new_zone(&r, &zone, &len, 1, err, sizeof err)) { puts(err); return 1; }
  mauth_opts *o = mauth_opts_new();
  mauth_opts_str(o, "ip", "192.0.2.25"); mauth_opts_str(o, "sender", "a@example.com");
  mauth_opts_str(o, "helo", "mx.example.com");
  struct timespec t0, t1; int n = 100000; const char *res = "";
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++) {
    mauth_check *c;
    if (mauth_check_new(&c, "spf", mauth_opts_tree(o), err, sizeof err)) { puts(err); return 1; }
    mauth_check_run(c, r, 0);
    res = mauth_value_get(mauth_check_result(c), "result")->str;
    if (i == n - 1) printf("%s\n", res);
    mauth_check_free(c);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%d evals in %.3f s = %.0f/s\n", n, s, n / s);
  return 0;
}
