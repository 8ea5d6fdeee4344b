/*
 * backend.c: the upstream APIs defgate talks to, as data. Each backend has a
 * base URL and a token audience (scope) from the configuration, and the
 * transport options its transfers use. Pure functions over a read-only
 * struct gw_config: any thread.
 *
 * One token source (tokensrc.h) exists per backend; its audience is the
 * backend's scope.
 */
#ifndef DEFGATE_BACKEND_H
#define DEFGATE_BACKEND_H

struct gw_config;
struct route;

enum backend_id {
	BACKEND_DEFENDER = 0,	/* Defender XDR: api_url, scope */
	BACKEND_GRAPH,		/* Microsoft Graph: graph_url, graph_scope */
	BACKEND_MDE,		/* Defender for Endpoint: mde_url, mde_scope */
	BACKEND__COUNT
};

/* Short stable name ("defender", "graph", "mde"). */
const char	*backend_name(enum backend_id);
/* What users call it ("Microsoft Defender XDR API"...). */
const char	*backend_title(enum backend_id);
/* The Entra resource app that carries its permissions ("Microsoft Threat
 * Protection", "Microsoft Graph", "WindowsDefenderATP"). */
const char	*backend_permission_app(enum backend_id);
/* Base URL without a trailing slash, and the v2 scope ".../.default". */
const char	*backend_url(const struct gw_config *, enum backend_id);
const char	*backend_scope(const struct gw_config *, enum backend_id);
/* The configuration key of the scope, for messages. */
const char	*backend_scope_key(enum backend_id);

/*
 * Transport options for one transfer of a route on a backend:
 * *http_version is a CURL_HTTP_VERSION_* value, *fresh_connect is 1 when
 * the transfer must not reuse a connection. streaming is 1 for routes
 * whose answers can be tens of MiB (hunting).
 */
void		 backend_transport(const struct gw_config *, enum backend_id,
		    int is_write, int streaming, long *http_version,
		    long *fresh_connect);

#endif
