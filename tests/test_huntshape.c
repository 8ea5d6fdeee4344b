/*
 * test_huntshape.c: the streaming Graph -> Defender hunting reshape
 * (src/huntshape.c): the exact bytes on a realistic answer, every chunk
 * split, rows left alone, escapes across chunks, malformed and wrongly
 * shaped input, and a 50 MB answer through a 64 KiB buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "huntshape.h"
#include "tap.h"

/* ---- a realistic answer (Graph sends compact JSON) ---- */

#define CTX	"\"@odata.context\":\"https://graph.microsoft.com/v1.0/" \
		"$metadata#microsoft.graph.security.huntingQueryResults\""
/* The rows are the same bytes on both sides: that is the point. */
#define ROWS \
	"[{\"Timestamp\":\"2026-11-20T06:38:35.7664356Z\"," \
	"\"DeviceId\":\"0e1f2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6\"," \
	"\"DeviceName\":\"ws-0142.corp.contoso.com\"," \
	"\"FileName\":\"powershell.exe\"," \
	"\"ProcessCommandLine\":\"powershell.exe -nop -c \\\"Get-Item " \
	"C:\\\\Windows\\\\Temp\\\\a.ps1\\\"\\r\\n\"," \
	"\"AccountName\":\"Jos\\u00e9 \xc3\x98stergaard \\ud83d\\ude00\"," \
	"\"InitiatingProcessId\":4711,\"Score\":-1.5e-3,\"IsAdmin\":true," \
	"\"Parent\":null,\"AdditionalFields\":{\"name\":\"n\",\"type\":\"t\"," \
	"\"schema\":[1,2.0,{\"results\":[]}],\"Name\":false}}," \
	"{\"Timestamp\":\"2026-11-20T06:39:01.0000001Z\"," \
	"\"DeviceId\":\"\",\"DeviceName\":\"srv-db01\"," \
	"\"FileName\":\"cmd.exe\"," \
	"\"ProcessCommandLine\":\"cmd /c \\/ \\b\\f\\t\"," \
	"\"AccountName\":\"system\",\"InitiatingProcessId\":0,\"Score\":0," \
	"\"IsAdmin\":false,\"Parent\":\"wininit.exe\"," \
	"\"AdditionalFields\":[]}]"

static const char GRAPH[] =
    "{" CTX ",\"schema\":["
    "{\"name\":\"Timestamp\",\"type\":\"DateTime\"},"
    "{\"name\":\"DeviceId\",\"type\":\"String\"},"
    "{\"name\":\"DeviceName\",\"type\":\"String\"},"
    "{\"name\":\"FileName\",\"type\":\"String\"},"
    "{\"name\":\"ProcessCommandLine\",\"type\":\"String\"},"
    "{\"name\":\"AccountName\",\"type\":\"String\"},"
    "{\"name\":\"InitiatingProcessId\",\"type\":\"Int64\"},"
    "{\"name\":\"Score\",\"type\":\"Double\"},"
    "{\"name\":\"IsAdmin\",\"type\":\"Boolean\"},"
    "{\"name\":\"Parent\",\"type\":\"String\"},"
    "{\"name\":\"AdditionalFields\",\"type\":\"Object\"}],"
    "\"results\":" ROWS "}";

static const char DEFENDER[] =
    "{\"Schema\":["
    "{\"Name\":\"Timestamp\",\"Type\":\"DateTime\"},"
    "{\"Name\":\"DeviceId\",\"Type\":\"String\"},"
    "{\"Name\":\"DeviceName\",\"Type\":\"String\"},"
    "{\"Name\":\"FileName\",\"Type\":\"String\"},"
    "{\"Name\":\"ProcessCommandLine\",\"Type\":\"String\"},"
    "{\"Name\":\"AccountName\",\"Type\":\"String\"},"
    "{\"Name\":\"InitiatingProcessId\",\"Type\":\"Int64\"},"
    "{\"Name\":\"Score\",\"Type\":\"Double\"},"
    "{\"Name\":\"IsAdmin\",\"Type\":\"Boolean\"},"
    "{\"Name\":\"Parent\",\"Type\":\"String\"},"
    "{\"Name\":\"AdditionalFields\",\"Type\":\"Object\"}],"
    "\"Results\":" ROWS "}";

