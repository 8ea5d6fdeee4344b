/*
 * job.c: one forwarded request, shared by the front (the MHD worker that
 * serves its connection) and the back (curl) thread.
 *
 * Ownership: refcounted. The front holds one reference from
 * job_new() until the request completes; the back thread holds one from
 * upstream_submit() until the transfer is finished or cancelled. Fields are
 * grouped by who may touch them; the "shared" group only under job->mu.
 *
 * Hand-off: the front suspends the connection before
 * publishing the job; the back calls MHD_resume_connection() (job_notify)
 * whenever it has something for the front (legal from any thread: MHD
 * wakes the connection's own worker); every other MHD call stays on that
 * worker, every curl call on the back thread.
 */
#ifndef DEFGATE_JOB_H
#define DEFGATE_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "routes.h"
#include "steward.h"

#define JOB_RING_MIN	(4 * 1024)
#define JOB_RING_MAX	(64 * 1024)	/* per-connection response buffer */
/*
 * A shared answer (job_share_begin): the window of bytes not yet read by
 * every reader. The transfer pauses when it is full; a reader that holds
 * it full (the slowest) for JOB_SHARE_GRACE_MS is cut so the others go on.
 */
#define JOB_SHARE_MAX	(1024 * 1024)
#define JOB_SHARE_GRACE_MS	2000
#define JOB_MAX_HDRS	6
#define JOB_HDRMEM	1024

enum job_method { JOB_GET, JOB_POST, JOB_PATCH };

enum job_msg_type { JOB_MSG_SUBMIT, JOB_MSG_UNPAUSE, JOB_MSG_CANCEL };

struct job_msg {
	enum job_msg_type	 type;
	struct job		*job;
	struct job_msg		*next;
};

/*
 * One reader of a shared answer. The leader's own is embedded in the job
 * (its connection is job->conn, its suspended flag job->front_suspended);
 * followers' are allocated by job_share_add and freed with the job. All
 * fields under job->mu; conn is resumed by whoever notifies, every other
 * MHD call on it stays on the connection's own front worker.
 */
struct job_reader {
	struct job_reader	*next;
	struct job		*job;
	struct MHD_Connection	*conn;
	char			 reqid[65];
	size_t			 pos;		/* body bytes this reader took */
	long long		 held_ms;	/* since when it holds the window
						 * full (0: it does not) */
	int			 suspended;
	int			 detached;	/* finished, gone or cut */
	int			 cut;
};

struct token;
struct tokensrc;
struct huntshape;

struct job {
	/* front thread fills these before upstream_submit(); then read-only */
	struct MHD_Connection	*conn;
	const struct route	*rt;		/* its row of the route table */
	enum job_method		 method;
	char			 reqid[65];
	char			*path;		/* RK_PROXY: upstream path+query */
	char			*body;
	size_t			 bodylen;
	struct curl_slist	 hdr[JOB_MAX_HDRS];	/* no per-header malloc */
	int			 nhdr;
	char			 hdrmem[JOB_HDRMEM];
	size_t			 hdrmemlen;
	long long		 start_ms;
	int			 eof_gone;	/* half_close = off: a client's
						 * end of input means it left */
	/* the response cache and quota (steward.h): the front fills it
	 * before submitting; then see steward.h for who touches what */
	struct steward_ticket	 cache;

	/* messages to the back thread, embedded so posting never allocates */
	struct job_msg		 msg_submit, msg_unpause, msg_cancel;

	/* back thread only */
	void			*owner;		/* the struct upstream */
	char			*url;		/* base URL + path, when resolved */
	int			 resolved;	/* backend chosen, url built */
	enum backend_id		 backend;
	struct tokensrc		*ts;		/* the backend's token source */
	int			 reshape;	/* Graph hunting -> Defender shape */
	int			 errbody;	/* collect an error body in peek */
	struct huntshape	*hs;
	struct job		*wnext;		/* token waiters list */
	TAILQ_ENTRY(job)	 aentry;	/* active transfers list */
	TAILQ_ENTRY(job)	 qentry;	/* upstream.c's FIFO */
	int			 queued;	/* in that FIFO */
	int			 lane;		/* upstream.c's lane index */
	int			 mux;		/* counted as an HTTP/2 stream */
	int			 want_h2;	/* asked curl for HTTP/2 */
	long long		 q_ms;		/* mono ms it first queued, 0 */
	int			 waiting;
	CURL			*easy;
	struct token		*tok;
	struct curl_slist	 auth;		/* points into tok's header */
	int			 retried;
	int			 discard;	/* 401 being retried: drop body */
	long long		 up_start_ms;
	size_t			 hdr_bytes;
	char			 errbuf[CURL_ERROR_SIZE];
	char			 peek[2048];	/* start of an error body */
	size_t			 peeklen;

