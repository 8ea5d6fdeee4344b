/*
 * fakemi.c: a test-only fake of the managed-identity endpoints, over plain
 * HTTP on loopback (as IMDS is http): IMDS GET /metadata/identity/oauth2/
 * token (needs "Metadata: true") and the App Service GET /msi/token (needs
 * X-IDENTITY-HEADER). Tokens are unsigned JWTs whose aud is the requested
 * resource, enough for defgate to cache and show them; the API fakes do
 * not accept them. Every request is appended to --log as one line.
 *
 *   fakemi --port-file F --log F [--identity-header V] [--client-id ID]
 *          [--no-identity] [--expires-on-number]
 *
 * Not installed; never part of defgate. Single process, MHD's own thread.
 */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

static const char	*logpath, *want_header, *assigned_client;
static int		 no_identity, on_number;
static volatile sig_atomic_t stop;

static void
b64url(const char *in, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out,
	    (const unsigned char *)in, (int)strlen(in));

	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(strlen(body), (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return (ret);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *uplen, void **state)
{
	const char	*res = MHD_lookup_connection_value(c,
			    MHD_GET_ARGUMENT_KIND, "resource");
	const char	*cid = MHD_lookup_connection_value(c,
			    MHD_GET_ARGUMENT_KIND, "client_id");
	const char	*api = MHD_lookup_connection_value(c,
			    MHD_GET_ARGUMENT_KIND, "api-version");
	const char	*meta = MHD_lookup_connection_value(c,
			    MHD_HEADER_KIND, "Metadata");
	const char	*idh = MHD_lookup_connection_value(c,
			    MHD_HEADER_KIND, "X-IDENTITY-HEADER");
	const char	*via = MHD_lookup_connection_value(c,
			    MHD_HEADER_KIND, "Via");
	char		 hdr[96], pay[1024], h64[256], p64[1536], body[2048];
	long long	 exp = (long long)time(NULL) + 3600;
	int		 imds = strcmp(url, "/metadata/identity/oauth2/token") == 0;
	FILE		*f;

	(void)cls; (void)version; (void)upload;
	if (*state == NULL) {
		*state = (void *)1;
		return (MHD_YES);
	}
	*uplen = 0;
	if ((f = fopen(logpath, "a")) != NULL) {
		fprintf(f, "%s %s api-version=%s resource=%s client_id=%s "
		    "metadata=%s identity_header=%s via=%s\n", method, url,
		    api ? api : "-", res ? res : "-", cid ? cid : "-",
		    meta ? meta : "-", idh ? "present" : "-", via ? via : "-");
		fclose(f);
	}
	if (!imds && strcmp(url, "/msi/token") != 0)
		return (answer(c, 404, "{\"error\":\"not_found\"}"));
	if (imds && (meta == NULL || strcmp(meta, "true") != 0))
		return (answer(c, 400, "{\"error\":\"invalid_request\","
		    "\"error_description\":\"Required metadata header not "
		    "specified\"}"));
	if (!imds && (idh == NULL || want_header == NULL ||
	    strcmp(idh, want_header) != 0))
		return (answer(c, 401, "{\"statusCode\":401,\"message\":"
		    "\"X-IDENTITY-HEADER is missing or wrong\"}"));
	if (res == NULL)
		return (answer(c, 400, "{\"error\":\"invalid_request\","
		    "\"error_description\":\"resource is required\"}"));
	if (no_identity || (cid && (assigned_client == NULL ||
	    strcmp(cid, assigned_client) != 0)))
		return (answer(c, 400, "{\"error\":\"invalid_request\","
		    "\"error_description\":\"Identity not found\"}"));
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\",\"typ\":\"JWT\"}");
	snprintf(pay, sizeof(pay), "{\"aud\":\"%s\",\"iss\":\"https://sts."
	    "windows.net/fakemi/\",\"appid\":\"%s\",\"roles\":"
	    "[\"Incident.Read.All\"],\"exp\":%lld,\"ver\":\"1.0\"}", res,
	    cid ? cid : "system-assigned", exp);
	b64url(hdr, h64);
	b64url(pay, p64);
	if (on_number)
		snprintf(body, sizeof(body), "{\"access_token\":\"%s.%s.\","
		    "\"expires_on\":%lld,\"resource\":\"%s\",\"token_type\":"
		    "\"Bearer\"}", h64, p64, exp, res);
	else
		snprintf(body, sizeof(body), "{\"access_token\":\"%s.%s.\","
		    "\"expires_in\":\"3600\",\"expires_on\":\"%lld\","
		    "\"resource\":\"%s\",\"token_type\":\"Bearer\"}", h64, p64,
		    exp, res);
	return (answer(c, 200, body));
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct MHD_Daemon	*d;
	const union MHD_DaemonInfo *di;
	const char		*portfile = NULL;
	FILE			*f;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			portfile = argv[++i];
		else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
			logpath = argv[++i];
		else if (strcmp(argv[i], "--identity-header") == 0 &&
		    i + 1 < argc)
			want_header = argv[++i];
		else if (strcmp(argv[i], "--client-id") == 0 && i + 1 < argc)
			assigned_client = argv[++i];
		else if (strcmp(argv[i], "--no-identity") == 0)
			no_identity = 1;
		else if (strcmp(argv[i], "--expires-on-number") == 0)
			on_number = 1;
		else {
			fprintf(stderr, "fakemi: bad argument %s\n", argv[i]);
			return (2);
		}
	}
	if (portfile == NULL || logpath == NULL) {
		fprintf(stderr, "fakemi: --port-file and --log are needed\n");
		return (2);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
	    access_cb, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_END);
	if (d == NULL || (di = MHD_get_daemon_info(d,
	    MHD_DAEMON_INFO_BIND_PORT)) == NULL)
		return (1);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if ((f = fopen(portfile, "w")) == NULL)
		return (1);
	fprintf(f, "%u\n", (unsigned)di->port);
	fclose(f);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	return (0);
}