/*
 * Run doc through a new instance in chunks of sizes[0], sizes[1], ...
 * (cycled; 0 means the rest). Each chunk is an exactly-sized heap copy, so
 * ASan sees any access outside it; it is rewritten in place, or into a
 * separate exactly-sized buffer when separate is set. Returns the output
 * (malloc'd, NUL-terminated) or NULL when feed or finish said -1; *why
 * gets huntshape_error().
 */
static char *
shape(const char *doc, size_t len, const size_t *sizes, size_t nsizes,
    int separate, size_t *outlen, const char **why)
{
	struct huntshape *h = huntshape_new();
	char		*out = malloc(len + HUNTSHAPE_MAX_HOLD + 1);
	size_t		 at = 0, o = 0, k = 0;
	ssize_t		 r = 0;

	if (h == NULL || out == NULL)
		abort();
	*why = NULL;
	while (at < len) {
		size_t	 n = sizes[k++ % nsizes];
		char	*in, *dst;

		if (n == 0 || n > len - at)
			n = len - at;
		if ((in = malloc(n)) == NULL ||
		    (dst = separate ? malloc(n) : in) == NULL)
			abort();
		memcpy(in, doc + at, n);
		r = huntshape_feed(h, in, n, dst);
		if (r >= 0) {
			if ((size_t)r > n)
				abort();	/* the contract */
			memcpy(out + o, dst, (size_t)r);
			o += (size_t)r;
		}
		if (separate)
			free(dst);
		free(in);
		at += n;
		if (r < 0)
			break;
	}
	if (r >= 0) {
		char	 tail[HUNTSHAPE_MAX_HOLD];

		r = huntshape_finish(h, tail, sizeof(tail));
		if (r > 0) {
			memcpy(out + o, tail, (size_t)r);
			o += (size_t)r;
		}
	}
	*why = huntshape_error(h);
	huntshape_free(h);
	if (r < 0) {
		free(out);
		return (NULL);
	}
	out[o] = '\0';
	*outlen = o;
	return (out);
}

static char *
shape_whole(const char *doc, size_t len, size_t *outlen, const char **why)
{
	static const size_t whole[] = { 0 };

	return (shape(doc, len, whole, 1, 0, outlen, why));
}

static void
test_exact(void)
{
	const char	*why;
	size_t		 n;
	char		*out;

	out = shape_whole(GRAPH, strlen(GRAPH), &n, &why);
	is_str(out, DEFENDER, "realistic Graph answer -> exact Defender bytes");
	is_int(n, strlen(DEFENDER), "output length");
	ok(why == NULL, "no error reason on success");
	ok(n <= strlen(GRAPH), "output not longer than input");
	free(out);
}

/* Every two-chunk split, byte by byte, and odd chunk sizes, in place and
 * into a separate buffer: always the same bytes. */
static void
check_splits(const char *doc, const char *want, const char *name)
{
	size_t		 len = strlen(doc), n, k, bad = 0;
	const char	*why;
	char		*out;

	for (k = 1; k < len; k++) {
		size_t sizes[2] = { k, 0 };

		out = shape(doc, len, sizes, 2, (int)(k % 2), &n, &why);
		if (out == NULL || strcmp(out, want) != 0) {
			if (bad++ == 0)
				diag("split at %zu: %s", k,
				    out ? out : why);
		}
		free(out);
	}
	ok(bad == 0, "%s: all %zu two-chunk splits give the same bytes",
	    name, len - 1);
	for (int sep = 0; sep <= 1; sep++) {
		static const size_t one[] = { 1 }, odd[] = { 3, 1, 7, 2, 13 };

		out = shape(doc, len, one, 1, sep, &n, &why);
		is_str(out, want, sep ? "1-byte chunks, separate output" :
		    "1-byte chunks, in place");
		free(out);
		out = shape(doc, len, odd, 5, sep, &n, &why);
		is_str(out, want, "chunks of 3,1,7,2,13 bytes");
		free(out);
	}
}

