/*
 * huntshape.c: Graph runHuntingQuery answer -> Defender hunting shape, as a
 * streaming JSON scanner (a pushdown automaton fed one byte at a time, with
 * a bulk path for plain string bytes). cJSON would need the whole body in
 * memory; Graph answers reach 50 MB. See huntshape.h for the exact rules.
 *
 * Output discipline: the output position never passes the input position
 * within a call (so out may be in). Bytes that cannot be written yet (a
 * renamed key whose input arrived in an earlier chunk) wait in pend[] and
 * go out as soon as there is room. Why that stays within HUNTSHAPE_MAX_HOLD:
 * every output byte stands for one input byte consumed no later than it is
 * produced, so what can lag is only output standing for input consumed
 * before the call: the bytes of a top-level key not yet decided
 * (',"results"': 10) or the raw bytes of a schema-entry key held while it
 * may still be "name" or "type" (4 escapes of 6 bytes plus one more
 * character: 30).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "huntshape.h"

#define KEY_HOLD	32		/* raw bytes of a schema-entry key */

enum hs_state {
	ST_START,	/* before the top-level '{' */
	ST_VALUE,	/* a value must follow (after ':' or an array's ',') */
	ST_ARR_FIRST,	/* after '[': a value or ']' */
	ST_OBJ_FIRST,	/* after '{': a key or '}' */
	ST_OBJ_KEY,	/* after an object's ',': a key */
	ST_COLON,	/* after a key */
	ST_AFTER,	/* after a value inside a container: ',' or close */
	ST_STR,		/* inside a string */
	ST_ESC,		/* after '\' */
	ST_HEX,		/* inside \uXXXX */
	ST_LOW_BS,	/* after a high surrogate escape: '\' must follow */
	ST_LOW_U,	/* ... then 'u' */
	ST_NUM_MINUS, ST_NUM_ZERO, ST_NUM_INT, ST_NUM_DOT, ST_NUM_FRAC,
	ST_NUM_E, ST_NUM_ESIGN, ST_NUM_EXP,
	ST_LIT,		/* inside true, false or null */
	ST_DONE,	/* after the top-level '}': only whitespace */
	ST_FINISHED	/* huntshape_finish() succeeded */
};

enum hs_top {		/* the top-level member being read */
	TOP_NONE, TOP_DROP, TOP_SCHEMA, TOP_RESULTS
};

enum hs_key {		/* what the current string is */
	KEY_VALUE,	/* a value, not a key */
	KEY_PLAIN,	/* a key that is copied as it is (or dropped) */
	KEY_TOP,	/* a top-level key: matched, never copied */
	KEY_ENTRY	/* a schema entry's key: held, maybe renamed */
};

#define SEEN_SCHEMA	0x1
#define SEEN_RESULTS	0x2
#define SEEN_NAME	0x1
#define SEEN_TYPE	0x2
#define ENTRY_NONE	2	/* entry_key: neither name nor type */

static const char *const top_words[2] = { "schema", "results" };
static const char *const entry_words[2] = { "name", "type" };
static const char *const entry_out[2] = { "Name", "Type" };
static const char *const literals[3] = { "true", "false", "null" };

struct huntshape {
	const char	*err;
	enum hs_state	 state;
	enum hs_top	 top;
	enum hs_key	 key;
	unsigned	 depth;		/* open containers */
	unsigned char	 objbit[HUNTSHAPE_MAX_DEPTH / 8]; /* 1: object */
	unsigned char	 copy;		/* in a kept member's value */
	unsigned char	 seen;		/* SEEN_SCHEMA | SEEN_RESULTS */
	unsigned char	 nkept;		/* kept members so far */
	unsigned char	 entry_seen;	/* SEEN_NAME | SEEN_TYPE */
	unsigned char	 entry_key;	/* 0 name, 1 type, ENTRY_NONE */
	unsigned char	 mmask;		/* candidates still alive */
	unsigned char	 mpos;		/* characters matched */
	unsigned char	 holding;	/* hold[] gets the entry key */
	unsigned char	 nhold;
	unsigned char	 npend;
	unsigned char	 hexn;		/* \uXXXX digits read */
	unsigned char	 low;		/* \uXXXX: low surrogate */
	unsigned char	 u8_need;	/* UTF-8 continuations to come */
	unsigned char	 u8_lo, u8_hi;	/* range of the next one */
	unsigned char	 lit, litpos;	/* literals[lit][litpos] */
	unsigned	 cp;		/* \uXXXX value so far */
	char		 hold[KEY_HOLD];
	char		 pend[HUNTSHAPE_MAX_HOLD];
};

