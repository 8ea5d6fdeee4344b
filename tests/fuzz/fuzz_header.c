/*
 * fuzz_header.c: libFuzzer harness for job_header_line() (src/job.c), which
 * parses the Defender API's response header lines as curl delivers them.
 *
 * The input is a header block (or several: 100 Continue, redirects) split
 * into lines after each '\n', every line handed over with its line end in
 * an exactly-sized heap copy (as curl's header callback gets it; a last
 * piece without '\n' is delivered as is), on a job from job_new().
 *
 * Invariants after every line: status in 0..999; content_type, retry_after
 * and request_id NUL-terminated inside their arrays and free of control
 * bytes (they are copied into the client's response headers: no header
 * injection); content_length >= -1; a status line resets the fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "job.h"

static void
check_field(const char *s, size_t n)
{
	FUZZ_CHECK(fuzz_terminated(s, n));
	for (; *s; s++)
		FUZZ_CHECK((unsigned char)*s >= 0x20 &&
		    (unsigned char)*s != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job	*j;
	size_t		 off = 0;

	j = job_new(NULL, &routes[0], JOB_GET, "fuzz");
	FUZZ_CHECK(j != NULL);
	FUZZ_CHECK(j->content_length == -1 && j->status == 0);
	while (off < size) {
		const uint8_t	*nl = memchr(data + off, '\n', size - off);
		size_t		 n = nl ? (size_t)(nl - (data + off)) + 1 :
				    size - off;
		char		*line = fuzz_dup(data + off, n);
		enum job_hdr	 h;

		h = job_header_line(j, line, n);
		FUZZ_CHECK(h == JOB_HDR_STATUS || h == JOB_HDR_FIELD ||
		    h == JOB_HDR_END || h == JOB_HDR_OTHER);
		if (h == JOB_HDR_STATUS) {
			FUZZ_CHECK(n >= 5 && memcmp(line, "HTTP/", 5) == 0);
			FUZZ_CHECK(j->content_type[0] == '\0' &&
			    j->retry_after[0] == '\0' &&
			    j->request_id[0] == '\0' &&
			    j->content_length == -1);
		}
		if (h == JOB_HDR_END)
			FUZZ_CHECK(n <= 2);
		FUZZ_CHECK(j->status >= 0 && j->status <= 999);
		check_field(j->content_type, sizeof(j->content_type));
		check_field(j->retry_after, sizeof(j->retry_after));
		check_field(j->request_id, sizeof(j->request_id));
		FUZZ_CHECK(j->content_length >= -1);
		free(line);
		off += n;
	}
	/* job_header_value() directly, with the raw input as the value */
	{
		char	 small[8], *v = fuzz_dup(data, size);

		job_header_value(small, sizeof(small), v, size);
		check_field(small, sizeof(small));
		free(v);
	}
	job_unref(j);
	return (0);
}
