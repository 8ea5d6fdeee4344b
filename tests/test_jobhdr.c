/*
 * test_jobhdr.c: upstream response framing and encoding as the back thread
 * reads the header lines (job_header_line, job_framing_problem in
 * src/job.c).
 */
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "routes.h"
#include "tap.h"

/* Feed header lines (NULL-terminated) to a fresh job; its verdict. */
static const char *
verdict(struct job **jp, const char *const *lines)
{
	struct job *j = job_new(NULL, &routes[0], JOB_GET, "t");

	for (; *lines; lines++)
		job_header_line(j, *lines, strlen(*lines));
	*jp = j;
	return (job_framing_problem(j));
}

#define CASE(name, want_null, ...) do {					\
	static const char *const l[] = { __VA_ARGS__, NULL };		\
	struct job *j;							\
	const char *why = verdict(&j, l);				\
	if (want_null)							\
		ok(why == NULL, "%s: passed on", name);			\
	else								\
		ok(why != NULL, "%s: refused (502)", name);		\
	job_unref(j);							\
} while (0)

int
main(void)
{
	CASE("plain Content-Length", 1, "HTTP/1.1 200 OK\r\n",
	    "Content-Length: 5\r\n", "\r\n");
	CASE("chunked", 1, "HTTP/1.1 200 OK\r\n",
	    "Transfer-Encoding: chunked\r\n", "\r\n");
	CASE("chunked with Content-Length", 0, "HTTP/1.1 200 OK\r\n",
	    "Transfer-Encoding: chunked\r\n", "Content-Length: 5\r\n", "\r\n");
	CASE("Content-Length then chunked", 0, "HTTP/1.1 200 OK\r\n",
	    "Content-Length: 5\r\n", "transfer-encoding: chunked\r\n", "\r\n");
	CASE("two different Content-Length", 0, "HTTP/1.1 200 OK\r\n",
	    "Content-Length: 5\r\n", "Content-Length: 50\r\n", "\r\n");
	CASE("two equal Content-Length", 1, "HTTP/1.1 200 OK\r\n",
	    "Content-Length: 5\r\n", "Content-Length: 5\r\n", "\r\n");
	CASE("Content-Length list", 0, "HTTP/1.1 200 OK\r\n",
	    "Content-Length: 5, 5\r\n", "\r\n");
	CASE("gzip body unasked", 0, "HTTP/1.1 200 OK\r\n",
	    "Content-Encoding: gzip\r\n", "Content-Length: 5\r\n", "\r\n");
	CASE("identity encoding", 1, "HTTP/1.1 200 OK\r\n",
	    "Content-Encoding: identity\r\n", "\r\n");
	CASE("1xx then a clean block", 1, "HTTP/1.1 100 Continue\r\n",
	    "Content-Encoding: gzip\r\n", "\r\n", "HTTP/1.1 200 OK\r\n",
	    "Content-Length: 2\r\n", "\r\n");
	return (done_testing());
}