	/* shared: only under mu */
	pthread_mutex_t		 mu;
	atomic_int		 refs;
	int			 front_suspended;
	int			 headers_ready;	/* status and headers known */
	int			 streaming;	/* the front sent the headers */
	int			 done;		/* no more data will come */
	int			 failed;	/* aborted while streaming */
	int			 cancelled;
	int			 curl_paused;
	long long		 paused_ms;	/* back thread: mono ms of the
						 * pause (0: running) */
	int			 unpause_queued;
	long			 status;
	long long		 content_length;	/* -1: unknown */
	int			 te_seen;	/* Transfer-Encoding present */
	int			 framing_bad;	/* conflicting framing */
	char			 content_encoding[64];
	char			 content_type[128];
	char			 retry_after[32];
	char			 request_id[80];
	unsigned		 err_status;	/* gateway error, 0 if none */
	const char		*err_code;
	char			 err_codebuf[64];
	char			 err_msg[512];
	char			*ring;
	size_t			 rcap, roff, rlen;
	size_t			 total;
	/* a shared answer: ring[roff, roff + rlen) are body bytes
	 * [total - rlen, total), freed up to the slowest reader */
	int			 shared;
	int			 lead_gone;	/* the leader's request ended */
	int			 share_cancel;	/* the last reader cancelled */
	int			 nreaders;	/* attached readers */
	struct job_reader	 lead;		/* first of the readers list */
};

/* Front thread. */
struct job	*job_new(struct MHD_Connection *, const struct route *,
		    enum job_method, const char *reqid);
/* Append "Name: value" to the job's fixed header area; -1 when full. */
int		 job_add_header(struct job *, const char *name,
		    const char *value);
void		 job_ref(struct job *);
void		 job_unref(struct job *);
/* Caller holds job->mu: resume the front if it waits for this job. */
void		 job_notify(struct job *);
/* Back thread, job->mu held: set a gateway error (status, code, msg).
 * code is copied. */
void		 job_set_error(struct job *, unsigned status, const char *code,
		    const char *fmt, ...)
		    __attribute__((__format__(__printf__, 4, 5)));
/*
 * Back thread, job->mu held: store n bytes. Returns 0 when stored, 1 when
 * the buffer is full (the caller pauses the transfer).
 */
int		 job_ring_put(struct job *, const char *, size_t);
/*
 * Back thread: one raw response header line from curl. Records the status
 * line and the headers passed back to the client (Content-Type,
 * Retry-After, request-id, Content-Length). Pure parsing of untrusted
 * input: never reads outside [line, line + n).
 */
enum job_hdr { JOB_HDR_STATUS, JOB_HDR_FIELD, JOB_HDR_END, JOB_HDR_OTHER };
enum job_hdr	 job_header_line(struct job *, const char *line, size_t n);
/*
 * Back thread, after the last header line: why the response cannot be
 * passed on (RFC 9112 §6.3: Transfer-Encoding with Content-Length, or
 * Content-Length values that differ; a Content-Encoding nobody asked for,
 * which must not be separated from its body), or NULL. The reason is a
 * static predicate ("sent ..."); the caller names the API before it.
 */
const char	*job_framing_problem(const struct job *);
/* Copy a header value, trimmed, control bytes blanked, truncated. */
void		 job_header_value(char *dst, size_t dstlen, const char *v,
		    size_t n);
/* Back thread, job->mu held: 1 when n more bytes fit without a pause. */
int		 job_ring_room(const struct job *, size_t n);
/* Front thread, job->mu held: take up to max bytes (the leader's). */
size_t		 job_ring_get(struct job *, char *, size_t max);
/* job->mu held: 1 when the paused transfer should go on; marks the
 * unpause queued, the caller posts it (upstream_unpause) after unlocking. */
int		 job_want_unpause(struct job *);

/*
 * Sharing one answer among several clients (steward.c coalescing).
 * Back thread, job->mu held: the body so far, [0, total), is a + b (the
 * ring may have lost its start to the leader's reader); the ring becomes
 * the shared window, the leader its first reader. -1 (nothing changed)
 * when the leader is gone, the transfer cancelled or the body reshaped.
 */
int		 job_share_begin(struct job *, const char *a, size_t alen,
		    const char *b, size_t blen);
/* Back thread, job->mu held, after job_share_begin: a follower from the
 * first byte; it holds a job reference (dropped by its request). */
struct job_reader *job_share_add(struct job *, struct MHD_Connection *,
		    const char *reqid);
/* Front (the reader's worker), job->mu held: take up to max bytes. */
size_t		 job_reader_get(struct job *, struct job_reader *, char *,
		    size_t max);
/* Front, job->mu held: the reader's request ended. 1 when it was the last
 * reader of an unfinished transfer: the caller cancels it. */
int		 job_reader_detach(struct job *, struct job_reader *);

#endif
