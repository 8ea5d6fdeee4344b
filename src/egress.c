/*
 * egress.c: see egress.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "config.h"
#include "egress.h"
#include "redact.h"

int
egress_check(const char *proxy, struct buf *errs)
{
	char shown[512];

	redact_url_userinfo(shown, sizeof(shown), proxy);
	if (strncasecmp(proxy, "http://", 7) != 0 &&
	    strncasecmp(proxy, "https://", 8) != 0) {
		if (errs)
			buf_printf(errs, "proxy (HTTPS_PROXY) \"%s\" must be "
			    "an http:// or https:// proxy URL, e.g. "
			    "http://proxy:3128\n", shown);
		return (-1);
	}
	for (const char *p = proxy; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			if (errs)
				buf_printf(errs, "proxy (HTTPS_PROXY) must not "
				    "contain spaces or control characters\n");
			return (-1);
		}
	return (0);
}

void
egress_apply(const struct gw_config *cf, CURL *e, int direct)
{
	/* "" disables curl's own reading of the environment: we decide */
	curl_easy_setopt(e, CURLOPT_PROXY, !direct && cf->proxy ?
	    cf->proxy : "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, !direct && cf->no_proxy ?
	    cf->no_proxy : NULL);
	if (!direct && cf->proxy) {
		curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
		curl_easy_setopt(e, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(e, CURLOPT_PROXYAUTH, (long)CURLAUTH_ANY);
	}
}

void
egress_display(const struct gw_config *cf, char *out, size_t outlen)
{
	if (cf->proxy == NULL || *cf->proxy == '\0') {
		if (outlen)
			out[0] = '\0';
		return;
	}
	redact_url_userinfo(out, outlen, cf->proxy);
}

int
egress_error(const struct gw_config *cf, CURL *e, CURLcode res, char *out,
    size_t outlen)
{
	char	 shown[256];
	long	 code = 0;

	if (cf->proxy == NULL || *cf->proxy == '\0' || res == CURLE_OK)
		return (0);
	egress_display(cf, shown, sizeof(shown));
	curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE, &code);
	if (code == 407) {
		snprintf(out, outlen, "the egress proxy %s demands "
		    "authentication (HTTP 407): put user:password@ in proxy "
		    "(HTTPS_PROXY)", shown);
		return (1);
	}
	if (code != 0 && code != 200) {
		snprintf(out, outlen, "the egress proxy %s refused the "
		    "CONNECT (HTTP %ld)", shown, code);
		return (1);
	}
	if (res == CURLE_COULDNT_RESOLVE_PROXY || (code == 0 &&
	    (res == CURLE_COULDNT_CONNECT || res == CURLE_PROXY ||
	    res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR ||
	    res == CURLE_GOT_NOTHING))) {
		snprintf(out, outlen, "cannot use the egress proxy %s: %s",
		    shown, curl_easy_strerror(res));
		return (1);
	}
	return (0);
}
