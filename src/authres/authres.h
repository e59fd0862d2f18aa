/*
 * authres/authres.h - the Authentication-Results interface the protocols
 * use (RFC 8601): each result carries "method" (the RFC 8601 §2.7 method
 * name) and "properties", a list of { ptype, property, value } maps in
 * the order the field writes them, the shape the parser (authres.c)
 * returns.  The writer of both header fields is authres_format.c.
 */
#if !defined(AUTHRES_AUTHRES_H)
#define AUTHRES_AUTHRES_H

#include "core/internal.h"

/*
 * Adds "method" (a static string) and an empty "properties" list to the
 * result map r; returns the list (NULL when out of memory).
 */
mauth_value *authres_begin(arena *a, mauth_value *r, const char *method);
/*
 * Appends { ptype, property, value } to props unless value is NULL or
 * empty.  ptype and property are static strings; value must live as long
 * as the result (a string of the same arena or a static one): no copy.
 */
void authres_prop(arena *a, mauth_value *props, const char *ptype,
		  const char *property, const char *value, size_t len);
/* The same for a string field of the result map r (when present). */
void authres_prop_of(arena *a, mauth_value *props, const char *ptype,
		     const char *property, const mauth_value *r,
		     const char *field);
/*
 * The finish of a check (check_vt) whose result has one property: method
 * and ptype.property from the string field of r (absent: no property),
 * as iprev's policy.iprev and DMARC's header.from.
 */
void authres_finish_one(mauth_check *c, mauth_value *r, const char *method,
			const char *ptype, const char *property,
			const char *field);
/* The same for a number (ARC's header.oldest-pass), written in decimal. */
void authres_prop_int(arena *a, mauth_value *props, const char *ptype,
		      const char *property, long long n);
/*
 * Adds "received_spf", the RFC 7208 §9.1 field for the SPF result r
 * (receiver may be NULL: no receiver named).
 */
void authres_received_spf(arena *a, mauth_value *r, const char *receiver);

#endif
