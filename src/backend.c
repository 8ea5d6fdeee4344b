/*
 * backend.c: base URLs, scopes and transport options per backend.
 * Pure; any thread. See backend.h.
 */
#include <curl/curl.h>

#include "backend.h"
#include "config.h"

static const struct {
	const char	*name, *title, *app, *scope_key;
} info[BACKEND__COUNT] = {
	[BACKEND_DEFENDER] = { "defender", "Microsoft Defender XDR API",
	    "Microsoft Threat Protection", "scope (DEFGATE_SCOPE)" },
	[BACKEND_GRAPH] = { "graph", "Microsoft Graph security API",
	    "Microsoft Graph", "graph_scope (DEFGATE_GRAPH_SCOPE)" },
	[BACKEND_MDE] = { "mde", "Microsoft Defender for Endpoint API",
	    "WindowsDefenderATP", "mde_scope (DEFGATE_MDE_SCOPE)" },
};

static enum backend_id
valid(enum backend_id b)
{
	return ((unsigned)b < BACKEND__COUNT ? b : BACKEND_DEFENDER);
}

const char *
backend_name(enum backend_id b)
{
	return (info[valid(b)].name);
}

const char *
backend_title(enum backend_id b)
{
	return (info[valid(b)].title);
}

const char *
backend_permission_app(enum backend_id b)
{
	return (info[valid(b)].app);
}

const char *
backend_scope_key(enum backend_id b)
{
	return (info[valid(b)].scope_key);
}

const char *
backend_url(const struct gw_config *cf, enum backend_id b)
{
	switch (valid(b)) {
	case BACKEND_GRAPH:
		return (cf->graph_url);
	case BACKEND_MDE:
		return (cf->mde_url);
	default:
		return (cf->api_url);
	}
}

const char *
backend_scope(const struct gw_config *cf, enum backend_id b)
{
	switch (valid(b)) {
	case BACKEND_GRAPH:
		return (cf->graph_scope);
	case BACKEND_MDE:
		return (cf->mde_scope);
	default:
		return (cf->scope);
	}
}

void
backend_transport(const struct gw_config *cf, enum backend_id b,
    int is_write, int streaming, long *http_version, long *fresh_connect)
{
	(void)b;
	/*
	 * Hunting results can be tens of MiB. On HTTP/2, libcurl 7.88 keeps
	 * reading a paused stream up to its fixed 32 MiB window, so a slow
	 * client would make us buffer that much; on HTTP/1.1 a paused
	 * transfer leaves the bytes in the socket and TCP pushes back.
	 */
	*http_version = cf->http2 && !streaming ?
	    (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1;
	/*
	 * libcurl silently resends a request when a reused connection turns
	 * out dead before any answer. Fine for reads; a PATCH may append a
	 * comment, so writes always take a fresh connection instead.
	 */
	*fresh_connect = is_write ? 1L : 0L;
}
