/*
 * router_check.h: invariants of router_match() shared by fuzz_router.c and
 * fuzz_query.c.
 */
#ifndef DEFGATE_FUZZ_ROUTER_CHECK_H
#define DEFGATE_FUZZ_ROUTER_CHECK_H

#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "router.h"

static inline int
id_char(int c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_');
}

/* memmem for a C string needle. */
static inline int
has(const char *p, size_t n, const char *needle)
{
	return (memmem(p, n, needle, strlen(needle)) != NULL);
}

/* Check one router_match() result for method and uri (NUL-terminated). */
static inline void
router_check(const char *method, const char *uri, enum router_result r,
    const struct route_match *m)
{
	size_t		 ulen = strlen(uri), plen;
	const char	*q = strchr(uri, '?');
	int		 get = strcmp(method, "GET") == 0;
	int		 post = strcmp(method, "POST") == 0;
	int		 patch = strcmp(method, "PATCH") == 0;

	FUZZ_CHECK((unsigned)r <= ROUTER_BAD_QUERY);
	FUZZ_CHECK((unsigned)m->id < ROUTE__COUNT);
	FUZZ_CHECK(router_name(m->id) != NULL);
	FUZZ_CHECK(fuzz_terminated(m->incident_id, sizeof(m->incident_id)));
	plen = q ? (size_t)(q - uri) : ulen;

	/* a returned query lies inside the input, after the '?' */
	if (m->query != NULL) {
		FUZZ_CHECK(q != NULL && m->query == q + 1);
		FUZZ_CHECK(m->query >= uri && m->query + m->querylen <=
		    uri + ulen);
		FUZZ_CHECK(m->querylen == strlen(m->query));
	}
	switch (r) {
	case ROUTER_OK:
		FUZZ_CHECK(m->id != ROUTE_NONE);
		FUZZ_CHECK(m->reason == NULL);
		/* what is forwarded: the path, exactly one of the routes */
		FUZZ_CHECK(uri[0] == '/');
		FUZZ_CHECK(!has(uri, plen, "..") && !has(uri, plen, "\\"));
		FUZZ_CHECK(!has(uri, plen, "%2f") && !has(uri, plen, "%2F"));
		FUZZ_CHECK(!has(uri, plen, "%5c") && !has(uri, plen, "%5C"));
		FUZZ_CHECK(!has(uri, plen, "%2e") && !has(uri, plen, "%2E"));
		FUZZ_CHECK(!has(uri, plen, "//") && !has(uri, plen, "#"));
		for (size_t i = 0; i < plen; i++)
			FUZZ_CHECK((unsigned char)uri[i] > 0x20 &&
			    (unsigned char)uri[i] < 0x7f);
		if (m->query != NULL) {
			FUZZ_CHECK(m->querylen > 0);
			for (size_t i = 0; i < m->querylen; i++) {
				unsigned char c = (unsigned char)m->query[i];

				FUZZ_CHECK(c >= 0x21 && c != 0x7f && c < 0x80);
				FUZZ_CHECK(c != '#');
			}
		} else
			FUZZ_CHECK(q == NULL || q[1] == '\0');
		FUZZ_CHECK(m->is_write == (m->id == ROUTE_INCIDENT && patch));
		if (m->id == ROUTE_INCIDENT) {
			size_t n = strlen(m->incident_id);

			FUZZ_CHECK(get || patch);
			FUZZ_CHECK(n >= 1 && n <= ROUTER_MAX_ID);
			for (size_t i = 0; i < n; i++)
				FUZZ_CHECK(id_char((unsigned char)
				    m->incident_id[i]));
			FUZZ_CHECK(plen == 11 + n &&
			    memcmp(uri, "/incidents/", 11) == 0 &&
			    memcmp(uri + 11, m->incident_id, n) == 0);
		} else {
			FUZZ_CHECK(m->incident_id[0] == '\0');
			if (m->id == ROUTE_HUNTING)
				FUZZ_CHECK(get || post);
			else
				FUZZ_CHECK(get);
		}
		if (m->id == ROUTE_ASSET)
			FUZZ_CHECK(m->asset != NULL &&
			    strncmp(m->asset, "status.", 7) == 0);
		break;
	case ROUTER_BAD_METHOD:
		FUZZ_CHECK(m->allow != NULL && *m->allow != '\0');
		FUZZ_CHECK(m->id != ROUTE_NONE);
		break;
	case ROUTER_BAD_PATH:
	case ROUTER_BAD_QUERY:
		FUZZ_CHECK(m->reason != NULL && *m->reason != '\0');
		break;
	case ROUTER_NOT_FOUND:
		break;
	}
}

/*
 * router_query_param() on [query, query + n): the value, if any, is
 * NUL-terminated, no longer than the query and outlen matches.
 */
static inline void
query_param_check(const char *query, size_t n, const char *name)
{
	size_t	 outlen = 99999;
	char	*v = router_query_param(query, n, name, &outlen);

	if (v == NULL) {
		FUZZ_CHECK(outlen == 0);
		return;
	}
	FUZZ_CHECK(outlen <= n);
	FUZZ_CHECK(v[outlen] == '\0');
	free(v);
}

#endif