static void
test_splits(void)
{
	check_splits(GRAPH, DEFENDER, "realistic answer");
	/* results first, whitespace everywhere, an unknown member last */
	check_splits(" \r\n{ \"results\" : [ {\"a\" : 1 } ] ,\n"
	    "\t\"schema\"\t:\t[ { \"type\" : \"Int64\" , \"name\" : \"a\" } ] ,"
	    "\"stats\" : { \"x\" : [ 1 , \"\\\"}\" ] } }\n ",
	    "{\"Results\":[ {\"a\" : 1 } ],\"Schema\":[ { \"Type\" : \"Int64\" "
	    ", \"Name\" : \"a\" } ]}", "whitespace and order");
	/* escapes in every place a chunk can cut them */
	check_splits("{\"@odata.\\u0063ontext\":\"\\\\\\\"\","
	    "\"sch\\u0065ma\":[{\"n\\u0061me\":\"\\ud83d\\ude00\","
	    "\"\\u0074\\u0079\\u0070\\u0065\":\"S\\u0074ring\","
	    "\"na\\u006de2\":1,\"\\\"name\":2}],"
	    "\"r\\u0065sults\":[{\"\\u00e9\":\"\\u20ac\\\\\"}]}",
	    "{\"Schema\":[{\"Name\":\"\\ud83d\\ude00\","
	    "\"Type\":\"S\\u0074ring\",\"na\\u006de2\":1,\"\\\"name\":2}],"
	    "\"Results\":[{\"\\u00e9\":\"\\u20ac\\\\\"}]}", "escapes");
	/* the longest hold: 4 escaped letters of "name", then a 5th */
	check_splits("{\"schema\":[{\"name\":\"a\",\"type\":\"b\","
	    "\"\\u006e\\u0061\\u006d\\u0065\\u0078\":1}],\"results\":[]}",
	    "{\"Schema\":[{\"Name\":\"a\",\"Type\":\"b\","
	    "\"\\u006e\\u0061\\u006d\\u0065\\u0078\":1}],\"Results\":[]}",
	    "longest key hold");
	check_splits("{\"schema\":[],\"results\":[]}",
	    "{\"Schema\":[],\"Results\":[]}", "empty answer");
}

/* A chunk that ends inside a key leaves output for the next call/finish. */
static const char HOLD_A[] = "{\"schema\":[],\"resu", HOLD_B[] = "lts\":[]}";

/* Feed HOLD_A then HOLD_B, in place in a and b; the two output lengths. */
static void
feed_hold(struct huntshape *h, char a[sizeof(HOLD_A)], char b[sizeof(HOLD_B)],
    ssize_t *r1, ssize_t *r2)
{
	memcpy(a, HOLD_A, sizeof(HOLD_A));
	memcpy(b, HOLD_B, sizeof(HOLD_B));
	*r1 = huntshape_feed(h, a, sizeof(HOLD_A) - 1, a);
	*r2 = huntshape_feed(h, b, sizeof(HOLD_B) - 1, b);
}

static void
test_hold(void)
{
	struct huntshape *h = huntshape_new();
	char		 a[sizeof(HOLD_A)], b[sizeof(HOLD_B)];
	char		 tail[HUNTSHAPE_MAX_HOLD], small[2];
	ssize_t		 r1, r2, r3;

	ok(h != NULL, "new");
	ok(huntshape_error(h) == NULL, "no error before any input");
	feed_hold(h, a, b, &r1, &r2);
	is_int(r1, 12, "first chunk: 12 bytes out (the ',' waits for a key)");
	ok(r1 == 12 && memcmp(a, "{\"Schema\":[]", 12) == 0,
	    "first chunk bytes");
	is_int(r2, 8, "second chunk: as many bytes as it had");
	ok(r2 == 8 && memcmp(b, ",\"Result", 8) == 0, "second chunk bytes");
	is_int(huntshape_finish(h, small, sizeof(small)), -1,
	    "finish with too small a buffer fails");
	like(huntshape_error(h), "too small", "too small: reason");
	huntshape_free(h);

	h = huntshape_new();
	feed_hold(h, a, b, &r1, &r2);
	r3 = huntshape_finish(h, tail, sizeof(tail));
	is_int(r3, 6, "finish writes the 6 held bytes");
	ok(r3 == 6 && memcmp(tail, "s\":[]}", 6) == 0, "held bytes");
	is_int(huntshape_feed(h, "x", 1, tail), -1, "feed after finish fails");
	like(huntshape_error(h), "after", "feed after finish: reason");
	is_int(huntshape_feed(h, "{", 1, tail), -1,
	    "an instance stays failed");
	huntshape_free(h);
	huntshape_free(NULL);
}

