/*
 * ip_text_oracle.c - the core's IP text parser and writer (src/core/ip.c)
 * against the C library's inet_pton / inet_ntop, the behaviour they were
 * written to reproduce: random strings over the address alphabet, real
 * address texts with one byte changed or added, and addresses rich in zero
 * groups (where "::" and the dotted tail are chosen).  Fixed seed, so a
 * failure repeats.  Prints the first differences and "N passed, N failed".
 *
 * usage: ip_text_oracle ROUNDS
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

static unsigned long long seed = 88172645463325252ULL;

static unsigned rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (unsigned)seed;
}

static const char alpha[] = "0123456789abcdefABCDEF:::::....xg";
static long passed, failed;

static void differ(const char *what, const char *s, const char *mine,
		   const char *libc)
{
	if (failed++ < 10)
		printf("%s '%s': mine %s, libc %s\n", what, s, mine, libc);
}

/* A random 16 bytes, mostly zero groups, sometimes mapped or compatible. */
static void some_address(unsigned char b[16])
{
	int k;

	for (k = 0; k < 8; k++) {
		unsigned v = rnd() % 2 ? 0 : rnd() % 3 == 0 ? 0xffff :
			     rnd() % 2 ? 1 : rnd() & 0xffff;

		b[2 * k] = (unsigned char)(v >> 8);
		b[2 * k + 1] = (unsigned char)v;
	}
	if (rnd() % 5 == 0) {
		memset(b, 0, 10);
		b[10] = b[11] = 0xff;
	} else if (rnd() % 5 == 0) {
		memset(b, 0, 12);
	}
}

static void check_format(const unsigned char b[16])
{
	ipaddr ip;
	char mine[64], libc[64];

	ip.family = 6;
	memcpy(ip.b, b, 16);
	ip_format(&ip, mine, sizeof mine);
	inet_ntop(AF_INET6, b, libc, sizeof libc);
	if (strcmp(mine, libc) != 0)
		differ("format", libc, mine, libc);
	else
		passed++;
}

static void check_parse(const char *s)
{
	unsigned char r4[4], r6[16];
	int libc4 = inet_pton(AF_INET, s, r4) == 1;
	int libc6 = !libc4 && inet_pton(AF_INET6, s, r6) == 1;
	ipaddr ip;
	int mine = ip_parse(s, strlen(s), &ip) == 0;

	if (mine != (libc4 || libc6)) {
		differ("parse", s, mine ? "address" : "none",
		       libc4 || libc6 ? "address" : "none");
		return;
	}
	if (libc4 && (ip.family != 4 || memcmp(ip.b, r4, 4) != 0)) {
		differ("parse", s, "other bytes", "IPv4");
		return;
	}
	if (libc6 && ip.family == 6 && memcmp(ip.b, r6, 16) != 0) {
		differ("parse", s, "other bytes", "IPv6");
		return;
	}
	if (libc6 && ip.family == 4 && memcmp(ip.b, r6 + 12, 4) != 0) {
		differ("parse", s, "other mapped bytes", "IPv6");
		return;
	}
	passed++;
	if (ip.family == 6)
		check_format(ip.b);
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 100000, i;
	char s[64];

	for (i = 0; i < rounds; i++) {
		unsigned char b[16];
		int len, k;

		/* any string over the alphabet */
		len = (int)(rnd() % 24);
		for (k = 0; k < len; k++)
			s[k] = alpha[rnd() % (sizeof alpha - 1)];
		s[len] = '\0';
		check_parse(s);
		/* a real address text, perhaps with a byte changed or added */
		some_address(b);
		check_format(b);
		inet_ntop(AF_INET6, b, s, sizeof s);
		if (rnd() % 2 == 0)
			for (k = 0; s[k] != '\0'; k++)
				if (s[k] >= 'a' && s[k] <= 'f' && rnd() % 2)
					s[k] = (char)(s[k] - 32);
		check_parse(s);
		len = (int)strlen(s);
		if (rnd() % 2)
			s[rnd() % (unsigned)len] = alpha[rnd() % (sizeof alpha - 1)];
		if (rnd() % 3 == 0) {
			s[len] = alpha[rnd() % (sizeof alpha - 1)];
			s[len + 1] = '\0';
		}
		check_parse(s);
	}
	printf("%ld passed, %ld failed\n", passed, failed);
	return failed != 0;
}