/* The output cursor of one huntshape_feed() call. */
struct hs_out {
	char		*out;
	size_t		 o;		/* next output position */
	size_t		 i;		/* input position at work */
};

static int
fail(struct huntshape *h, const char *why)
{
	if (h->err == NULL)
		h->err = why;
	return (-1);
}

/* One output byte: now when there is room before the input, else later. */
static int
put(struct huntshape *h, struct hs_out *w, char c)
{
	if (h->npend == 0 && w->o <= w->i) {
		w->out[w->o++] = c;
		return (0);
	}
	if (h->npend == sizeof(h->pend))	/* cannot happen, see top */
		return (fail(h, "internal error: output held back overflows"));
	h->pend[h->npend++] = c;
	return (0);
}

static int
put_str(struct huntshape *h, struct hs_out *w, const char *s, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (put(h, w, s[k]) == -1)
			return (-1);
	return (0);
}

/* Write held-back output into the room freed by consumed input. */
static void
flush_pending(struct huntshape *h, struct hs_out *w)
{
	size_t room, k = h->npend;

	if (w->o > w->i)
		return;
	room = w->i + 1 - w->o;
	if (k > room)
		k = room;
	memcpy(w->out + w->o, h->pend, k);
	w->o += k;
	h->npend -= (unsigned char)k;
	memmove(h->pend, h->pend + k, h->npend);
}

/* A raw byte of a string: copied, held (entry key) or dropped. */
static int
str_byte(struct huntshape *h, struct hs_out *w, char c)
{
	if (!h->copy)
		return (0);
	if (h->holding) {
		if (h->nhold == sizeof(h->hold))	/* cannot happen */
			return (fail(h, "internal error: key hold overflows"));
		h->hold[h->nhold++] = c;
		return (0);
	}
	return (put(h, w, c));
}

/* Write the held raw bytes of an entry key that turned out not to match. */
static int
release_hold(struct huntshape *h, struct hs_out *w)
{
	h->holding = 0;
	return (put_str(h, w, h->hold, h->nhold));
}

/* One decoded character of a key (cp >= 0x80: anything non-ASCII). */
static int
match_char(struct huntshape *h, struct hs_out *w, unsigned cp)
{
	const char *const *words;

	if (h->mmask == 0 || (h->key != KEY_TOP && h->key != KEY_ENTRY))
		return (0);
	words = h->key == KEY_TOP ? top_words : entry_words;
	for (unsigned k = 0; k < 2; k++)
		if (h->mpos >= strlen(words[k]) || cp >= 0x80 ||
		    (unsigned char)words[k][h->mpos] != cp)
			h->mmask &= (unsigned char)~(1u << k);
	h->mpos++;
	if (h->mmask == 0 && h->holding)
		return (release_hold(h, w));
	return (0);
}

/* The candidate the whole key matched, or -1. */
static int
matched(const struct huntshape *h, const char *const *words)
{
	for (unsigned k = 0; k < 2; k++)
		if ((h->mmask & (1u << k)) && strlen(words[k]) == h->mpos)
			return ((int)k);
	return (-1);
}

static int
is_ws(unsigned c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

static int
is_object(const struct huntshape *h)
{
	unsigned d = h->depth - 1;

	return ((h->objbit[d / 8] >> (d % 8)) & 1);
}

static int
push(struct huntshape *h, int object)
{
	unsigned d = h->depth;

	if (d == HUNTSHAPE_MAX_DEPTH)
		return (fail(h, "JSON nested too deeply"));
	if (object)
		h->objbit[d / 8] |= (unsigned char)(1u << (d % 8));
	else
		h->objbit[d / 8] &= (unsigned char)~(1u << (d % 8));
	h->depth++;
	return (0);
}

#define NOT_GRAPH	"not a Graph hunting answer: "

/* Shape checks on the first byte of a value, by where it stands. */
static int
check_value(struct huntshape *h, unsigned c)
{
	static const struct {
		unsigned	 depth;
		enum hs_top	 top;
		unsigned char	 first;
		const char	*why;
	} rules[] = {
		{ 1, TOP_SCHEMA, '[', NOT_GRAPH "schema is not an array" },
		{ 1, TOP_RESULTS, '[', NOT_GRAPH "results is not an array" },
		{ 2, TOP_SCHEMA, '{', NOT_GRAPH "a schema entry is not an "
		  "object" },
		{ 2, TOP_RESULTS, '{', NOT_GRAPH "a result row is not an "
		  "object" },
	};

	for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++)
		if (h->depth == rules[k].depth && h->top == rules[k].top &&
		    c != rules[k].first)
			return (fail(h, rules[k].why));
	if (h->depth == 3 && h->top == TOP_SCHEMA &&
	    h->entry_key != ENTRY_NONE && c != '"')
		return (fail(h, NOT_GRAPH "a schema name or type is not a "
		    "string"));
	return (0);
}

