/*
 * job.c: the shared job object. See job.h for the ownership rules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "huntshape.h"
#include "job.h"
#include "log.h"
#include "util.h"

struct job *
job_new(struct MHD_Connection *conn, const struct route *rt,
    enum job_method method, const char *reqid)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return (NULL);
	pthread_mutex_init(&j->mu, NULL);
	atomic_init(&j->refs, 1);
	j->conn = conn;
	j->rt = rt;
	j->method = method;
	snprintf(j->reqid, sizeof(j->reqid), "%s", reqid);
	j->content_length = -1;
	j->start_ms = util_mono_ms();
	j->msg_submit.type = JOB_MSG_SUBMIT;
	j->msg_unpause.type = JOB_MSG_UNPAUSE;
	j->msg_cancel.type = JOB_MSG_CANCEL;
	j->msg_submit.job = j->msg_unpause.job = j->msg_cancel.job = j;
	return (j);
}

int
job_add_header(struct job *j, const char *name, const char *value)
{
	size_t	 nl = strlen(name), vl = strlen(value);
	char	*p;

	if (j->nhdr >= JOB_MAX_HDRS ||
	    j->hdrmemlen + nl + vl + 3 > sizeof(j->hdrmem))
		return (-1);
	p = j->hdrmem + j->hdrmemlen;
	memcpy(p, name, nl);
	p[nl] = ':';
	if (vl == 0) {
		/* "Name:" with no value tells curl to send no such header */
		p[nl + 1] = '\0';
		j->hdrmemlen += nl + 2;
	} else {
		p[nl + 1] = ' ';
		memcpy(p + nl + 2, value, vl + 1);
		j->hdrmemlen += nl + vl + 3;
	}
	j->hdr[j->nhdr].data = p;
	j->hdr[j->nhdr].next = NULL;
	if (j->nhdr > 0)
		j->hdr[j->nhdr - 1].next = &j->hdr[j->nhdr];
	j->nhdr++;
	return (0);
}

void
job_ref(struct job *j)
{
	atomic_fetch_add(&j->refs, 1);
}

