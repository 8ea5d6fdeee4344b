/*
 * fuzz_reqcheck.c: libFuzzer harness for src/reqcheck.c, the front door's
 * judgement of a request head.
 *
 * The input is a raw request head. tests/mhdlayout.h lays it out as
 * libmicrohttpd 0.9.75 leaves it in its read buffer (a head MHD itself
 * refuses is skipped), then reqcheck_head() judges it. The same bytes,
 * as a NUL-terminated string, go through the Host, Origin and media type
 * checks.
 *
 * Invariants: the verdict is 0, 400, 414, 431 or 501, with a code and a
 * message when not 0; an accepted head has a target of at most 16 KiB
 * that starts with '/' (or is "*") and holds no byte outside 0x21..0x7e;
 * a Host accepted with no server_names on a loopback listener is a
 * loopback name or address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "../mhdlayout.h"
#include "reqcheck.h"

static struct mhdlayout m;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqcheck_result	 res;
	char			*s;

	if (mhdlayout(&m, (const char *)data, size) == 0) {
		reqcheck_head(&m.h, &res);
		FUZZ_CHECK(res.status == 0 || res.status == 400 ||
		    res.status == 414 || res.status == 431 ||
		    res.status == 501);
		if (res.status != 0)
			FUZZ_CHECK(res.code != NULL && res.why != NULL);
		else {
			FUZZ_CHECK(m.h.targetlen <= REQCHECK_MAX_TARGET);
			FUZZ_CHECK(m.copy[0] == '/' ||
			    strcmp(m.copy, "*") == 0);
			for (size_t i = 0; i < m.h.targetlen; i++)
				FUZZ_CHECK((unsigned char)m.copy[i] > 0x20 &&
				    (unsigned char)m.copy[i] < 0x7f);
		}
	}
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (reqcheck_host_ok(s, strlen(s), "127.0.0.1", NULL))
		FUZZ_CHECK(strncasecmp(s, "localhost", 9) == 0 ||
		    strncmp(s, "127.", 4) == 0 || s[0] == '[');
	(void)reqcheck_origin_ok(s, strlen(s), "0.0.0.0", "a,b",
	    "https://x");
	(void)reqcheck_json_type(s, strlen(s));
	free(s);
	return (0);
}
