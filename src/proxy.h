/*
 * proxy.c: the forwarding half of the front. Turns a routed local
 * request into a job for the back thread (upstream URL from configuration
 * only, an allowlist of client headers, a request id), and turns the job's
 * result into the client's response, streaming the body with backpressure.
 * Front (MHD) workers only, several at once; a request's calls all run on
 * the worker that serves its connection.
 */
#ifndef DEFGATE_PROXY_H
#define DEFGATE_PROXY_H

#include <microhttpd.h>

#include "buf.h"
#include "router.h"

struct gw_config;
struct job;
struct job_reader;
struct upstream;

/* One client request; allocated when the request line arrives, freed in
 * the MHD completion callback (httpd.c), the only place. */
struct gw_request {
	char			*uri;		/* raw request-target */
	const struct gw_config	*cf;		/* a reference (cfgref.h) */
	const char		*uri_raw;	/* in MHD's buffer (reqcheck) */
	size_t			 uri_len;	/* strlen(uri_raw) */
	unsigned		 pend_status;	/* error answered after the body */
	const char		*pend_code;
	char			 pend_msg[200];
	struct route_match	 m;
	enum router_result	 rr;
	int			 started;
	int			 too_large;
	struct buf		 body;
	struct job		*job;
	struct job_reader	*follow;	/* steward.c: reads another
						 * request's job (its own ref) */
	unsigned		 status;	/* status answered, for counters */
	int			 cache;		/* enum steward_cache, for counters */
	int			 waited;	/* steward.h: woken from coalescing */
	int			 parked;	/* returned once without an answer
						 * after the request was complete */
	char			 reqid[65];
	long long		 start_ms;
};

/* A JSON error in the Defender API's shape; the caller queues and
 * destroys it. */
struct MHD_Response *proxy_error_response(unsigned status, const char *code,
		    const char *message, const char *reqid);
/* Queue an error response and record its status in r. */
enum MHD_Result	 proxy_error(struct MHD_Connection *, struct gw_request *,
		    unsigned status, const char *code, const char *message);
/*
 * Validate the request body or query for the route, build the job and submit
 * it. With half_close = on the connection is not suspended in this call: MHD
 * calls the handler again in its next turn, and proxy_respond answers or
 * suspends then (proxy_park). Queues a 400 itself when the input is bad.
 */
enum MHD_Result	 proxy_start(struct MHD_Connection *, struct gw_request *,
		    struct upstream *);
/*
 * Before the first suspension of a request: 1 the first time (half_close =
 * on), when the caller must return MHD_YES without an answer or a
 * suspension (MHD calls the handler again in its next turn; see proxy.c),
 * 0 after that or with half_close = off.
 */
int		 proxy_park(struct gw_request *);
/* The handler runs again: in MHD's next turn after proxy_start, or after
 * the back thread resumed the connection. */
enum MHD_Result	 proxy_respond(struct MHD_Connection *, struct gw_request *);
/* Completion: cancel the transfer if still running and drop the job. */
void		 proxy_finish(struct gw_request *, struct upstream *);

#endif
