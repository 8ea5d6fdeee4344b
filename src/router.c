/*
 * router.c: request-target validation and routing. Pure; any thread.
 *
 * Works on the raw request-target as received, before any decoding, so what
 * is checked is exactly what would be forwarded. Anything that could walk
 * out of the intended upstream path (dot segments, encoded '/', '\' or '.',
 * control bytes) is refused with a reason and never forwarded.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

const char *
router_name(int id)
{
	if (id < 0 || id >= nroutes)
		return ("other");
	return (routes[id].name);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* The path part: printable ASCII, no '\', no dot segments, no %2F/%5C/%2E. */
static const char *
path_check(const char *p, size_t n)
{
	size_t seg = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c >= 0x7f)
			return ("the path contains control, space or non-ASCII "
			    "bytes");
		if (c == '\\')
			return ("the path contains a backslash");
		if (c == '#')
			return ("the path contains a fragment");
		if (c == '%') {
			int hi, lo, d;

			if (i + 2 >= n)
				return ("the path contains a bad percent "
				    "escape");
			hi = hexval((unsigned char)p[i + 1]);
			lo = hexval((unsigned char)p[i + 2]);
			if (hi < 0 || lo < 0)
				return ("the path contains a bad percent "
				    "escape");
			d = hi * 16 + lo;
			if (d == '/' || d == '\\' || d == '.' || d < 0x20 ||
			    d == 0x7f || d == '%')
				return ("the path contains an encoded '/', "
				    "'\\', '.', '%' or control byte");
		}
		if (c == '/') {
			size_t len = i - seg;

			if ((len == 1 && p[seg] == '.') ||
			    (len == 2 && p[seg] == '.' && p[seg + 1] == '.'))
				return ("the path contains a dot segment");
			seg = i + 1;
		}
	}
	if ((n - seg == 1 && p[seg] == '.') ||
	    (n - seg == 2 && p[seg] == '.' && p[seg + 1] == '.'))
		return ("the path contains a dot segment");
	return (NULL);
}

static const char *
query_check(const char *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)q[i];

		if (c <= 0x20 || c == 0x7f)
			return ("the query contains control characters or "
			    "spaces: percent-encode them");
		if (c >= 0x80)
			return ("the query contains raw non-ASCII bytes: "
			    "percent-encode them");
		if (c == '#')
			return ("the query contains a fragment");
	}
	return (NULL);
}

static int
id_ok(const char *s, size_t n)
{
	if (n == 0 || n > ROUTER_MAX_ID)
		return (0);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return (0);
	return (1);
}

/*
 * Match path[0..n) against a row's pattern, where "{id}" stands for one
 * segment. 0: no match; 1: match (the id, if any, copied to id); -1: the
 * shape matches but the id is not acceptable.
 */
static int
pattern_match(const char *pat, const char *p, size_t n, char *id)
{
	const char	*end = p + n;
	int		 bad = 0;

	while (*pat) {
		if (strncmp(pat, "{id}", 4) == 0) {
			const char	*seg = p;
			size_t		 len;

			while (p < end && *p != '/')
				p++;
			len = (size_t)(p - seg);
			if (len == 0)
				return (0);
			if (!id_ok(seg, len))
				bad = 1;
			else {
				memcpy(id, seg, len);
				id[len] = '\0';
			}
			pat += 4;
			continue;
		}
		if (p == end || *p != *pat)
			return (0);
		p++;
		pat++;
	}
	if (p != end)
		return (0);
	return (bad ? -1 : 1);
}

enum router_result
router_match(const char *method, const char *uri, struct route_match *m)
{
	const char	*q, *path = uri;
	size_t		 plen;
	int		 shape = -1, badid = 0;

	memset(m, 0, sizeof(*m));
	m->id = -1;
	if (uri == NULL || uri[0] != '/') {
		m->reason = "only origin-form request targets (\"/path\") are "
		    "accepted: defgate is not a forward proxy";
		return (ROUTER_BAD_PATH);
	}
	q = strchr(uri, '?');
	plen = q ? (size_t)(q - uri) : strlen(uri);
	if ((m->reason = path_check(path, plen)) != NULL)
		return (ROUTER_BAD_PATH);
	if (q) {
		m->query = q + 1;
		m->querylen = strlen(q + 1);
		if ((m->reason = query_check(m->query, m->querylen)) != NULL)
			return (ROUTER_BAD_QUERY);
		if (m->querylen == 0)
			m->query = NULL;
	}
	m->is_get = strcmp(method, "GET") == 0;
	for (int i = 0; i < nroutes; i++) {
		int r = pattern_match(routes[i].path, path, plen,
		    m->item_id);

		if (r == 0)
			continue;
		if (shape == -1)
			shape = i;
		if (strcmp(routes[i].method, method) != 0)
			continue;
		if (r == -1) {
			badid = 1;
			continue;
		}
		m->id = i;
		m->route = &routes[i];
		m->allow = routes_allow(i);
		m->is_write = (routes[i].flags & ROUTE_WRITE) != 0;
		return (ROUTER_OK);
	}
	m->item_id[0] = '\0';
	if (shape == -1)
		return (ROUTER_NOT_FOUND);
	m->id = shape;
	m->route = &routes[shape];
	m->allow = routes_allow(shape);
	if (badid) {
		m->reason = "the id must be 1 to 128 letters, digits, '-' or "
		    "'_'";
		return (ROUTER_BAD_PATH);
	}
	return (ROUTER_BAD_METHOD);
}

char *
router_query_param(const char *query, size_t querylen, const char *name,
    size_t *outlen)
{
	size_t		 nlen = strlen(name), i = 0;
	const char	*end = query ? query + querylen : NULL;

	*outlen = 0;
	while (query && query < end) {
		const char	*amp = memchr(query, '&', (size_t)(end - query));
		const char	*pend = amp ? amp : end;
		const char	*eq = memchr(query, '=', (size_t)(pend - query));
		size_t		 klen = (size_t)((eq ? eq : pend) - query);

		if (klen == nlen && memcmp(query, name, nlen) == 0) {
			const char	*v = eq ? eq + 1 : pend;
			size_t		 vlen = (size_t)(pend - v);
			char		*out = malloc(vlen + 1);

			if (out == NULL)
				return (NULL);
			for (size_t j = 0; j < vlen; j++) {
				if (v[j] == '+')
					out[i++] = ' ';
				else if (v[j] == '%') {
					int hi, lo;

					if (j + 2 >= vlen)
						goto bad;
					hi = hexval((unsigned char)v[j + 1]);
					lo = hexval((unsigned char)v[j + 2]);
					if (hi < 0 || lo < 0)
						goto bad;
					out[i++] = (char)(hi * 16 + lo);
					j += 2;
				} else
					out[i++] = v[j];
			}
			out[i] = '\0';
			*outlen = i;
			return (out);
bad:
			free(out);
			return (NULL);
		}
		query = amp ? amp + 1 : end;
	}
	return (NULL);
}
