/*
 * router.c: maps a raw request line (method, path, query) to a route and
 * rejects unsafe paths and queries. Pure; any thread.
 */
#ifndef DEFGATE_ROUTER_H
#define DEFGATE_ROUTER_H

#include <stddef.h>

enum route_id {
	ROUTE_NONE = 0,
	ROUTE_INCIDENTS,	/* GET /incidents */
	ROUTE_INCIDENT,		/* GET|PATCH /incidents/{id} */
	ROUTE_HUNTING,		/* GET|POST /hunting */
	ROUTE_STATUS,		/* GET /status (HTML) */
	ROUTE_STATUS_JSON,	/* GET /status.json */
	ROUTE_ASSET,		/* GET /status.css, /status.js */
	ROUTE_HEALTHZ,
	ROUTE_READYZ,
	ROUTE__COUNT
};

enum router_result {
	ROUTER_OK = 0,
	ROUTER_NOT_FOUND,	/* 404 */
	ROUTER_BAD_METHOD,	/* 405, see allow */
	ROUTER_BAD_PATH,	/* 400, see reason */
	ROUTER_BAD_QUERY	/* 400, see reason */
};

#define ROUTER_MAX_ID	128

struct route_match {
	enum route_id	 id;
	const char	*allow;		/* Allow header value */
	const char	*reason;	/* static text for 400 */
	char		 incident_id[ROUTER_MAX_ID + 1];
	const char	*query;		/* raw query after '?' or NULL */
	size_t		 querylen;
	int		 is_write;	/* PATCH */
	int		 is_get;
	const char	*asset;		/* file name for ROUTE_ASSET */
};

/* uri is the raw request-target as received ("/path?query"). */
enum router_result router_match(const char *method, const char *uri,
	    struct route_match *);
/* Stable short names for counters and logs ("incidents", "hunting"...). */
const char	*router_name(enum route_id);
/*
 * Find a query parameter and percent-decode it ('+' is a space).
 * Returns a malloc'd string, or NULL when absent or badly encoded.
 */
char		*router_query_param(const char *query, size_t querylen,
		    const char *name, size_t *outlen);

#endif