/* Column names that are also the special keys: rows keep them as they are. */
static void
test_rows_untouched(void)
{
	static const char rows[] =
	    "[{\"schema\":\"s\",\"name\":\"n\",\"type\":\"t\",\"results\":"
	    "{\"name\":1,\"type\":[{\"name\":2}],\"schema\":[],"
	    "\"results\":[]}},"
	    "{\"schema\":null,\"name\":\"\",\"type\":0,\"results\":[{}]}]";
	char	 graph[1024], want[1024];
	const char *why;
	size_t	 n;
	char	*out;

	snprintf(graph, sizeof(graph), "{\"schema\":["
	    "{\"name\":\"schema\",\"type\":\"String\"},"
	    "{\"name\":\"name\",\"type\":\"String\"},"
	    "{\"name\":\"type\",\"type\":\"Int32\"},"
	    "{\"name\":\"results\",\"type\":\"Object\",\"name_\":\"x\","
	    "\"Name\":\"kept\",\"names\":\"y\",\"nam\":\"z\"}],"
	    "\"results\":%s," CTX "}", rows);
	snprintf(want, sizeof(want), "{\"Schema\":["
	    "{\"Name\":\"schema\",\"Type\":\"String\"},"
	    "{\"Name\":\"name\",\"Type\":\"String\"},"
	    "{\"Name\":\"type\",\"Type\":\"Int32\"},"
	    "{\"Name\":\"results\",\"Type\":\"Object\",\"name_\":\"x\","
	    "\"Name\":\"kept\",\"names\":\"y\",\"nam\":\"z\"}],"
	    "\"Results\":%s}", rows);
	out = shape_whole(graph, strlen(graph), &n, &why);
	is_str(out, want, "columns named schema/name/type/results: rows as "
	    "they were, only schema entry keys renamed");
	free(out);
	check_splits(graph, want, "special column names");
}

struct bad {
	const char	*doc;
	const char	*why;		/* a word of the reason */
	const char	*name;
};

static void
check_bad(const struct bad *b)
{
	static const size_t one[] = { 1 };
	const char	*why, *why1;
	size_t		 n;
	char		*out, *out1;

	out = shape_whole(b->doc, strlen(b->doc), &n, &why);
	out1 = shape(b->doc, strlen(b->doc), one, 1, 0, &n, &why1);
	ok(out == NULL && out1 == NULL, "-1: %s", b->name);
	if (!like(why, b->why, b->name))
		diag("reason: %s", why ? why : "NULL");
	ok(why1 != NULL && why != NULL && strcmp(why, why1) == 0,
	    "same reason in 1-byte chunks: %s", b->name);
	free(out);
	free(out1);
}

#define OK_HEAD	"{\"schema\":[{\"name\":\"a\",\"type\":\"String\"}]," \
		"\"results\":["

