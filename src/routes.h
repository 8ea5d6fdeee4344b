/*
 * routes.c: the route table, the one place that says which local requests
 * exist and where they go. The router (router.c), the dispatch (httpd.c,
 * proxy.c, upstream.c), the status page and /status.json (status.c) and
 * --check (main.c) all read it; none keeps a list of its own.
 *
 * The table is constant data; routes_allow() is computed once, on first
 * use, under pthread_once. Any thread.
 *
 * Adding a read-only route is one row here (plus a test).
 */
#ifndef DEFGATE_ROUTES_H
#define DEFGATE_ROUTES_H

#include "backend.h"

struct gw_config;

enum route_kind {
	RK_PROXY = 0,	/* forwarded to .backend at .upstream, byte for byte */
	RK_HUNT,	/* forwarded to the hunting backend (hunting.h) and
			 * answered in the Defender shape; .backend/.upstream
			 * is the legacy endpoint used when Graph is not */
	RK_STATUS_PAGE,	/* the rest are answered locally */
	RK_STATUS_JSON,
	RK_ASSET,
	RK_HEALTHZ,
	RK_READYZ,
	RK_METRICS	/* Prometheus text (telemetry.h) */
};

enum route_body {
	RB_NONE = 0,	/* no body accepted */
	RB_JSON,	/* a JSON object (PATCH) */
	RB_HUNT,	/* {"Query": "...", "Timespan"?: "..."} */
	RB_HUNT_QUERY	/* GET ?query=KQL, turned into {"Query": KQL} */
};

#define ROUTE_WRITE	0x01	/* changes data: needs allow_write */
#define ROUTE_QUERY	0x02	/* the query string is forwarded as is */
#define ROUTE_MAX_ROLES	3
#define ROUTES_MAX	32

struct route {
	const char	*name;		/* counters and logs; rows may share */
	const char	*method;	/* GET, POST or PATCH */
	const char	*path;		/* local pattern; "{id}": one segment */
	enum route_kind	 kind;
	enum backend_id	 backend;
	const char	*upstream;	/* path template on the backend ("{id}") */
	const char	*roles[ROUTE_MAX_ROLES];	/* any of; NULL-ended */
	unsigned	 flags;		/* ROUTE_* */
	enum route_body	 body;
	/*
	 * Seconds a successful answer may be served again to an identical
	 * request (for a response cache; none yet). 0: never cached. Only
	 * read-only rows may set it.
	 */
	unsigned	 cache_ttl;
	const char	*asset;		/* RK_ASSET: file name under www/ */
};

extern const struct route routes[];
extern const int nroutes;

/* The Allow header value for the row's path (all methods of that path). */
const char	*routes_allow(int idx);
/* 1 when a forwarding row may be used with this configuration. */
int		 routes_enabled(const struct route *, const struct gw_config *);
/* 1 for rows answered by an upstream API (RK_PROXY, RK_HUNT). */
int		 routes_forwarded(const struct route *);
/* The upstream method: the row's own, except hunting which is POST. */
const char	*routes_upstream_method(const struct route *);

#endif
