/*
 * idn.c - domain names written in U-labels, turned into A-labels for
 * lookups and comparisons (RFC 5890 §2.3.2.1; RFC 8616 §4: SPF, DKIM and
 * DMARC names with U-labels are looked up as their A-labels).  The
 * mapping is UTS #46 non-transitional processing with NFC of the input,
 * by libidn2 (IDNA2008).  An all-ASCII name is returned as it is, so
 * nothing changes for the names almost all mail carries.
 */
#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include "core/internal.h"

int name_to_alabels(arena *a, const char *s, size_t len, const char **out,
		    size_t *outlen)
{
	char *in, *ascii = NULL;
	size_t i;
	int rc;

	*out = s;
	*outlen = len;
	for (i = 0; i < len && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == len)
		return 0;
	if (memchr(s, '\0', len) != NULL)
		return 1;
	in = arena_strndup(a, s, len);
	if (in == NULL)
		return MAUTH_ENOMEM;
	rc = idn2_to_ascii_8z(in, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc == IDN2_MALLOC)
		return MAUTH_ENOMEM;
	if (rc != IDN2_OK || ascii == NULL) {
		free(ascii);
		return 1;
	}
	*outlen = strlen(ascii);
	*out = arena_strndup(a, ascii, *outlen);
	idn2_free(ascii);
	return *out == NULL ? MAUTH_ENOMEM : 0;
}
