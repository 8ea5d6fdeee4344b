/*
 * front.h: the front door's policy for each request and connection:
 * framing and size limits (through reqcheck.c), Host, Origin and
 * Sec-Fetch-Site, the request media type and the accept policy.
 *
 * Front (MHD) workers, several at once: nothing here keeps state between
 * calls. front_accept()
 * runs on whichever worker accepts the connection. Nothing here allocates
 * beyond the MHD responses it queues; verdicts live in the caller's
 * storage.
 */
#ifndef DEFGATE_FRONT_H
#define DEFGATE_FRONT_H

#include <sys/socket.h>

#include <microhttpd.h>

struct gw_config;
struct gw_request;

struct front_verdict {
	unsigned	 status;	/* 0: go on */
	const char	*code;
	char		 msg[200];
	int		 close;		/* close the connection after it */
};

/*
 * §1/§2: the request head as MHD parsed it. A bad head gets a verdict with
 * close set: the framing cannot be trusted, so nothing after it can be.
 */
int	front_check_head(struct MHD_Connection *, struct gw_request *,
	    const char *method, const char *version, struct front_verdict *);
/* §3: Host (421), Origin and Sec-Fetch-Site (403). */
int	front_check_caller(struct MHD_Connection *, const struct gw_config *,
	    struct front_verdict *);
/* §3: a POST or PATCH body must be application/json (415). */
int	front_check_media(struct MHD_Connection *, struct front_verdict *);
/* Queue the verdict as a JSON error (with Allow when allow is set). */
enum MHD_Result front_answer(struct MHD_Connection *, struct gw_request *,
	    const struct front_verdict *, const char *allow);
/* OPTIONS: 204 with Allow (and CORS headers for a listed Origin). */
enum MHD_Result front_options(struct MHD_Connection *, struct gw_request *,
	    const char *allow);
/* CORS headers on an answer when the Origin is listed in cf's
 * cors_origins (the request's own configuration). */
void	front_decorate(struct MHD_Connection *, const struct gw_config *,
	    struct MHD_Response *);
/*
 * Accept policy (§8): peers outside allow_from are refused before they
 * hold a connection slot; 127.0.0.1 and ::1 always pass (local health
 * checks), and are then judged per request. cls is unused.
 */
enum MHD_Result front_accept(void *cls, const struct sockaddr *, socklen_t);
#endif
