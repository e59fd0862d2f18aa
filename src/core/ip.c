/*
 * ip.c - IP addresses: parsing, text, reverse-lookup names, CIDR matching.
 */
#include <string.h>
#include "core/internal.h"

static const unsigned char v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

int ip_parse_v4(const char *s, size_t len, unsigned char out[4])
{
	unsigned char b[4];
	size_t i = 0;
	int k;

	/*
	 * Exactly what inet_pton(AF_INET) takes: four decimal octets <= 255
	 * joined by dots, no leading zero (so never more than three digits).
	 */
	for (k = 0; k < 4; k++) {
		unsigned v;

		if (k > 0) {
			if (i >= len || s[i] != '.')
				return -1;
			i++;
		}
		if (i >= len || s[i] < '0' || s[i] > '9')
			return -1;
		v = (unsigned)(s[i++] - '0');
		if (i < len && s[i] >= '0' && s[i] <= '9') {
			if (v == 0)
				return -1;
			v = v * 10 + (unsigned)(s[i++] - '0');
			if (i < len && s[i] >= '0' && s[i] <= '9')
				v = v * 10 + (unsigned)(s[i++] - '0');
			if (v > 255 || (i < len && s[i] >= '0' && s[i] <= '9'))
				return -1;
		}
		b[k] = (unsigned char)v;
	}
	if (i != len)
		return -1;
	memcpy(out, b, 4);
	return 0;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)(ch | 32);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/*
 * IPv6 text exactly as glibc's inet_pton(AF_INET6) takes it (RFC 4291
 * §2.2): groups of 1-4 hex digits, one "::" standing for at least one
 * zero group, a dotted quad as the last 32 bits.  By hand: inet_pton
 * wants a NUL-terminated copy and costs several hundred instructions,
 * and answers of AAAA lookups are parsed per SPF term.
 */
#define NO_GAP ((size_t)-1)	/* no "::" seen */

static int ip_parse_v6(const char *s, size_t len, unsigned char out[16])
{
	unsigned char tmp[16];
	size_t i = 0, tp = 0, gap = NO_GAP, digits = 0, tok = 0;
	unsigned val = 0;

	if (len == 0)
		return -1;
	if (s[0] == ':') {
		if (len < 2 || s[1] != ':')
			return -1;
		i = 1;
	}
	tok = i;
	while (i < len) {
		char ch = s[i++];
		int d = hex_value(ch);

		if (d >= 0) {
			if (digits == 4)
				return -1;
			val = val << 4 | (unsigned)d;
			digits++;
			continue;
		}
		if (ch == ':') {
			tok = i;
			if (digits == 0) {
				if (gap != NO_GAP)
					return -1;
				gap = tp;
				continue;
			}
			if (i == len || tp + 2 > 16)
				return -1;
			tmp[tp++] = (unsigned char)(val >> 8);
			tmp[tp++] = (unsigned char)val;
			digits = 0;
			val = 0;
			continue;
		}
		if (ch == '.' && tp + 4 <= 16 &&
		    ip_parse_v4(s + tok, len - tok, tmp + tp) == 0) {
			tp += 4;
			digits = 0;
			break;
		}
		return -1;
	}
	if (digits > 0) {
		if (tp + 2 > 16)
			return -1;
		tmp[tp++] = (unsigned char)(val >> 8);
		tmp[tp++] = (unsigned char)val;
	}
	if (gap != NO_GAP) {
		size_t n = tp - gap;

		if (tp == 16)
			return -1;	/* "::" would stand for no group */
		memmove(tmp + 16 - n, tmp + gap, n);
		memset(tmp + gap, 0, 16 - n - gap);
		tp = 16;
	}
	if (tp != 16)
		return -1;
	memcpy(out, tmp, 16);
	return 0;
}

int ip_parse(const char *s, size_t len, ipaddr *out)
{
	unsigned char b[16];

	if (s == NULL)
		return -1;
	if (ip_parse_v4(s, len, b) == 0) {
		out->family = 4;
		memset(out->b, 0, sizeof out->b);
		memcpy(out->b, b, 4);
		return 0;
	}
	if (ip_parse_v6(s, len, b) != 0)
		return -1;
	/* RFC 7208 §5: a mapped address is checked as the IPv4 one. */
	if (memcmp(b, v4mapped, sizeof v4mapped) == 0) {
		out->family = 4;
		memset(out->b, 0, sizeof out->b);
		memcpy(out->b, b + 12, 4);
	} else {
		out->family = 6;
		memcpy(out->b, b, 16);
	}
	return 0;
}

static size_t format_v4(const unsigned char *b, char *buf)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned v = b[i];

		if (i > 0)
			buf[n++] = '.';
		if (v >= 100)
			buf[n++] = (char)('0' + v / 100);
		if (v >= 10)
			buf[n++] = (char)('0' + v / 10 % 10);
		buf[n++] = (char)('0' + v % 10);
	}
	buf[n] = '\0';
	return n;
}

/*
 * What glibc's inet_ntop(AF_INET6) writes (it goes through sprintf): the
 * first longest run of two or more zero groups as "::", groups in lower
 * case hex without leading zeros, and the last 32 bits as a dotted quad
 * after six zero groups or after ::ffff: (RFC 4291 §2.5.5).
 */