static int
value_start(struct huntshape *h, struct hs_out *w, unsigned c)
{
	if (check_value(h, c) == -1)
		return (-1);
	switch (c) {
	case '{':
	case '[':
		if (h->depth == 1 &&
		    (h->top == TOP_SCHEMA || h->top == TOP_RESULTS))
			h->copy = 1;
		if ((h->copy && put(h, w, (char)c) == -1) ||
		    push(h, c == '{') == -1)
			return (-1);
		if (h->depth == 3 && h->top == TOP_SCHEMA)
			h->entry_seen = 0;
		h->state = c == '{' ? ST_OBJ_FIRST : ST_ARR_FIRST;
		return (0);
	case '"':
		h->key = KEY_VALUE;
		h->state = ST_STR;
		break;
	case '-':
		h->state = ST_NUM_MINUS;
		break;
	case '0':
		h->state = ST_NUM_ZERO;
		break;
	case 't':
	case 'f':
	case 'n':
		h->lit = c == 't' ? 0 : c == 'f' ? 1 : 2;
		h->litpos = 1;
		h->state = ST_LIT;
		break;
	default:
		if (c < '1' || c > '9')
			return (fail(h, "malformed JSON: a value was "
			    "expected"));
		h->state = ST_NUM_INT;
		break;
	}
	return (h->copy ? put(h, w, (char)c) : 0);
}

static int
key_start(struct huntshape *h, struct hs_out *w)
{
	h->state = ST_STR;
	h->mmask = 0x3;
	h->mpos = 0;
	if (h->depth == 1) {
		h->key = KEY_TOP;
		return (0);
	}
	if (h->depth == 3 && h->top == TOP_SCHEMA) {
		h->key = KEY_ENTRY;
		h->holding = 1;
		h->nhold = 0;
	} else
		h->key = KEY_PLAIN;
	return (h->copy ? put(h, w, '"') : 0);
}

static int
top_key_end(struct huntshape *h, struct hs_out *w)
{
	static const char *const out[2] = { "\"Schema\"", "\"Results\"" };
	static const unsigned char bit[2] = { SEEN_SCHEMA, SEEN_RESULTS };
	int k = matched(h, top_words);

	if (k == -1) {
		h->top = TOP_DROP;
		return (0);
	}
	if (h->seen & bit[k])
		return (fail(h, k == 0 ? NOT_GRAPH "two schema members" :
		    NOT_GRAPH "two results members"));
	h->seen |= bit[k];
	h->top = k == 0 ? TOP_SCHEMA : TOP_RESULTS;
	if (h->nkept++ > 0 && put(h, w, ',') == -1)
		return (-1);
	return (put_str(h, w, out[k], strlen(out[k])));
}

static int
entry_key_end(struct huntshape *h, struct hs_out *w)
{
	int k = h->holding ? matched(h, entry_words) : -1;

	h->entry_key = ENTRY_NONE;
	if (k == -1) {
		if (h->holding && release_hold(h, w) == -1)
			return (-1);
		return (put(h, w, '"'));
	}
	h->holding = 0;
	if (h->entry_seen & (1u << k))
		return (fail(h, NOT_GRAPH "a schema entry has two name "
		    "or type members"));
	h->entry_seen |= (unsigned char)(1u << k);
	h->entry_key = (unsigned char)k;
	if (put_str(h, w, entry_out[k], 4) == -1)
		return (-1);
	return (put(h, w, '"'));
}

