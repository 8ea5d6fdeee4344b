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
	FUZZ_CHECK(m->id >= -1 && m->id < nroutes);
	FUZZ_CHECK(m->route == (m->id >= 0 ? &routes[m->id] : NULL));
	FUZZ_CHECK(router_name(m->id) != NULL);
	FUZZ_CHECK(fuzz_terminated(m->item_id, sizeof(m->item_id)));
	plen = q ? (size_t)(q - uri) : ulen;

	/* a returned query lies inside the input, after the '?' */
	if (m->query != NULL) {
		FUZZ_CHECK(q != NULL && m->query == q + 1);
		FUZZ_CHECK(m->query >= uri && m->query + m->querylen <=
		    uri + ulen);
		FUZZ_CHECK(m->querylen == strlen(m->query));
	}
	switch (r) {
	case ROUTER_OK: {
		const struct route	*rt = m->route;
		const char		*idp;
		size_t			 n = strlen(m->item_id);

		FUZZ_CHECK(rt != NULL);
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
		FUZZ_CHECK(strcmp(rt->method, method) == 0);
		FUZZ_CHECK(m->is_write == ((rt->flags & ROUTE_WRITE) != 0));
		FUZZ_CHECK(!m->is_write || patch || post);
		/* the path is the row's pattern with the id put in */
		if ((idp = strstr(rt->path, "{id}")) != NULL) {
			size_t pre = (size_t)(idp - rt->path);

			FUZZ_CHECK(n >= 1 && n <= ROUTER_MAX_ID);
			for (size_t i = 0; i < n; i++)
				FUZZ_CHECK(id_char((unsigned char)
				    m->item_id[i]));
			FUZZ_CHECK(plen == strlen(rt->path) - 4 + n &&
			    memcmp(uri, rt->path, pre) == 0 &&
			    memcmp(uri + pre, m->item_id, n) == 0 &&
			    memcmp(uri + pre + n, idp + 4, plen - pre - n) ==
			    0);
		} else {
			FUZZ_CHECK(n == 0);
			FUZZ_CHECK(plen == strlen(rt->path) &&
			    memcmp(uri, rt->path, plen) == 0);
		}
		FUZZ_CHECK(get || post || patch);
		if (rt->kind == RK_ASSET)
			FUZZ_CHECK(rt->asset != NULL &&
			    strncmp(rt->asset, "status.", 7) == 0);
		break;
	}
	case ROUTER_BAD_METHOD:
		FUZZ_CHECK(m->allow != NULL && *m->allow != '\0');
		FUZZ_CHECK(m->route != NULL);
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