static void
test_malformed(void)
{
	static const struct bad bad[] = {
		{ "", "empty", "empty body" },
		{ "  \n", "empty", "only whitespace" },
		{ OK_HEAD "]}x", "after the end", "trailing garbage" },
		{ OK_HEAD "]}{}", "after the end", "a second document" },
		{ OK_HEAD "]} ]", "after the end", "trailing bracket" },
		{ OK_HEAD "{\"a\":\"\\x\"}]}", "escape", "bad escape \\x" },
		{ OK_HEAD "{\"a\":\"\\u12g4\"}]}", "\\u", "bad \\u hex" },
		{ OK_HEAD "{\"a\":\"\\ud800\"}]}", "surrogate",
		  "lone high surrogate" },
		{ OK_HEAD "{\"a\":\"\\udc00\"}]}", "surrogate",
		  "lone low surrogate" },
		{ OK_HEAD "{\"a\":\"\\ud800\\u0041\"}]}", "surrogate",
		  "high surrogate + non-low" },
		{ OK_HEAD "{\"a\":\"\\ud800\\n\"}]}", "surrogate",
		  "high surrogate + other escape" },
		{ OK_HEAD "{\"a\":\"x\ny\"}]}", "control", "raw newline" },
		{ OK_HEAD "{\"a\":\"\xc0\x80\"}]}", "UTF-8", "overlong NUL" },
		{ OK_HEAD "{\"a\":\"\xed\xa0\x80\"}]}", "UTF-8",
		  "UTF-8 surrogate" },
		{ OK_HEAD "{\"a\":\"\xf5\x80\x80\x80\"}]}", "UTF-8",
		  "beyond U+10FFFF" },
		{ OK_HEAD "{\"a\":\"\xe2\x82\"}]}", "UTF-8",
		  "cut UTF-8 sequence" },
		{ OK_HEAD "{\"a\":\"\x80\"}]}", "UTF-8", "stray continuation" },
		{ OK_HEAD "{\"a\":[1}]}", "unbalanced", "] closed by }" },
		{ OK_HEAD "{\"a\":{\"b\":1]}]}", "unbalanced",
		  "} closed by ]" },
		{ OK_HEAD "{\"a\":1,}]}", "key", "trailing comma in object" },
		{ OK_HEAD "{\"a\":[1,]}]}", "value",
		  "trailing comma in array" },
		{ OK_HEAD "{\"a\" 1}]}", "':'", "missing colon" },
		{ OK_HEAD "{\"a\":1 \"b\":2}]}", "','", "missing comma" },
		{ OK_HEAD "{a:1}]}", "key", "unquoted key" },
		{ OK_HEAD "{\"a\":01}]}", "number", "leading zero" },
		{ OK_HEAD "{\"a\":1.}]}", "number", "1." },
		{ OK_HEAD "{\"a\":.5}]}", "value", ".5" },
		{ OK_HEAD "{\"a\":-}]}", "number", "lone minus" },
		{ OK_HEAD "{\"a\":+1}]}", "value", "+1" },
		{ OK_HEAD "{\"a\":1e}]}", "number", "1e" },
		{ OK_HEAD "{\"a\":1e+}]}", "number", "1e+" },
		{ OK_HEAD "{\"a\":1.5.2}]}", "','", "1.5.2" },
		{ OK_HEAD "{\"a\":NaN}]}", "value", "NaN" },
		{ OK_HEAD "{\"a\":tru}]}", "literal", "tru" },
		{ OK_HEAD "{\"a\":nulL}]}", "literal", "nulL" },
		{ OK_HEAD "{\"a\":'x'}]}", "value", "single quotes" },
		{ "{\"schema\":[],\"results\":[]", "truncated", "no final }" },
		{ "{\"schema\":[],\"results\":[{\"a\":\"x", "truncated",
		  "ends in a string" },
		{ "{\"schema\":[],\"results\":[{\"a\":12", "truncated",
		  "ends in a number" },
		{ "{\"schema\":[],\"results\":[{\"a\":\"\\u00", "truncated",
		  "ends in an escape" },
		{ "[]", "not a JSON object", "top-level array" },
		{ "\"schema\"", "not a JSON object", "top-level string" },
		{ "\xef\xbb\xbf{\"schema\":[],\"results\":[]}", "no document",
		  "byte order mark" },
		{ "{\"Stats\":{\"ExecutionTime\":0.1},"
		  "\"Schema\":[{\"Name\":\"a\","
		  "\"Type\":\"String\"}],\"Results\":[]}", "no schema",
		  "a Defender-shaped answer" },
		{ "{\"schema\":[]}", "no results", "no results" },
		{ "{\"results\":[]}", "no schema", "no schema" },
		{ "{\"schema\":{},\"results\":[]}", "schema is not an array",
		  "schema an object" },
		{ "{\"schema\":null,\"results\":[]}", "schema is not an array",
		  "schema null" },
		{ "{\"schema\":[],\"results\":{}}", "results is not an array",
		  "results an object" },
		{ "{\"schema\":[\"a\"],\"results\":[]}", "schema entry is not",
		  "schema entry a string" },
		{ "{\"schema\":[[]],\"results\":[]}", "schema entry is not",
		  "schema entry an array" },
		{ "{\"schema\":[],\"results\":[1]}", "row is not an object",
		  "a row that is a number" },
		{ "{\"schema\":[{\"name\":\"a\"}],\"results\":[]}", "lacks",
		  "entry without type" },
		{ "{\"schema\":[{\"type\":\"a\"}],\"results\":[]}", "lacks",
		  "entry without name" },
		{ "{\"schema\":[{\"name\":1,\"type\":\"a\"}],\"results\":[]}",
		  "not a string", "name a number" },
		{ "{\"schema\":[{\"name\":\"a\",\"type\":{}}],\"results\":[]}",
		  "not a string", "type an object" },
		{ "{\"schema\":[{\"name\":\"a\",\"type\":\"b\","
		  "\"name\":\"c\"}],"
		  "\"results\":[]}", "two name", "entry with two names" },
		{ "{\"schema\":[],\"schema\":[],\"results\":[]}", "two schema",
		  "two schema members" },
		{ "{\"schema\":[],\"results\":[],\"r\\u0065sults\":[]}",
		  "two results", "two results members (one escaped)" },
	};

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		check_bad(&bad[k]);
}

