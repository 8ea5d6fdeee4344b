/*
 * log.c: one-line log records on stderr (journald and docker friendly).
 * Any thread may call these functions; each record is written with a single
 * write(2) so lines from different threads never interleave.
 * Never pass a secret or a token to these functions.
 * log_set_json(1) (log_format = json) makes every record one JSON object:
 * {"time","level","pid","msg"}.
 */
#ifndef DEFGATE_LOG_H
#define DEFGATE_LOG_H

#define LOG_FMT(a, b) __attribute__((__format__(__printf__, a, b)))

void	log_init(int verbose);
/* Main thread (start, SIGHUP): text (0) or JSON (1) records. */
void	log_set_json(int);
/* A ready line (no newline; one is added) written with one write(2), to
 * the log's destination. Lines of LOG_LINE_MAX bytes or more are cut. */
void	log_line(const char *, size_t);
/* JSON-escape s into out (cap >= 1, NUL-terminated); stops before a
 * sequence that would not fit. Returns the bytes written. */
size_t	log_json_escape(char *out, size_t cap, const char *s, size_t n);

#define LOG_LINE_MAX	4096
void	log_warn(const char *, ...) LOG_FMT(1, 2);	/* appends strerror(errno) */
void	log_warnx(const char *, ...) LOG_FMT(1, 2);
void	log_info(const char *, ...) LOG_FMT(1, 2);
void	log_debug(const char *, ...) LOG_FMT(1, 2);
_Noreturn void fatal(const char *, ...) LOG_FMT(1, 2);
_Noreturn void fatalx(const char *, ...) LOG_FMT(1, 2);

#endif
