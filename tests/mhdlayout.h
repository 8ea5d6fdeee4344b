/*
 * mhdlayout.h: lay out a raw request head the way libmicrohttpd 0.9.75
 * leaves it in its read buffer, for reqcheck's unit test and fuzzer:
 * line ends and the colon become NUL bytes, the value starts after the
 * whitespace, lengths are strlen() (a NUL cuts), and an obs-fold line is
 * joined into a copy elsewhere (so the field no longer lies in line).
 * Returns -1 where MHD itself refuses the head (no colon, no version).
 * Test code only; single-threaded; no allocation.
 */
#ifndef DEFGATE_MHDLAYOUT_H
#define DEFGATE_MHDLAYOUT_H

#include <string.h>

#include "reqcheck.h"

#define MHDLAYOUT_MAX	(40 * 1024)

struct mhdlayout {
	char			 buf[MHDLAYOUT_MAX + 8];
	char			 moved[MHDLAYOUT_MAX + 8];
	char			 copy[REQCHECK_MAX_TARGET + 2];
	struct reqcheck_field	 f[64];
	struct reqcheck_head	 h;
};

/* next line: returns its length and NULs its end; *next after it */
static inline size_t
mhdlayout_line(char *p, char *end, char **next)
{
	char *lf = memchr(p, '\n', (size_t)(end - p));

	if (lf == NULL) {
		*next = end;
		return ((size_t)(end - p));
	}
	*lf = '\0';
	*next = lf + 1;
	if (lf > p && lf[-1] == '\r') {
		lf[-1] = '\0';
		return ((size_t)(lf - 1 - p));
	}
	return ((size_t)(lf - p));
}

static inline int
mhdlayout(struct mhdlayout *m, const char *raw, size_t n)
{
	char	*p, *end, *next, *sp, *ver;
	size_t	 l, nf = 0, mv = 0;

	if (n > MHDLAYOUT_MAX)
		return (-1);
	memset(m->buf, 0, n + 8);
	memcpy(m->buf, raw, n);
	end = m->buf + n;
	l = mhdlayout_line(m->buf, end, &next);
	if ((sp = memchr(m->buf, ' ', l)) == NULL)
		return (-1);
	for (ver = m->buf + l; ver > sp && *ver != ' '; ver--)
		;
	if (ver == sp)
		return (-1);
	*sp = '\0';
	*ver = '\0';
	m->h.method = m->buf;
	m->h.target = sp + 1;
	m->h.targetlen = strlen(sp + 1);
	l = m->h.targetlen > REQCHECK_MAX_TARGET ? REQCHECK_MAX_TARGET + 1 :
	    m->h.targetlen;
	memcpy(m->copy, sp + 1, l);
	m->copy[l] = '\0';
	m->h.target_copy = m->copy;
	m->h.version = ver + 1;
	for (p = next; p < end; p = next) {
		char *colon;

		l = mhdlayout_line(p, end, &next);
		if (l == 0)
			break;
		if (*p == ' ' || *p == '\t') {
			size_t	ol;

			if (nf == 0)
				return (-1);
			/* MHD joins the fold into a copy of the line */
			ol = strlen(m->f[nf - 1].name);
			if (mv + ol + 1 > sizeof(m->moved))
				return (-1);
			memcpy(m->moved + mv, m->f[nf - 1].name, ol + 1);
			m->f[nf - 1].name = m->moved + mv;
			mv += ol + 1;
			continue;
		}
		if ((colon = memchr(p, ':', l)) == NULL || nf == 64)
			return (-1);
		*colon = '\0';
		m->f[nf].name = p;
		m->f[nf].namelen = (size_t)(colon - p);
		for (colon++; *colon == ' ' || *colon == '\t'; colon++)
			;
		m->f[nf].value = colon;
		m->f[nf].valuelen = strlen(colon);
		nf++;
	}
	m->h.fields = m->f;
	m->h.nfields = nf;
	return (0);
}

#endif