/* The closing quote of a string. */
static int
str_end(struct huntshape *h, struct hs_out *w)
{
	switch (h->key) {
	case KEY_VALUE:
		h->state = ST_AFTER;
		return (h->copy ? put(h, w, '"') : 0);
	case KEY_TOP:
		h->state = ST_COLON;
		return (top_key_end(h, w));
	case KEY_ENTRY:
		h->state = ST_COLON;
		return (entry_key_end(h, w));
	case KEY_PLAIN:
		break;
	}
	h->state = ST_COLON;
	return (h->copy ? put(h, w, '"') : 0);
}

static int
close_container(struct huntshape *h, struct hs_out *w, unsigned c)
{
	if ((c == '}') != is_object(h))
		return (fail(h, "malformed JSON: unbalanced brackets"));
	if (h->depth == 3 && h->top == TOP_SCHEMA &&
	    h->entry_seen != (SEEN_NAME | SEEN_TYPE))
		return (fail(h, NOT_GRAPH "a schema entry lacks name or "
		    "type"));
	if (h->depth == 1) {
		if (!(h->seen & SEEN_SCHEMA))
			return (fail(h, NOT_GRAPH "no schema"));
		if (!(h->seen & SEEN_RESULTS))
			return (fail(h, NOT_GRAPH "no results"));
		h->depth = 0;
		h->state = ST_DONE;
		return (put(h, w, '}'));
	}
	if (h->copy && put(h, w, (char)c) == -1)
		return (-1);
	if (--h->depth == 1)
		h->copy = 0;
	h->state = ST_AFTER;
	return (0);
}

/* UTF-8: the lead byte c >= 0x80 of a character inside a string. */
static int
utf8_lead(struct huntshape *h, unsigned c)
{
	h->u8_lo = 0x80;
	h->u8_hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		h->u8_need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		h->u8_need = 2;
		if (c == 0xe0)
			h->u8_lo = 0xa0;	/* no overlong forms */
		else if (c == 0xed)
			h->u8_hi = 0x9f;	/* no UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		h->u8_need = 3;
		if (c == 0xf0)
			h->u8_lo = 0x90;
		else if (c == 0xf4)
			h->u8_hi = 0x8f;	/* nothing above U+10FFFF */
	} else
		return (fail(h, "malformed JSON: invalid UTF-8"));
	return (0);
}

static int
hexval(unsigned c)
{
	if (c >= '0' && c <= '9')
		return ((int)(c - '0'));
	if (c >= 'a' && c <= 'f')
		return ((int)(c - 'a' + 10));
	if (c >= 'A' && c <= 'F')
		return ((int)(c - 'A' + 10));
	return (-1);
}

static int
in_string(struct huntshape *h, struct hs_out *w, unsigned c)
{
	if (h->u8_need > 0) {
		if (c < h->u8_lo || c > h->u8_hi)
			return (fail(h, "malformed JSON: invalid UTF-8"));
		h->u8_need--;
		h->u8_lo = 0x80;
		h->u8_hi = 0xbf;
		return (str_byte(h, w, (char)c));
	}
	if (c == '"')
		return (str_end(h, w));
	if (c < 0x20)
		return (fail(h, "malformed JSON: control character in a "
		    "string"));
	if (c == '\\')
		h->state = ST_ESC;
	else if (c >= 0x80 && utf8_lead(h, c) == -1)
		return (-1);
	if (str_byte(h, w, (char)c) == -1)
		return (-1);
	return (c == '\\' ? 0 : match_char(h, w, c));
}

static int
in_escape(struct huntshape *h, struct hs_out *w, unsigned c)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *p;

	if (c == 'u') {
		h->state = ST_HEX;
		h->hexn = 0;
		h->cp = 0;
		h->low = 0;
		return (str_byte(h, w, (char)c));
	}
	if (c == 0 || (p = strchr(from, (int)c)) == NULL)
		return (fail(h, "malformed JSON: bad escape in a string"));
	h->state = ST_STR;
	if (str_byte(h, w, (char)c) == -1)
		return (-1);
	return (match_char(h, w, (unsigned char)to[p - from]));
}

