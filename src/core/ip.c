/*
 * ip.c - IP addresses: parsing, text, reverse-lookup names, CIDR matching.
 */
#include <arpa/inet.h>
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

int ip_parse(const char *s, size_t len, ipaddr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char b[16];

	if (s != NULL && ip_parse_v4(s, len, b) == 0) {
		/* the common case, without a copy and inet_pton */
		out->family = 4;
		memset(out->b, 0, sizeof out->b);
		memcpy(out->b, b, 4);
		return 0;
	}
	if (s == NULL || len == 0 || len >= sizeof buf || memchr(s, '\0', len))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, b) == 1) {
		out->family = 4;
		memset(out->b, 0, sizeof out->b);
		memcpy(out->b, b, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, b) == 1) {
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
	return -1;
}

size_t ip_format(const ipaddr *ip, char *buf, size_t buflen)
{
	if (ip->family == 4 && buflen >= 16) {
		/* dotted decimal by hand: inet_ntop goes through sprintf */
		size_t n = 0;
		int i;

		for (i = 0; i < 4; i++) {
			unsigned v = ip->b[i];

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
	if (inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->b, buf,
		      (socklen_t)buflen) == NULL) {
		if (buflen > 0)
			buf[0] = '\0';
		return 0;
	}
	return strlen(buf);
}

size_t ip_reverse_name(const ipaddr *ip, char *buf, size_t buflen)
{
	static const char hex[] = "0123456789abcdef";
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
		buf[n++] = hex[ip->b[i] & 15];
		buf[n++] = '.';
		buf[n++] = hex[ip->b[i] >> 4];
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
