/*
 * fuzz_names.c - DNS names and IP addresses, the text that checks turn
 * into questions.  Properties checked:
 *   - ip_parse, then ip_format, parses back to the same address;
 *   - every address (also raw bytes from the input) has a reverse name
 *     that name_is_valid accepts, and parse(format(ip)) == ip;
 *   - a name that name_is_valid accepts can be put on the wire by
 *     mauth_wire_query, one it rejects cannot; and name -> wire -> text
 *     -> wire gives the same message (the escapes agree both ways).
 */
#include <string.h>
#include "fuzz.h"
#include "dns/dnswire.h"

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int same_ignoring_case(const unsigned char *a, const unsigned char *b,
			      size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

static void check_address(const ipaddr *ip)
{
	char text[64], rev[80];
	size_t n;
	ipaddr back;

	n = ip_format(ip, text, sizeof text);
	FUZZ_ASSERT(n > 0 && n == strlen(text));
	FUZZ_ASSERT(ip_parse(text, n, &back) == 0);
	FUZZ_ASSERT(back.family == ip->family);
	FUZZ_ASSERT(memcmp(back.b, ip->b, ip->family == 4 ? 4 : 16) == 0);
	FUZZ_ASSERT(ip_equal_text(ip, text, n));
	n = ip_reverse_name(ip, rev, sizeof rev);
	FUZZ_ASSERT(n > 0 && n == strlen(rev));
	FUZZ_ASSERT(name_is_valid(rev, n));
	FUZZ_ASSERT(ip_in_net(ip, ip, ip->family == 4 ? 32 : 128));
	FUZZ_ASSERT(ip_in_net(ip, &back, 0));
}

/* An address from raw input bytes: byte 0 picks the family. */
static void check_raw_address(const uint8_t *data, size_t size)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	ipaddr ip;

	if (size < 17)
		return;
	memset(&ip, 0, sizeof ip);
	ip.family = data[0] & 1 ? 6 : 4;
	memcpy(ip.b, data + 1, ip.family == 4 ? 4 : 16);
	/* ip_parse turns a mapped address into IPv4: so do we. */
	if (ip.family == 6 && memcmp(ip.b, mapped, sizeof mapped) == 0) {
		ip.family = 4;
		memmove(ip.b, ip.b + 12, 4);
		memset(ip.b + 4, 0, 12);
	}
	check_address(&ip);
}

static void check_name(const char *name, size_t len, int type)
{
	unsigned char wire[1024], again[1024];
	char text[1100];
	ldns_pkt *pkt = NULL;
	int n, m, qtype;
	size_t tlen;

	n = mauth_wire_query(name, type, 4242, wire, sizeof wire);
	if (!name_is_valid(name, len)) {
		FUZZ_ASSERT(n < 0);
		return;
	}
	FUZZ_ASSERT(n > 12);
	FUZZ_ASSERT(ldns_wire2pkt(&pkt, wire, (size_t)n) == LDNS_STATUS_OK);
	FUZZ_ASSERT(pkt_question(pkt, text, sizeof text, &qtype) == 0);
	FUZZ_ASSERT(qtype == type);
	ldns_pkt_free(pkt);
	tlen = strlen(text);
	FUZZ_ASSERT(name_is_valid(text, tlen));
	m = mauth_wire_query(text, type, 4242, again, sizeof again);
	FUZZ_ASSERT(m == n);
	FUZZ_ASSERT(same_ignoring_case(wire, again, (size_t)n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char *name;
	ipaddr ip;

	(void)name_is_valid(s, size);
	if (ip_parse(s, size, &ip) == 0)
		check_address(&ip);
	check_raw_address(data, size);
	if (size == 0 || memchr(data, '\0', size) != NULL || size > 4096)
		return 0;
	name = malloc(size + 1);
	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	check_name(name, size, size % 2 ? MAUTH_T_TXT : MAUTH_T_PTR);
	free(name);
	return 0;
}