static int
in_hex(struct huntshape *h, struct hs_out *w, unsigned c)
{
	int v = hexval(c);

	if (v == -1)
		return (fail(h, "malformed JSON: bad \\u escape"));
	if (str_byte(h, w, (char)c) == -1)
		return (-1);
	h->cp = h->cp << 4 | (unsigned)v;
	if (++h->hexn < 4)
		return (0);
	if (h->low) {
		if (h->cp < 0xdc00 || h->cp > 0xdfff)
			return (fail(h, "malformed JSON: unpaired UTF-16 "
			    "surrogate"));
		h->state = ST_STR;
		return (0);
	}
	if (h->cp >= 0xdc00 && h->cp <= 0xdfff)
		return (fail(h, "malformed JSON: unpaired UTF-16 surrogate"));
	if (h->cp >= 0xd800 && h->cp <= 0xdbff) {
		h->state = ST_LOW_BS;
		return (match_char(h, w, 0x10000));
	}
	h->state = ST_STR;
	return (match_char(h, w, h->cp));
}

/* The byte c ends a number (state valid) or continues it. */
static int
in_number(struct huntshape *h, struct hs_out *w, unsigned c, int *again)
{
	int digit = c >= '0' && c <= '9';
	enum hs_state next;

	*again = 0;
	if (h->state == ST_NUM_E && (c == '+' || c == '-'))
		next = ST_NUM_ESIGN;
	else if (h->state == ST_NUM_MINUS || h->state == ST_NUM_DOT ||
	    h->state == ST_NUM_E || h->state == ST_NUM_ESIGN) {
		if (!digit)		/* a digit must come here */
			return (fail(h, "malformed JSON: bad number"));
		if (h->state == ST_NUM_MINUS)
			next = c == '0' ? ST_NUM_ZERO : ST_NUM_INT;
		else
			next = h->state == ST_NUM_DOT ? ST_NUM_FRAC :
			    ST_NUM_EXP;
	} else if (digit && h->state != ST_NUM_ZERO)	/* INT FRAC EXP */
		next = h->state;
	else if (c == '.' && (h->state == ST_NUM_ZERO ||
	    h->state == ST_NUM_INT))
		next = ST_NUM_DOT;
	else if ((c == 'e' || c == 'E') && h->state != ST_NUM_EXP)
		next = ST_NUM_E;
	else if (digit)			/* after a leading zero */
		return (fail(h, "malformed JSON: bad number"));
	else {			/* c is not part of the number: it ends */
		h->state = ST_AFTER;
		*again = 1;
		return (0);
	}
	h->state = next;
	return (h->copy ? put(h, w, (char)c) : 0);
}

/* One input byte. */
static int
step(struct huntshape *h, struct hs_out *w, unsigned c)
{
	int again;

	for (;;) {
		switch (h->state) {
		case ST_STR:
			return (in_string(h, w, c));
		case ST_ESC:
			return (in_escape(h, w, c));
		case ST_HEX:
			return (in_hex(h, w, c));
		case ST_LOW_BS:
		case ST_LOW_U:
			if (c != (h->state == ST_LOW_BS ? '\\' : 'u'))
				return (fail(h, "malformed JSON: unpaired "
				    "UTF-16 surrogate"));
			if (h->state == ST_LOW_U) {
				h->state = ST_HEX;
				h->hexn = 0;
				h->cp = 0;
				h->low = 1;
			} else
				h->state = ST_LOW_U;
			return (str_byte(h, w, (char)c));
		case ST_NUM_MINUS: case ST_NUM_ZERO: case ST_NUM_INT:
		case ST_NUM_DOT: case ST_NUM_FRAC: case ST_NUM_E:
		case ST_NUM_ESIGN: case ST_NUM_EXP:
			if (in_number(h, w, c, &again) == -1)
				return (-1);
			if (again)
				continue;	/* c follows the number */
			return (0);
		case ST_LIT:
			if (c != (unsigned char)literals[h->lit][h->litpos])
				return (fail(h, "malformed JSON: bad literal"));
			if (literals[h->lit][++h->litpos] == '\0')
				h->state = ST_AFTER;
			return (h->copy ? put(h, w, (char)c) : 0);
		default:
			break;
		}
		if (is_ws(c))	/* between tokens */
			return (h->copy ? put(h, w, (char)c) : 0);
		switch (h->state) {
		case ST_START:
			if (c != '{')
				return (fail(h, c == '[' || c == '"' ||
				    c == '-' || (c >= '0' && c <= '9') ||
				    c == 't' || c == 'f' || c == 'n' ?
				    NOT_GRAPH "not a JSON object" :
				    "malformed JSON: no document"));
			h->state = ST_OBJ_FIRST;
			if (push(h, 1) == -1)
				return (-1);
			return (put(h, w, '{'));
		case ST_VALUE:
			return (value_start(h, w, c));
		case ST_ARR_FIRST:
			if (c == ']')
				return (close_container(h, w, c));
			return (value_start(h, w, c));
		case ST_OBJ_FIRST:
		case ST_OBJ_KEY:
			if (c == '"')
				return (key_start(h, w));
			if (c == '}' && h->state == ST_OBJ_FIRST)
				return (close_container(h, w, c));
			return (fail(h, "malformed JSON: a key was expected"));
		case ST_COLON:
			if (c != ':')
				return (fail(h, "malformed JSON: ':' was "
				    "expected"));
			h->state = ST_VALUE;
			if (h->copy || (h->depth == 1 && h->top != TOP_DROP))
				return (put(h, w, ':'));
			return (0);
		case ST_AFTER:
			if (c == ',') {
				h->state = is_object(h) ? ST_OBJ_KEY : ST_VALUE;
				return (h->copy ? put(h, w, ',') : 0);
			}
			if (c == '}' || c == ']')
				return (close_container(h, w, c));
			return (fail(h, "malformed JSON: ',' or a closing "
			    "bracket was expected"));
		case ST_DONE:
			return (fail(h, "data after the end of the JSON "
			    "document"));
		default:
			return (fail(h, "fed after huntshape_finish()"));
		}
	}
}