/* Every proper prefix of a valid answer is a truncated document. */
static void
test_truncated(void)
{
	size_t		 len = strlen(GRAPH), n, k, accepted = 0;
	const char	*why;
	char		*out;

	for (k = 0; k < len; k++) {
		static const size_t whole[] = { 0 };

		out = shape(GRAPH, k, whole, 1, 0, &n, &why);
		if (out != NULL && accepted++ == 0)
			diag("prefix of %zu bytes accepted", k);
		free(out);
	}
	ok(accepted == 0, "all %zu proper prefixes fail at finish", len);
}

static void
test_depth(void)
{
	size_t		 pre = strlen(OK_HEAD "{\"a\":"), len, n;
	const char	*why;
	char		*doc, *out;
	int		 d;

	/* depth 1 object, 2 results, 3 row: 125 more arrays reach 128 */
	for (d = 125; d <= 126; d++) {
		len = pre + 2 * (size_t)d + 3;
		if ((doc = malloc(len + 1)) == NULL)
			abort();
		memcpy(doc, OK_HEAD "{\"a\":", pre);
		memset(doc + pre, '[', (size_t)d);
		memset(doc + pre + d, ']', (size_t)d);
		memcpy(doc + pre + 2 * d, "}]}", 4);
		out = shape_whole(doc, len, &n, &why);
		if (d == 125)
			ok(out != NULL, "nesting of exactly %d accepted",
			    HUNTSHAPE_MAX_DEPTH);
		else {
			ok(out == NULL, "nesting of %d refused",
			    HUNTSHAPE_MAX_DEPTH + 1);
			like(why, "deep", "nesting: reason");
		}
		free(out);
		free(doc);
	}
	/* a depth bomb: 4 MiB of '[' inside a row */
	len = pre + ((size_t)4 << 20);
	if ((doc = malloc(len)) == NULL)
		abort();
	memcpy(doc, OK_HEAD "{\"a\":", pre);
	memset(doc + pre, '[', len - pre);
	out = shape_whole(doc, len, &n, &why);
	ok(out == NULL, "4 MiB depth bomb refused");
	like(why, "deep", "depth bomb: reason");
	free(out);
	free(doc);
}

/* ---- 50 MB: a generated answer through one 64 KiB buffer ---- */

#define BIG_ROWS	180000
#define BIG_BUF		65536

struct gen {
	int	 defender;	/* write the expected output instead */
	long	 row;		/* next row to write; -1: the head */
	char	 pending[1024];
	size_t	 plen, pat;
};

