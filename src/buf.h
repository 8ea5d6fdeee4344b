/*
 * buf.c: growable byte buffer with a mandatory cap (curl's dynbuf model).
 * A buf is owned by whoever embeds it; no locking, one thread at a time.
 */
#ifndef DEFGATE_BUF_H
#define DEFGATE_BUF_H

#include <stddef.h>

struct buf {
	char	*data;		/* always NUL-terminated when non-NULL */
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* hard cap on len, set by buf_init() */
};

void	 buf_init(struct buf *, size_t max);
/* 0 on success, -1 when the cap would be exceeded or memory is short. */
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_addstr(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);
/* Like buf_free() but zeroes the bytes first: for secrets and tokens. */
void	 buf_wipe(struct buf *);
/* Hand the bytes to the caller (free() them); the buf is left empty. */
char	*buf_take(struct buf *, size_t *len);

#endif