/* Length of the run of plain string bytes (0x20..0x7f but '"' and '\'). */
static size_t
plain_run(const unsigned char *p, size_t n)
{
	size_t k = 0;

	while (k < n && p[k] >= 0x20 && p[k] < 0x80 && p[k] != '"' &&
	    p[k] != '\\')
		k++;
	return (k);
}

struct huntshape *
huntshape_new(void)
{
	struct huntshape *h = calloc(1, sizeof(*h));

	if (h != NULL)
		h->state = ST_START;
	return (h);
}

ssize_t
huntshape_feed(struct huntshape *h, const char *in, size_t n, char *out)
{
	const unsigned char	*p = (const unsigned char *)in;
	struct hs_out		 w = { out, 0, 0 };
	unsigned		 c;
	size_t			 k;

	if (h->err != NULL)
		return (-1);
	if (h->state == ST_FINISHED && n > 0)
		return (fail(h, "fed after huntshape_finish()"));
	if (n > SSIZE_MAX)
		return (fail(h, "chunk too large"));
	while (w.i < n) {
		/* bulk path: plain string bytes that go out as they are */
		if (h->state == ST_STR && h->u8_need == 0 && !h->holding &&
		    h->npend == 0 && !(h->key == KEY_TOP && h->mmask != 0) &&
		    (k = plain_run(p + w.i, n - w.i)) > 0) {
			if (h->copy) {
				memmove(out + w.o, in + w.i, k);
				w.o += k;
			}
			w.i += k;
			continue;
		}
		c = p[w.i];		/* read before out[w.i] is written */
		if (h->npend > 0)
			flush_pending(h, &w);
		if (step(h, &w, c) == -1)
			return (-1);
		w.i++;
	}
	return ((ssize_t)w.o);
}

ssize_t
huntshape_finish(struct huntshape *h, char *out, size_t cap)
{
	ssize_t n;

	if (h->err != NULL)
		return (-1);
	if (h->state == ST_START)
		return (fail(h, "empty body"));
	if (h->state == ST_FINISHED)
		return (fail(h, "huntshape_finish() called twice"));
	if (h->state != ST_DONE)
		return (fail(h, "truncated JSON document"));
	if (h->npend > cap)
		return (fail(h, "huntshape_finish(): output buffer too small"));
	if (h->npend > 0)
		memcpy(out, h->pend, h->npend);
	n = h->npend;
	h->npend = 0;
	h->state = ST_FINISHED;
	return (n);
}

const char *
huntshape_error(const struct huntshape *h)
{
	return (h->err);
}

void
huntshape_free(struct huntshape *h)
{
	free(h);
}