void
job_unref(struct job *j)
{
	struct job_reader *rd, *next;

	if (j == NULL || atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	for (rd = j->lead.next; rd != NULL; rd = next) {
		next = rd->next;
		free(rd);
	}
	pthread_mutex_destroy(&j->mu);
	huntshape_free(j->hs);	/* the back thread is done with it */
	steward_ticket_free(&j->cache);
	free(j->url);
	free(j->path);
	free(j->body);
	free(j->ring);
	free(j);
}

void
job_notify(struct job *j)
{
	struct job_reader *rd;

	if (j->front_suspended) {
		j->front_suspended = 0;
		MHD_resume_connection(j->conn);
	}
	for (rd = j->shared ? j->lead.next : NULL; rd != NULL; rd = rd->next)
		if (rd->suspended) {
			rd->suspended = 0;
			MHD_resume_connection(rd->conn);
		}
}

void
job_set_error(struct job *j, unsigned status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	if (j->err_status != 0)
		return;		/* the first cause is the one to report */
	j->err_status = status;
	snprintf(j->err_codebuf, sizeof(j->err_codebuf), "%s", code);
	j->err_code = j->err_codebuf;
	va_start(ap, fmt);
	vsnprintf(j->err_msg, sizeof(j->err_msg), fmt, ap);
	va_end(ap);
}

int
job_ring_put(struct job *j, const char *p, size_t n)
{
	size_t need = j->rlen + n, ncap, max;
	char *r;

	max = j->shared ? JOB_SHARE_MAX : JOB_RING_MAX;

	if (j->shared && need > max && j->rlen > 0)
		return (1);	/* full: the slowest reader is max behind */
	if (j->roff + need > j->rcap && j->roff > 0) {
		memmove(j->ring, j->ring + j->roff, j->rlen);
		j->roff = 0;
	}
	if (need > j->rcap) {
		if (need > max && j->rlen > 0)
			return (1);	/* full: backpressure */
		ncap = j->rcap ? j->rcap : JOB_RING_MIN;
		while (ncap < need)
			ncap *= 2;
		if (ncap > max && need <= max)
			ncap = max;
		if ((r = realloc(j->ring, ncap)) == NULL)
			return (1);
		j->ring = r;
		j->rcap = ncap;
	}
	memcpy(j->ring + j->roff + j->rlen, p, n);
	j->rlen += n;
	j->total += n;
	return (0);
}

int
job_ring_room(const struct job *j, size_t n)
{
	return (j->rlen == 0 || j->rlen + n <= (j->shared ? JOB_SHARE_MAX :
	    JOB_RING_MAX));
}

size_t
job_ring_get(struct job *j, char *out, size_t max)
{
	size_t n = j->rlen < max ? j->rlen : max;

	if (j->shared)
		return (job_reader_get(j, &j->lead, out, max));
	if (n == 0)
		return (0);
	memcpy(out, j->ring + j->roff, n);
	j->roff += n;
	j->rlen -= n;
	if (j->rlen == 0)
		j->roff = 0;
	return (n);
}

int
job_want_unpause(struct job *j)
{
	if (!j->curl_paused || j->unpause_queued)
		return (0);
	/* shared: only when a put can succeed, not on every read */
	if (j->shared && j->rlen + JOB_RING_MAX / 4 > JOB_SHARE_MAX)
		return (0);
	j->unpause_queued = 1;
	return (1);
}

int
job_share_begin(struct job *j, const char *a, size_t alen, const char *b,
    size_t blen)
{
	char *w;

	if (j->shared || j->lead_gone || j->cancelled || j->done ||
	    j->reshape || j->hs != NULL || alen + blen != j->total ||
	    j->rlen > j->total)
		return (-1);
	if ((w = malloc(j->total > 0 ? j->total : 1)) == NULL)
		return (-1);
	if (alen > 0)
		memcpy(w, a, alen);
	if (blen > 0)
		memcpy(w + alen, b, blen);
	/* the leader has read what the ring lost */
	j->lead.pos = j->total - j->rlen;
	j->lead.next = NULL;
	j->lead.job = j;
	j->lead.conn = j->conn;
	snprintf(j->lead.reqid, sizeof(j->lead.reqid), "%s", j->reqid);
	free(j->ring);
	j->ring = w;
	j->rcap = j->rlen = j->total;
	j->roff = 0;
	j->nreaders = 1;
	j->shared = 1;
	/* followers are answered from now on: a failure can no longer be
	 * a gateway error, only a cut stream */
	j->streaming = 1;
	return (0);
}

struct job_reader *
job_share_add(struct job *j, struct MHD_Connection *c, const char *reqid)
{
	struct job_reader *rd;

	if (!j->shared || j->total - j->rlen != 0 ||
	    (rd = calloc(1, sizeof(*rd))) == NULL)
		return (NULL);
	rd->job = j;
	rd->conn = c;
	snprintf(rd->reqid, sizeof(rd->reqid), "%s", reqid);
	rd->next = j->lead.next;
	j->lead.next = rd;
	j->nreaders++;
	job_ref(j);
	return (rd);
}

/*
 * Free the window up to the slowest attached reader. The slowest one
 * holds the transfer when the window is (nearly) full; holding it that
 * way for JOB_SHARE_GRACE_MS, while others are faster, gets it cut.
 */
static void
share_trim(struct job *j, long long now)
{
	struct job_reader	*rd, *slow = NULL;
	size_t			 base = j->total - j->rlen, min = j->total, k;
	int			 faster = 0, full = !j->done &&
	    j->rlen + JOB_RING_MAX > JOB_SHARE_MAX;

	for (rd = &j->lead; rd != NULL; rd = rd->next)
		if (!rd->detached && rd->pos < min) {
			min = rd->pos;
			slow = rd;
		}
	for (rd = &j->lead; rd != NULL; rd = rd->next)
		if (rd->detached || !full || rd->pos != min)
			rd->held_ms = 0;
		else if (rd->held_ms == 0)
			rd->held_ms = now;
	for (rd = &j->lead; rd != NULL && !faster; rd = rd->next)
		faster = !rd->detached && rd->pos > min;
	if (slow != NULL && slow->held_ms != 0 && faster &&
	    now - slow->held_ms >= JOB_SHARE_GRACE_MS) {
		log_warnx("%s: cut: the client read too slowly for an answer "
		    "shared with %d other(s) (more than %d KiB behind for "
		    "%lld s)", slow->reqid, j->nreaders - 1,
		    (JOB_SHARE_MAX - JOB_RING_MAX) / 1024,
		    (now - slow->held_ms) / 1000);
		slow->detached = slow->cut = 1;
		slow->held_ms = 0;
		j->nreaders--;
		min = j->total;
		for (rd = &j->lead; rd != NULL; rd = rd->next)
			if (!rd->detached && rd->pos < min)
				min = rd->pos;
	}
	if (min > base) {
		k = min - base;
		j->roff += k;
		j->rlen -= k;
		if (j->rlen == 0)
			j->roff = 0;
	}
	/* the first window may be far larger than the bound: give it back */
	if (j->rcap > 2 * JOB_SHARE_MAX && j->rlen <= JOB_SHARE_MAX) {
		char *r;

		memmove(j->ring, j->ring + j->roff, j->rlen);
		j->roff = 0;
		if ((r = realloc(j->ring, JOB_SHARE_MAX)) != NULL) {
			j->ring = r;
			j->rcap = JOB_SHARE_MAX;
		}
	}
}

size_t
job_reader_get(struct job *j, struct job_reader *rd, char *out, size_t max)
{
	size_t base = j->total - j->rlen, n = 0;

	if (!rd->detached) {
		n = j->total - rd->pos;
		if (n > max)
			n = max;
		if (n > 0)
			memcpy(out, j->ring + j->roff + (rd->pos - base), n);
		rd->pos += n;
	}
	share_trim(j, util_mono_ms());
	return (n);
}

int
job_reader_detach(struct job *j, struct job_reader *rd)
{
	if (!rd->detached) {
		rd->detached = 1;
		j->nreaders--;
	}
	rd->suspended = 0;
	share_trim(j, util_mono_ms());
	if (j->nreaders == 0 && !j->done && !j->share_cancel) {
		j->share_cancel = 1;
		return (1);
	}
	return (0);
}

void
job_header_value(char *dst, size_t dstlen, const char *v, size_t n)
{
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	    v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	if (n >= dstlen)
		n = dstlen - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (unsigned char)v[i] < 0x20 ||
		    (unsigned char)v[i] == 0x7f ? ' ' : v[i];
	dst[n] = '\0';
}

enum job_hdr
job_header_line(struct job *j, const char *b, size_t n)
{
	const char	*colon, *v;
	size_t		 nl, vl;

	if (n >= 5 && memcmp(b, "HTTP/", 5) == 0) {
		const char	*sp = memchr(b, ' ', n);
		long		 st = 0;

		/* a new header block (after 1xx): forget the previous one */
		size_t		 i = sp ? (size_t)(sp - b) + 1 : n, k;

		/* exactly three digits, as HTTP requires; else status 0 */
		for (k = 0; i + k < n && k < 4 && b[i + k] >= '0' &&
		    b[i + k] <= '9'; k++)
			st = st * 10 + (b[i + k] - '0');
		if (k != 3)
			st = 0;
		j->status = st;
		j->content_type[0] = j->retry_after[0] = '\0';
		j->request_id[0] = '\0';
		j->content_encoding[0] = '\0';
		j->content_length = -1;
		j->te_seen = j->framing_bad = 0;
		return (JOB_HDR_STATUS);
	}
	if (n <= 2 && (n == 0 || b[0] == '\r' || b[0] == '\n'))
		return (JOB_HDR_END);
	if ((colon = memchr(b, ':', n)) == NULL)
		return (JOB_HDR_OTHER);
	nl = (size_t)(colon - b);
	v = colon + 1;
	vl = n - nl - 1;
	if (util_strieq(b, nl, "content-type"))
		job_header_value(j->content_type, sizeof(j->content_type), v,
		    vl);
	else if (util_strieq(b, nl, "retry-after"))
		job_header_value(j->retry_after, sizeof(j->retry_after), v,
		    vl);
	else if (util_strieq(b, nl, "request-id"))
		job_header_value(j->request_id, sizeof(j->request_id), v, vl);
	else if (util_strieq(b, nl, "content-length")) {
		char		 num[32];
		long long	 cl;

		job_header_value(num, sizeof(num), v, vl);
		/* unparsable, or a second one that differs: no framing */
		if (util_parse_ll(num, 0, (1LL << 62), &cl) == -1 ||
		    (j->content_length >= 0 && j->content_length != cl))
			j->framing_bad = 1;
		else
			j->content_length = cl;
	} else if (util_strieq(b, nl, "transfer-encoding"))
		j->te_seen = 1;
	else if (util_strieq(b, nl, "content-encoding"))
		job_header_value(j->content_encoding,
		    sizeof(j->content_encoding), v, vl);
	else
		return (JOB_HDR_OTHER);
	return (JOB_HDR_FIELD);
}

const char *
job_framing_problem(const struct job *j)
{
	if (j->framing_bad)
		return ("sent conflicting or invalid Content-Length "
		    "headers");
	if (j->te_seen && j->content_length >= 0)
		return ("sent both Transfer-Encoding and Content-Length "
		    "(conflicting framing)");
	if (j->content_encoding[0] &&
	    !util_strieq(j->content_encoding, strlen(j->content_encoding),
	    "identity"))
		return ("sent an encoded body (Content-Encoding) that was "
		    "not asked for");
	return (NULL);
}
