/*
 * sim_mi.c: the simulated managed-identity endpoints, served on the sim's
 * second, plain-HTTP loopback listener (IMDS is http):
 *   GET /metadata/identity/oauth2/token?api-version=..&resource=..
 *       [&client_id=..]  (Azure IMDS: needs "Metadata: true"; every
 *       number in the answer is a string)
 *   GET /msi/token?api-version=..&resource=..[&client_id=..]  (App Service
 *       and Container Apps: needs X-IDENTITY-HEADER; expires_on a string,
 *       or a number when so configured)
 * The token is the sim's own for the resource's audience, so the APIs
 * accept it like one from the token endpoint.
 *
 * Threads: any MHD thread. Ownership: bodies are handed to MHD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim_int.h"
#include "util.h"

#define IMDS_PATH	"/metadata/identity/oauth2/token"
#define APPSVC_PATH	"/msi/token"

static enum MHD_Result
mi_reply(struct sim_req *r, unsigned status, char *body)
{
	struct MHD_Response	*resp = sim_mem_response(body);

	if (resp == NULL)
		return (MHD_NO);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    SIM_JSON_CT);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	return (sim_queue(r->c, status, resp));
}

/* IMDS's error shape: {"error","error_description"}. */
static enum MHD_Result
imds_error(struct sim_req *r, unsigned status, const char *error,
    const char *desc)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "error", error);
	cJSON_AddStringToObject(o, "error_description", desc);
	return (mi_reply(r, status, sim_print_json(o)));
}

/* App Service's error shape: {"statusCode","message","correlationId"}. */
static enum MHD_Result
appsvc_error(struct sim_req *r, unsigned status, const char *msg)
{
	cJSON	*o = cJSON_CreateObject();
	char	 id[37];

	util_uuid(id);
	cJSON_AddNumberToObject(o, "statusCode", status);
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddStringToObject(o, "correlationId", id);
	return (mi_reply(r, status, sim_print_json(o)));
}

void
sim_mi_prepare(struct sim *s, struct sim_req *r)
{
	char	*res = sim_query_value(sim_raw_query(r->uri), "resource");
	size_t	 n;

	/* the resource, with or without a trailing '/' or "/.default" */
	if (res != NULL) {
		n = strlen(res);
		if (n > 9 && strcmp(res + n - 9, "/.default") == 0)
			res[n - 9] = '\0';
		else if (n > 0 && res[n - 1] == '/')
			res[n - 1] = '\0';
		r->aud = sim_audience_find(res);
	}
	free(res);
}

enum MHD_Result
sim_mi_answer(struct sim *s, struct sim_req *r)
{
	const char	*q = sim_raw_query(r->uri), *h;
	char		*ver, *res, *cid, *tok, n[32], t[32], msg[300];
	int		 imds = strcmp(r->url, IMDS_PATH) == 0, lifetime;
	long long	 now = util_now();
	cJSON		*o;
	enum MHD_Result	 ret;

	if (!imds && strcmp(r->url, APPSVC_PATH) != 0)
		return (imds_error(r, 404, "not_found", "No such endpoint."));
	if (strcmp(r->method, "GET") != 0)
		return (imds_error(r, 405, "invalid_request",
		    "Only GET is supported."));
	if (imds) {
		h = sim_header(r->c, "Metadata");
		if (h == NULL || strcmp(h, "true") != 0)
			return (imds_error(r, 400, "invalid_request",
			    "Required metadata header not specified"));
	} else {
		h = sim_header(r->c, "X-IDENTITY-HEADER");
		if (s->mi_header == NULL || h == NULL ||
		    strcmp(h, s->mi_header) != 0)
			return (appsvc_error(r, 401, "The X-IDENTITY-HEADER "
			    "header is missing or not valid."));
	}
	ver = sim_query_value(q, "api-version");
	res = sim_query_value(q, "resource");
	cid = sim_query_value(q, "client_id");
	if (ver == NULL)
		ret = imds ? imds_error(r, 400, "invalid_request", "Required "
		    "query variable 'api-version' is missing") :
		    appsvc_error(r, 400, "api-version is required");
	else if (res == NULL || *res == '\0')
		ret = imds ? imds_error(r, 400, "invalid_request", "Required "
		    "audience parameter not specified") :
		    appsvc_error(r, 400, "resource is required");
	else if (s->mi_client == NULL || (cid != NULL &&
	    strcmp(cid, s->mi_client) != 0))
		ret = imds ? imds_error(r, 400, "invalid_request",
		    "Identity not found") : appsvc_error(r, 400, "Unable to "
		    "load the proper Managed Identity.");
	else if (r->aud < 0) {
		snprintf(msg, sizeof(msg), "AADSTS500011: The resource "
		    "principal named %.150s was not found in the tenant.", res);
		ret = imds ? imds_error(r, 400, "invalid_resource", msg) :
		    appsvc_error(r, 400, msg);
	} else if ((tok = sim_token_issue(s, r->aud, &lifetime)) == NULL)
		ret = imds_error(r, 500, "server_error", "Cannot issue.");
	else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "access_token", tok);
		util_free_secret(tok);
		cJSON_AddStringToObject(o, "client_id", s->mi_client);
		snprintf(n, sizeof(n), "%d", lifetime);
		snprintf(t, sizeof(t), "%lld", now + lifetime);
		if (imds) {
			cJSON_AddStringToObject(o, "expires_in", n);
			cJSON_AddStringToObject(o, "expires_on", t);
			cJSON_AddStringToObject(o, "ext_expires_in", n);
			snprintf(t, sizeof(t), "%lld", now);
			cJSON_AddStringToObject(o, "not_before", t);
		} else if (s->mi_expires_number)
			cJSON_AddNumberToObject(o, "expires_on",
			    (double)(now + lifetime));
		else
			cJSON_AddStringToObject(o, "expires_on", t);
		cJSON_AddStringToObject(o, "resource",
		    sim_auds[r->aud].resource);
		cJSON_AddStringToObject(o, "token_type", "Bearer");
		if (s->verbose)
			log_info("sim: managed identity token for %s",
			    sim_auds[r->aud].name);
		ret = mi_reply(r, 200, sim_print_json(o));
	}
	free(ver);
	free(res);
	free(cid);
	return (ret);
}
