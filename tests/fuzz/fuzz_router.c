/*
 * fuzz_router.c: libFuzzer harness for router_match() and
 * router_query_param() (src/router.c), which see every request-target a
 * client sends.
 *
 * Input: byte 0 picks the method (% 8: GET POST PATCH DELETE PUT CONNECT
 * HEAD OPTIONS; ASCII '0'..'7' map in that order), the rest is the
 * request-target, NUL-terminated as MHD hands it over (an embedded NUL
 * ends it). Invariants: see router_check.h (an OK path is one of the
 * routes, has no "..", '\\', %2f, %5c, %2e; a query lies inside the input
 * and holds only 0x21..0x7e; incident ids match [A-Za-z0-9_-]{1,128}).
 * router_query_param() runs on the returned query and, to catch reads past
 * the end, on the raw bytes in an exactly-sized buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "router.h"
#include "router_check.h"

static const char *const methods[8] = { "GET", "POST", "PATCH", "DELETE",
	"PUT", "CONNECT", "HEAD", "OPTIONS" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_match	 m;
	enum router_result	 r;
	const char		*method;
	char			*uri, *raw;

	if (size < 1)
		return (0);
	method = methods[data[0] % 8];
	uri = fuzz_strdup(data + 1, size - 1);
	memset(&m, 0x5a, sizeof(m));
	r = router_match(method, uri, &m);
	router_check(method, uri, r, &m);
	if (m.query != NULL) {
		query_param_check(m.query, m.querylen, "query");
		query_param_check(m.query, m.querylen, "$top");
	}
	free(uri);

	raw = fuzz_dup(data + 1, size - 1);
	query_param_check(raw, size - 1, "query");
	query_param_check(raw, size - 1, "$top");
	free(raw);
	return (0);
}
