/*
 * kinds.c - the registry of check kinds: the one file that knows every
 * protocol.  A new protocol is one check_vt here; the binding and the
 * drivers do not change.  The core (src/core/) stays free of protocol
 * code because the registry and the process-wide caches of the protocols
 * are named here, not in check.c.
 */
#include <string.h>
#include "core/internal.h"
#include "core/crypto.h"
#include "spf/spf.h"

static const check_vt *const kinds[] = {
	&mauth_iprev_vt, &mauth_ptr_vt, &mauth_spf_vt,
	&mauth_dmarc_vt, &mauth_org_domain_vt, &mauth_authres_parse_vt,
	&mauth_dkim_verify_vt, &mauth_dkim_sign_vt, &mauth_message_info_vt,
	&mauth_arc_verify_vt, &mauth_arc_seal_vt,
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

static const char *kind_names[NKINDS + 1];

const check_vt *check_kind_find(const char *kind)
{
	size_t i;

	for (i = 0; kind != NULL && i < NKINDS; i++)
		if (kinds[i]->kind[0] == kind[0] &&
		    strcmp(kinds[i]->kind, kind) == 0)
			return kinds[i];
	return NULL;
}

const char *const *mauth_check_kinds(void)
{
	size_t i;

	for (i = 0; i < NKINDS; i++)
		kind_names[i] = kinds[i]->kind;
	return kind_names;
}

void mauth_caches_clear(void)
{
	crypto_keycache_clear();
	spf_cache_clear();
}
