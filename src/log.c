/*
 * log.c: one-line log records on stderr.
 *
 * Any thread may log. Each record is formatted into a stack buffer and
 * written with one write(2), so concurrent records never interleave.
 * errno is saved and restored. Secrets must never be passed in.
 * In JSON mode the formatted text is escaped into the "msg" member; a
 * text too long for the line is cut at a character boundary of the
 * escaped form, so the line stays one valid object.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_TEXT_MAX	2048	/* a text record, and a JSON record's text */

static int log_verbose;
static atomic_int log_json;

void
log_init(int verbose)
{
	log_verbose = verbose;
}

void
log_set_json(int on)
{
	atomic_store(&log_json, on != 0);
}

size_t
log_json_escape(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char	 c = (unsigned char)s[i];
		char		 e[7];
		size_t		 k = 0;

		if (c == '"' || c == '\\') {
			e[k++] = '\\';
			e[k++] = (char)c;
		} else if (c == '\n') {
			e[k++] = '\\';
			e[k++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			e[k++] = '\\';
			e[k++] = 'u';
			e[k++] = '0';
			e[k++] = '0';
			e[k++] = hex[c >> 4];
			e[k++] = hex[c & 15];
		} else
			e[k++] = (char)c;
		if (o + k >= cap)
			break;
		memcpy(out + o, e, k);
		o += k;
	}
	/* never end inside a UTF-8 sequence: parsers reject half of one */
	if (o < cap) {
		size_t	 b = o;

		while (b > 0 && ((unsigned char)out[b - 1] & 0xc0) == 0x80)
			b--;
		if (b > 0 && (unsigned char)out[b - 1] >= 0xc0) {
			unsigned char	 l = (unsigned char)out[b - 1];
			size_t		 need = l >= 0xf0 ? 4 : l >= 0xe0 ? 3 :
			    2;

			if (o - (b - 1) < need)
				o = b - 1;
		}
	}
	out[o] = '\0';
	return (o);
}

void
log_line(const char *s, size_t n)
{
	char	 line[LOG_LINE_MAX];
	int	 saved_errno = errno;

	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	memcpy(line, s, n);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
	errno = saved_errno;
}

static void
vlog(const char *level, int with_errno, const char *fmt, va_list ap)
    __attribute__((__format__(__printf__, 3, 0)));

/* line[0..n) is the formatted text: make it one JSON object in out. */
static size_t
json_record(char *out, size_t cap, const struct timespec *ts,
    const char *level, const char *text, size_t n)
{
	struct tm	 tm;
	size_t		 o;
	int		 r;

	gmtime_r(&ts->tv_sec, &tm);
	o = strftime(out, cap, "{\"time\":\"%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(out + o, cap - o, ".%03ldZ\",\"level\":\"%s\",\"pid\":"
	    "%ld,\"msg\":\"", ts->tv_nsec / 1000000L, level, (long)getpid());
	if (r < 0 || (size_t)r >= cap - o)
		return (0);
	o += (size_t)r;
	/* room for "}\n after the text */
	o += log_json_escape(out + o, cap - o - 3, text, n);
	out[o++] = '"';
	out[o++] = '}';
	return (o);
}

static void
vlog(const char *level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[LOG_TEXT_MAX], json[LOG_LINE_MAX];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n = 0;
	int		 saved_errno = errno, r, js = atomic_load(&log_json);

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!js) {
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ldZ defgate[%ld] "
		    "%s: ", ts.tv_nsec / 1000000L, (long)getpid(), level);
		if (r > 0 && (size_t)r < sizeof(line) - n)
			n += (size_t)r;
	}
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n = (size_t)r < sizeof(line) - n ? n + (size_t)r :
		    sizeof(line) - 1;
	if (with_errno && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - n, ": %s",
		    strerror(saved_errno));
		if (r > 0)
			n = (size_t)r < sizeof(line) - n ? n + (size_t)r :
			    sizeof(line) - 1;
	}
	/* one record per line: fold any newline the text carried */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (js && (n = json_record(json, sizeof(json) - 1, &ts, level, line,
	    n)) > 0) {
		json[n++] = '\n';
		(void)!write(STDERR_FILENO, json, n);
	} else if (!js) {
		line[n++] = '\n';
		(void)!write(STDERR_FILENO, line, n);
	}
	errno = saved_errno;
}

#define LOG_BODY(level, with_errno) do {	\
	va_list ap;				\
	va_start(ap, fmt);			\
	vlog(level, with_errno, fmt, ap);	\
	va_end(ap);				\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY("warning", 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY("warning", 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY("info", 0);
}

void
log_debug(const char *fmt, ...)
{
	if (log_verbose)
		LOG_BODY("debug", 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY("fatal", 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY("fatal", 0);
	exit(1);
}
