/*
 * huntshape.c: rewrite a Microsoft Graph runHuntingQuery answer into the
 * Defender advanced-hunting shape, streaming, in bounded memory.
 *
 *   {"@odata.context":"…","schema":[{"name":"A","type":"String"}],
 *    "results":[{"A":"x"}]}
 *   becomes
 *   {"Schema":[{"Name":"A","Type":"String"}],"Results":[{"A":"x"}]}
 *
 * The rules, exactly:
 * - The top level must be an object holding "schema" and "results" once
 *   each (in either order), both arrays of objects. Each schema entry holds
 *   "name" and "type" once each, both strings. Anything else is not the
 *   Graph shape: -1 (a Defender-shaped answer, with "Schema", fails too).
 * - Output: '{', then the kept members in input order as "Schema":<value>
 *   and "Results":<value> separated by ',', then '}'. Every other top-level
 *   member is dropped: @odata.context, and also a "stats"/"Stats" member,
 *   which Graph does not send; a future one would have a shape nobody has
 *   checked against Defender's Stats, so it is not passed off as one.
 *   Whitespace between top-level tokens is dropped.
 * - The two values are copied byte for byte, whitespace included, except
 *   the keys of the schema entries themselves: "name" -> "Name" and
 *   "type" -> "Type" (matched after unescaping, so "n\u0061me" is renamed
 *   too). Keys inside result rows are never renamed.
 * - The output is never longer than the input, at any point of the stream.
 * - The whole input is validated as JSON (RFC 8259, UTF-8, no unpaired
 *   surrogate escapes, nesting at most HUNTSHAPE_MAX_DEPTH); trailing data
 *   after the document and a truncated document fail.
 *
 * Use: huntshape_feed() each chunk of the body as it arrives (in place),
 * send what it returns, and huntshape_finish() at the end. A refusal can
 * come after output went out (a missing "results" is only known at the
 * end): a streaming caller then has to cut the response short, so the
 * client sees a broken body, never a wrong one.
 *
 * Memory: one fixed-size struct (a few hundred bytes), whatever the body
 * size. Pure: no I/O, no logging, no globals. The caller owns the instance
 * (huntshape_new/huntshape_free) and the buffers. Any thread may use an
 * instance, one call at a time; instances are independent.
 */
#ifndef DEFGATE_HUNTSHAPE_H
#define DEFGATE_HUNTSHAPE_H

#include <stddef.h>
#include <sys/types.h>

/* Deepest nesting of arrays/objects accepted (the top object is 1). */
#define HUNTSHAPE_MAX_DEPTH	128
/* Most output bytes that can lag behind the input across feed calls. */
#define HUNTSHAPE_MAX_HOLD	32

struct huntshape;

/* A new transformer, or NULL when memory is short; free it when done. */
struct huntshape *huntshape_new(void);

/*
 * Feed the next n bytes of the body from in; the output goes to out, which
 * is either in itself (in place) or a separate buffer of at least n bytes
 * (no other overlap). Returns the number of output bytes written (<= n), or
 * -1 when the input is malformed or not the Graph shape (huntshape_error()
 * says why; the instance then stays failed). Chunks may split the input
 * anywhere. Up to HUNTSHAPE_MAX_HOLD output bytes may be held back when a
 * chunk ends inside a key: later calls write them first, huntshape_finish()
 * writes what is left. Every byte is consumed: never feed a chunk twice
 * (libcurl hands the same data again after CURL_WRITEFUNC_PAUSE).
 */
ssize_t		 huntshape_feed(struct huntshape *, const char *in,
		    size_t n, char *out);

/*
 * End of the body: writes the held-back output (at most HUNTSHAPE_MAX_HOLD
 * bytes) to out (cap bytes; cap >= HUNTSHAPE_MAX_HOLD always suffices) and
 * returns its length, or -1 when the document was truncated, malformed or
 * not the Graph shape, or out was too small. Feeding after it fails.
 */
ssize_t		 huntshape_finish(struct huntshape *, char *out,
		    size_t cap);

/* Why the last call returned -1: a static string; NULL when none did. */
const char	*huntshape_error(const struct huntshape *);

/* NULL is fine. */
void		 huntshape_free(struct huntshape *);

#endif
