/*
 * fuzz_huntshape.c: libFuzzer harness for the streaming hunting reshape
 * (src/huntshape.c), which rewrites every Graph hunting answer.
 *
 * Input: a response body, as Graph would send it. It is run three ways:
 * whole (in place), in random chunks (seeded from the input, each chunk an
 * exactly-sized heap copy, output to a separate exactly-sized buffer) and
 * one byte at a time (in place).
 * Invariants: the three runs agree (accepted or not, same output bytes,
 * same reason); a call never writes more than it was given and finish
 * never needs more than HUNTSHAPE_MAX_HOLD bytes; a refusal has a reason
 * and never an internal one. When huntshape accepts, cJSON parses input
 * and output, and the output equals the transformation computed with cJSON
 * from the input: the schema and results members in input order as
 * "Schema" (entry keys name/type renamed Name/Type) and "Results" (rows
 * unchanged), compared as cJSON_PrintUnformatted() text.
 * Known cJSON 1.7.15 limits skip only the cJSON comparison: numbers of 64
 * or more characters (its number buffer is 64 bytes) and \u0000 (it ends
 * a key or string there).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "huntshape.h"

struct run {
	int		 ok;		/* finish returned >= 0 */
	const char	*why;
	char		*out;		/* malloc'd, outlen bytes */
	size_t		 outlen;
};

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

/*
 * Mode 0: the whole input in place; 1: one byte at a time in place; 2:
 * random chunk sizes from the seed *s, each chunk in its own exactly-sized
 * copy with a separate exactly-sized output buffer.
 */
static void
run(const uint8_t *data, size_t size, int mode, uint64_t *s, struct run *r)
{
	struct huntshape *h = huntshape_new();
	char		*copy = NULL, tail[HUNTSHAPE_MAX_HOLD];
	size_t		 at = 0;
	ssize_t		 n = 0;

	FUZZ_CHECK(h != NULL);
	r->out = malloc(size + HUNTSHAPE_MAX_HOLD + 1);
	FUZZ_CHECK(r->out != NULL);
	r->outlen = 0;
	if (mode != 2)
		copy = fuzz_dup(data, size);
	while (at < size) {
		size_t	 k;
		char	*in, *out;

		if (mode == 0)
			k = size;
		else if (mode == 1)
			k = 1;
		else {
			uint64_t v = rnd(s);

			k = v % 4 == 0 ? 1 + (v >> 8) % 64 : 1 + (v >> 8) % 8;
			if (k > size - at)
				k = size - at;
		}
		if (mode == 2) {
			in = fuzz_dup(data + at, k);
			out = malloc(k);
			FUZZ_CHECK(out != NULL);
		} else
			in = out = copy + at;
		n = huntshape_feed(h, in, k, out);
		FUZZ_CHECK(n == -1 || (n >= 0 && (size_t)n <= k));
		if (n > 0) {
			memcpy(r->out + r->outlen, out, (size_t)n);
			r->outlen += (size_t)n;
		}
		if (mode == 2) {
			free(in);
			free(out);
		}
		at += k;
		if (n == -1)
			break;
	}
	if (n >= 0) {
		n = huntshape_finish(h, tail, sizeof(tail));
		FUZZ_CHECK(n >= -1 && n <= HUNTSHAPE_MAX_HOLD);
		if (n > 0) {
			memcpy(r->out + r->outlen, tail, (size_t)n);
			r->outlen += (size_t)n;
		}
	}
	r->ok = n >= 0;
	r->why = huntshape_error(h);
	FUZZ_CHECK(r->ok == (r->why == NULL));
	FUZZ_CHECK(r->why == NULL || strstr(r->why, "internal") == NULL);
	FUZZ_CHECK(r->outlen <= size);
	huntshape_free(h);
	free(copy);
}

static void
same(const struct run *a, const struct run *b)
{
	FUZZ_CHECK(a->ok == b->ok);
	if (!a->ok) {
		FUZZ_CHECK(strcmp(a->why, b->why) == 0);
		return;
	}
	FUZZ_CHECK(a->outlen == b->outlen);
	FUZZ_CHECK(memcmp(a->out, b->out, a->outlen) == 0);
}

/* 1 when cJSON 1.7.15 cannot be the reference for this input. */
static int
beyond_cjson(const uint8_t *p, size_t n)
{
	size_t run_len = 0;

	for (size_t k = 0; k < n; k++) {
		run_len = p[k] != '\0' && strchr("0123456789+-.eE", p[k]) ?
		    run_len + 1 : 0;
		if (run_len >= 64)
			return (1);
		if (k + 6 <= n && memcmp(p + k, "\\u0000", 6) == 0)
			return (1);
	}
	return (0);
}

/* The Defender answer cJSON says the Graph answer g stands for. */
static cJSON *
expected(const cJSON *g)
{
	cJSON		*d = cJSON_CreateObject();
	const cJSON	*m, *e, *f;

	FUZZ_CHECK(d != NULL && cJSON_IsObject(g));
	cJSON_ArrayForEach(m, g) {
		if (strcmp(m->string, "results") == 0) {
			FUZZ_CHECK(cJSON_IsArray(m));
			cJSON_AddItemToObject(d, "Results",
			    cJSON_Duplicate(m, 1));
		} else if (strcmp(m->string, "schema") == 0) {
			cJSON *s = cJSON_AddArrayToObject(d, "Schema");

			FUZZ_CHECK(s != NULL && cJSON_IsArray(m));
			cJSON_ArrayForEach(e, m) {
				cJSON *o = cJSON_CreateObject();

				FUZZ_CHECK(o != NULL && cJSON_IsObject(e));
				cJSON_ArrayForEach(f, e)
					cJSON_AddItemToObject(o,
					    strcmp(f->string, "name") == 0 ?
					    "Name" : strcmp(f->string, "type")
					    == 0 ? "Type" : f->string,
					    cJSON_Duplicate(f, 1));
				cJSON_AddItemToArray(s, o);
			}
		}
	}
	return (d);
}

static void
check_with_cjson(const uint8_t *data, size_t size, const struct run *r)
{
	char	*in = fuzz_strdup(data, size), *out, *want_s, *got_s;
	cJSON	*g, *got, *want;

	out = fuzz_strdup(r->out, r->outlen);
	g = cJSON_ParseWithLength(in, size);
	got = cJSON_ParseWithLength(out, r->outlen);
	FUZZ_CHECK(g != NULL);
	FUZZ_CHECK(got != NULL);
	want = expected(g);
	want_s = cJSON_PrintUnformatted(want);
	got_s = cJSON_PrintUnformatted(got);
	FUZZ_CHECK(want_s != NULL && got_s != NULL);
	FUZZ_CHECK(strcmp(want_s, got_s) == 0);
	cJSON_free(want_s);
	cJSON_free(got_s);
	cJSON_Delete(want);
	cJSON_Delete(got);
	cJSON_Delete(g);
	free(out);
	free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	 whole, bytes, chunks;
	uint64_t	 seed = 1469598103934665603ULL;

	for (size_t k = 0; k < size; k++)
		seed = (seed ^ data[k]) * 1099511628211ULL;
	seed |= 1;			/* xorshift must not start at 0 */
	run(data, size, 0, &seed, &whole);
	run(data, size, 1, &seed, &bytes);
	run(data, size, 2, &seed, &chunks);
	same(&whole, &bytes);
	same(&whole, &chunks);
	if (whole.ok && !beyond_cjson(data, size))
		check_with_cjson(data, size, &whole);
	free(whole.out);
	free(bytes.out);
	free(chunks.out);
	return (0);
}
