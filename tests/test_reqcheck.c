/*
 * test_reqcheck.c: request head checks (src/reqcheck.c) on heads laid out
 * as libmicrohttpd 0.9.75 leaves them (tests/mhdlayout.h).
 */
#include <stdio.h>
#include <string.h>

#include "mhdlayout.h"
#include "reqcheck.h"
#include "tap.h"

static struct mhdlayout m;

/* status for a raw head; -1 when MHD itself would refuse it */
static int
head_status(const char *raw, size_t n, const char **why)
{
	struct reqcheck_result res;

	if (mhdlayout(&m, raw, n) == -1)
		return (-1);
	reqcheck_head(&m.h, &res);
	if (why)
		*why = res.why ? res.why : "";
	return ((int)res.status);
}

/* A head with n filler bytes between prefix and suffix. */
static int
sized(const char *prefix, size_t n, const char *suffix)
{
	static char	 big[40000];
	size_t		 pl = strlen(prefix), sl = strlen(suffix);

	memcpy(big, prefix, pl);
	memset(big + pl, 'a', n);
	memcpy(big + pl + n, suffix, sl);
	return (head_status(big, pl + n + sl, NULL));
}

#define R(s)	s, sizeof(s) - 1
static const struct {
	const char	*raw;
	size_t		 len;
	int		 status;
	const char	*name;
	const char	*why;	/* substring of the message, or NULL */
} heads[] = {
	{ R("GET /incidents HTTP/1.1\r\nHost: x\r\n\r\n"), 0, "plain GET",
	  NULL },
	{ R("GET / HTTP/1.0\r\n\r\n"), 0, "HTTP/1.0 without Host", NULL },
	{ R("POST /hunting HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
	  "Content-Length: 2\r\n\r\n{}"), 0, "equal Content-Length twice",
	  NULL },
	{ R("POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
	  "Content-Length: 40\r\n\r\n"), 400, "differing Content-Length",
	  "Content-Length" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"), 400,
	  "obs-fold", "obs-fold" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n"), 400,
	  "whitespace before the colon", "whitespace" },
	{ R("GET /a?b\0c HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
	  "NUL in the target", "NUL" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"), 400,
	  "NUL in a field", "NUL" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nX-B: c\r\n\r\n"), 400,
	  "NUL in a field before another", "NUL" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: c\r\n\r\n"), 400,
	  "bare CR in a field", "bare CR" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\001b\r\n\r\n"), 400,
	  "control byte in a field", "control" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb \r\n\r\n"), 0,
	  "HTAB and trailing space in a value", NULL },
	{ R("GET / HTTP/1.1\nHost: x\n\n"), 400, "bare LF line ends",
	  "bare LF" },
	{ R("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"), 400,
	  "two Host fields", "Host" },
	{ R("GET / HTTP/1.1\r\n\r\n"), 400, "no Host on HTTP/1.1", "Host" },
	{ R("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 5\r\n\r\n"), 400, "TE and Content-Length",
	  "both" },
	{ R("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	  "\r\n"), 0, "chunked", NULL },
	{ R("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ChunkeD\r\n"
	  "\r\n"), 0, "chunked is case-insensitive", NULL },
	{ R("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
	  "chunked\r\n\r\n"), 501, "gzip, chunked", "chunked" },
	{ R("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity"
	  "\r\n\r\n"), 501, "identity", "chunked" },
	{ R("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n"), 501, "two TE fields", NULL },
	{ R("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
	  "TE on HTTP/1.0", "HTTP/1.0" },
	{ R("GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n"), 0, "escapes pass",
	  NULL },
	{ R("GET /a\177 HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "DEL in target",
	  "control" },
	{ R("GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
	  "absolute-form", "origin-form" },
	{ R("CONNECT evil.example:443 HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
	  "authority-form", "origin-form" },
};

static void
test_framing(void)
{
	const char *why;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		why = "";
		is_int(head_status(heads[i].raw, heads[i].len, &why),
		    heads[i].status, heads[i].name);
		if (heads[i].why)
			like(why, heads[i].why, "... the message says why");
	}
	/* sizes: 16 KiB target passes, one more byte is 414 */
	is_int(sized("GET /", REQCHECK_MAX_TARGET - 1, " HTTP/1.1\r\nHost: x"
	    "\r\n\r\n"), 0, "16384-byte target");
	is_int(sized("GET /", REQCHECK_MAX_TARGET, " HTTP/1.1\r\nHost: x"
	    "\r\n\r\n"), 414, "16385-byte target");
	is_int(sized("GET / HTTP/1.1\r\nHost: x\r\nX-A: ", REQCHECK_MAX_FIELDS,
	    "\r\n\r\n"), 431, "header section over 16 KiB");
	is_int(sized("GET / HTTP/1.1\r\nHost: x\r\nX-A: ",
	    REQCHECK_MAX_FIELDS - 40, "\r\n\r\n"), 0, "header section just "
	    "under 16 KiB");
}

#define HOK(s, l, sn)	reqcheck_host_ok(s, strlen(s), l, sn)

static void
test_host(void)
{
	ok(HOK("localhost", "127.0.0.1", NULL), "localhost");
	ok(HOK("LocalHost:8080", "127.0.0.1", NULL), "LocalHost:8080");
	ok(HOK("127.0.0.1:8080", "127.0.0.1", NULL), "127.0.0.1:8080");
	ok(HOK("127.5.6.7", "127.0.0.1", NULL), "127/8");
	ok(HOK("[::1]:8080", "127.0.0.1", NULL), "[::1]:8080");
	ok(!HOK("evil.example", "127.0.0.1", NULL), "rebinding name refused");
	ok(!HOK("evil.example:8080", "127.0.0.1", NULL), "... with a port");
	ok(!HOK("localhost.evil.example", "127.0.0.1", NULL), "suffix trick");
	ok(!HOK("localhost:", "127.0.0.1", NULL), "empty port");
	ok(!HOK("localhost:80a", "127.0.0.1", NULL), "bad port");
	ok(!HOK("10.1.2.3", "127.0.0.1", NULL), "other IP, loopback listener");
	ok(HOK("10.1.2.3:8080", "0.0.0.0", NULL), "IP literal, wildcard listen");
	ok(!HOK("defgate", "0.0.0.0", NULL), "name, wildcard listen");
	ok(HOK("defgate:8080", "0.0.0.0", "gw, defgate"), "server_names");
	ok(HOK("DEFGATE", "0.0.0.0", "gw,defgate"), "case-insensitive");
	ok(!HOK("defgat", "0.0.0.0", "gw,defgate"), "prefix is not a match");
	ok(HOK("192.0.2.1:1", "192.0.2.1", NULL), "listen address");
	ok(!HOK("", "127.0.0.1", NULL), "empty Host");
	ok(!HOK("a b", "127.0.0.1", "a b"), "space in Host");
}

#define OOK(s, sn, co)	reqcheck_origin_ok(s, strlen(s), "127.0.0.1", sn, co)

static void
test_origin(void)
{
	ok(OOK("http://localhost:8080", NULL, NULL), "own origin");
	ok(OOK("http://127.0.0.1:8080", NULL, NULL), "own IP origin");
	ok(!OOK("http://evil.example", NULL, NULL), "foreign origin");
	ok(!OOK("null", NULL, NULL), "null origin");
	ok(!OOK("http://localhost:8080/x", NULL, NULL), "origin with a path");
	ok(!OOK("http://evil@localhost", NULL, NULL), "userinfo");
	ok(OOK("https://soc.example.com", NULL, "https://soc.example.com"),
	    "cors_origins");
	ok(!OOK("https://soc.example.com.evil", NULL,
	    "https://soc.example.com"), "cors_origins exact");
	ok(reqcheck_json_type("application/json", 16), "application/json");
	ok(reqcheck_json_type("Application/JSON; charset=utf-8", 31),
	    "with charset");
	ok(!reqcheck_json_type("text/plain", 10), "text/plain");
	ok(!reqcheck_json_type("application/jsonx", 17), "jsonx");
}

int
main(void)
{
	test_framing();
	test_host();
	test_origin();
	return (done_testing());
}