static size_t format_v6(const unsigned char *b, char *buf)
{
	unsigned w[8];
	int i, best = -1, bestlen = 0, cur = -1;
	size_t n = 0, k;

	for (k = 0; k < 8; k++)
		w[k] = (unsigned)b[2 * k] << 8 | b[2 * k + 1];
	for (i = 0; i <= 8; i++) {
		if (i < 8 && w[i] == 0) {
			if (cur < 0)
				cur = i;
			continue;
		}
		if (cur >= 0 && i - cur > bestlen && i - cur >= 2) {
			best = cur;
			bestlen = i - cur;
		}
		cur = -1;
	}
	for (i = 0; i < 8; i++) {
		unsigned v = w[i];
		int shift;

		if (best >= 0 && i >= best && i < best + bestlen) {
			if (i == best)
				buf[n++] = ':';
			continue;
		}
		if (i != 0)
			buf[n++] = ':';
		if (i == 6 && best == 0 &&
		    (bestlen == 6 || (bestlen == 5 && w[5] == 0xffff)))
			return n + format_v4(b + 12, buf + n);
		for (shift = 12; shift > 0 && (v >> shift) == 0; shift -= 4)
			;
		for (; shift >= 0; shift -= 4)
			buf[n++] = hex_lower[(v >> shift) & 15];
	}
	if (best >= 0 && best + bestlen == 8)
		buf[n++] = ':';
	buf[n] = '\0';
	return n;
}

size_t ip_format(const ipaddr *ip, char *buf, size_t buflen)
{
	/* by hand: inet_ntop goes through sprintf */
	if (ip->family == 4 && buflen >= 16)
		return format_v4(ip->b, buf);
	if (ip->family == 6 && buflen >= 46)
		return format_v6(ip->b, buf);
	if (buflen > 0)
		buf[0] = '\0';
	return 0;
}

size_t ip_reverse_name(const ipaddr *ip, char *buf, size_t buflen)
{
	size_t n = 0;
	int i;

	if (buflen < 74) {
		if (buflen > 0)
			buf[0] = '\0';
		return 0;
	}
	if (ip->family == 4) {
		for (i = 3; i >= 0; i--) {
			unsigned v = ip->b[i];

			if (v >= 100)
				buf[n++] = (char)('0' + v / 100);
			if (v >= 10)
				buf[n++] = (char)('0' + v / 10 % 10);
			buf[n++] = (char)('0' + v % 10);
			buf[n++] = '.';
		}
		memcpy(buf + n, "in-addr.arpa", 13);
		return n + 12;
	}
	for (i = 15; i >= 0; i--) {
		buf[n++] = hex_lower[ip->b[i] & 15];
		buf[n++] = '.';
		buf[n++] = hex_lower[ip->b[i] >> 4];
		buf[n++] = '.';
	}
	memcpy(buf + n, "ip6.arpa", 9);
	return n + 8;
}

int ip_in_net(const ipaddr *ip, const ipaddr *net, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	unsigned max = ip->family == 4 ? 32 : 128;

	if (ip->family != net->family || bits > max)
		return 0;
	if (max == 32) {
		/* one masked compare (SPF records are mostly ip4: terms) */
		uint32_t x = (uint32_t)ip->b[0] << 24 | (uint32_t)ip->b[1] << 16 |
			     (uint32_t)ip->b[2] << 8 | ip->b[3];
		uint32_t y = (uint32_t)net->b[0] << 24 | (uint32_t)net->b[1] << 16 |
			     (uint32_t)net->b[2] << 8 | net->b[3];
		uint32_t mask = bits == 0 ? 0 : 0xffffffffU << (32 - bits);

		return ((x ^ y) & mask) == 0;
	}
	if (memcmp(ip->b, net->b, whole) != 0)
		return 0;
	if (rest != 0) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));

		if ((ip->b[whole] & mask) != (net->b[whole] & mask))
			return 0;
	}
	return 1;
}

int ip_equal_text(const ipaddr *ip, const char *s, size_t len)
{
	ipaddr other;

	if (ip_parse(s, len, &other) != 0)
		return 0;
	return ip->family == other.family &&
	       memcmp(ip->b, other.b, ip->family == 4 ? 4 : 16) == 0;
}

int ip_parse_cidr(const char *s, size_t len, ipaddr *net, unsigned *bits)
{
	const char *slash = memchr(s, '/', len);
	unsigned max, b = 0;
	size_t i;

	if (slash == NULL) {
		if (ip_parse(s, len, net) != 0)
			return -1;
		*bits = net->family == 4 ? 32 : 128;
		return 0;
	}
	if (ip_parse(s, (size_t)(slash - s), net) != 0)
		return -1;
	max = net->family == 4 ? 32 : 128;
	/* ::ffff:a.b.c.d/n counts bits of the IPv6 form. */
	if (net->family == 4 && memchr(s, ':', (size_t)(slash - s)) != NULL)
		max = 128;
	i = (size_t)(slash - s) + 1;
	if (i == len || len - i > 3)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		b = b * 10 + (unsigned)(s[i] - '0');
	}
	if (b > max)
		return -1;
	if (max == 128 && net->family == 4)
		b = b >= 96 ? b - 96 : 0;
	*bits = b;
	return 0;
}

int mauth_ip_match(const char *ip, size_t iplen, const char *const *nets,
		   const size_t *lens, size_t n)
{
	ipaddr addr, net;
	unsigned bits;
	size_t i;

	if (ip_parse(ip, iplen, &addr) != 0)
		return MAUTH_EINVAL;
	for (i = 0; i < n; i++)
		if (ip_parse_cidr(nets[i], lens[i], &net, &bits) == 0 &&
		    ip_in_net(&addr, &net, bits))
			return (int)i + 1;
	return 0;
}