/* Next bytes of the document into p (at most n); 0 at the end. */
static size_t
gen_read(struct gen *g, char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		if (g->pat == g->plen) {
			int k;

			if (g->row == -1)
				k = snprintf(g->pending, sizeof(g->pending),
				    g->defender ? "{\"Schema\":[{\"Name\":"
				    "\"Timestamp\",\"Type\":\"DateTime\"},"
				    "{\"Name\":\"DeviceName\",\"Type\":"
				    "\"String\"},{\"Name\":\"Cmd\",\"Type\":"
				    "\"String\"}],\"Results\":[" :
				    "{" CTX ",\"schema\":[{\"name\":"
				    "\"Timestamp\",\"type\":\"DateTime\"},"
				    "{\"name\":\"DeviceName\",\"type\":"
				    "\"String\"},{\"name\":\"Cmd\",\"type\":"
				    "\"String\"}],\"results\":[");
			else if (g->row < BIG_ROWS)
				k = snprintf(g->pending, sizeof(g->pending),
				    "%s{\"Timestamp\":\"2026-11-%02ldT"
				    "%02ld:%02ld:%02ld.%07ldZ\","
				    "\"DeviceName\":\"ws-%05ld.corp."
				    "contoso.com\",\"Cmd\":\"C:\\\\Windows\\\\"
				    "System32\\\\cmd.exe /c echo \\\"%ld\\\" "
				    "\\u00e9\xc3\xa9 %0*ld\",\"name\":%ld.%ld}",
				    g->row ? "," : "", 1 + g->row % 28,
				    g->row % 24, g->row % 60, (g->row * 7) % 60,
				    g->row * 13 % 10000000, g->row % 99991,
				    g->row, (int)(80 + g->row % 97), g->row,
				    g->row, g->row % 1000);
			else if (g->row == BIG_ROWS)
				k = snprintf(g->pending, sizeof(g->pending),
				    "]}");
			else
				return (done);
			if (k < 0 || (size_t)k >= sizeof(g->pending))
				abort();
			g->plen = (size_t)k;
			g->pat = 0;
			g->row++;
		}
		{
			size_t m = g->plen - g->pat;

			if (m > n - done)
				m = n - done;
			memcpy(p + done, g->pending + g->pat, m);
			g->pat += m;
			done += m;
		}
	}
	return (done);
}

static uint64_t
fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		h ^= (unsigned char)p[k];
		h *= 1099511628211ULL;
	}
	return (h);
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_maxrss);
}

static void
test_big(void)
{
	struct gen	 g = { .row = -1 }, e = { .defender = 1, .row = -1 };
	struct huntshape *h = huntshape_new();
	static char	 buf[BIG_BUF];
	uint64_t	 got = 1469598103934665603ULL, want = got;
	size_t		 in = 0, outlen = 0, wantlen = 0, n, feeds = 0;
	ssize_t		 r = 0;
	long		 rss0 = maxrss_kib();

	if (h == NULL)
		abort();
	/* vary the chunk so boundaries land everywhere in the rows */
	while ((n = gen_read(&g, buf, BIG_BUF - feeds++ % 61)) > 0) {
		in += n;
		if ((r = huntshape_feed(h, buf, n, buf)) < 0)
			break;
		got = fnv1a(got, buf, (size_t)r);
		outlen += (size_t)r;
	}
	if (r >= 0 && (r = huntshape_finish(h, buf, sizeof(buf))) > 0) {
		got = fnv1a(got, buf, (size_t)r);
		outlen += (size_t)r;
	}
	ok(r >= 0, "50 MB answer accepted (%s)",
	    huntshape_error(h) ? huntshape_error(h) : "no error");
	ok(in > (size_t)50 << 20, "the answer is over 50 MiB (%zu bytes)", in);
	while ((n = gen_read(&e, buf, BIG_BUF)) > 0) {
		want = fnv1a(want, buf, n);
		wantlen += n;
	}
	is_int(outlen, wantlen, "50 MB: output length is the Defender length");
	ok(got == want, "50 MB: output checksum is the Defender checksum");
	/* the whole body held in memory would add 50 MiB */
	ok(maxrss_kib() - rss0 < 16 * 1024,
	    "50 MB through a 64 KiB buffer: peak RSS grew by %ld KiB",
	    maxrss_kib() - rss0);
	huntshape_free(h);
}

int
main(void)
{
	plan_lazy();
	test_exact();
	test_splits();
	test_hold();
	test_rows_untouched();
	test_malformed();
	test_truncated();
	test_depth();
	test_big();
	return (done_testing());
}
