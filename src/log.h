/*
 * log.c: one-line log records on stderr (journald and docker friendly).
 * Any thread may call these functions; each record is written with a single
 * write(2) so lines from different threads never interleave.
 * Never pass a secret or a token to these functions.
 */
#ifndef DEFGATE_LOG_H
#define DEFGATE_LOG_H

#define LOG_FMT(a, b) __attribute__((__format__(__printf__, a, b)))

void	log_init(int verbose);
void	log_warn(const char *, ...) LOG_FMT(1, 2);	/* appends strerror(errno) */
void	log_warnx(const char *, ...) LOG_FMT(1, 2);
void	log_info(const char *, ...) LOG_FMT(1, 2);
void	log_debug(const char *, ...) LOG_FMT(1, 2);
_Noreturn void fatal(const char *, ...) LOG_FMT(1, 2);
_Noreturn void fatalx(const char *, ...) LOG_FMT(1, 2);

#endif
