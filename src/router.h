/*
 * router.c: maps a raw request line (method, path, query) to a row of the
 * route table (routes.h) and rejects unsafe paths and queries. Pure; any
 * thread.
 */
#ifndef DEFGATE_ROUTER_H
#define DEFGATE_ROUTER_H

#include <stddef.h>

#include "routes.h"

enum router_result {
	ROUTER_OK = 0,
	ROUTER_NOT_FOUND,	/* 404 */
	ROUTER_BAD_METHOD,	/* 405, see allow */
	ROUTER_BAD_PATH,	/* 400, see reason */
	ROUTER_BAD_QUERY	/* 400, see reason */
};

#define ROUTER_MAX_ID	128

struct route_match {
	int			 id;		/* row index, -1: none */
	const struct route	*route;		/* &routes[id] or NULL */
	const char		*allow;		/* Allow header value */
	const char		*reason;	/* static text for 400 */
	char			 item_id[ROUTER_MAX_ID + 1];	/* "{id}" */
	const char		*query;		/* raw query after '?' or NULL */
	size_t			 querylen;
	int			 is_write;	/* a ROUTE_WRITE row */
	int			 is_get;
};

/* uri is the raw request-target as received ("/path?query"). */
enum router_result router_match(const char *method, const char *uri,
	    struct route_match *);
/* The row's name for counters and logs; "other" for -1 or out of range. */
const char	*router_name(int id);
/*
 * Find a query parameter and percent-decode it ('+' is a space).
 * Returns a malloc'd string, or NULL when absent or badly encoded.
 */
char		*router_query_param(const char *query, size_t querylen,
		    const char *name, size_t *outlen);

#endif
