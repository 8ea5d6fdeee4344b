/*
 * fuzz_config.c: libFuzzer harness for the config file parser
 * (config_load_stream() in src/config.c) and the checks of
 * config_finalize().
 *
 * The input is a config file, read through fmemopen(). Each input runs
 * three times: (a) a client secret set before the file (the file may
 * replace it: the old one must be wiped, not echoed), (b) the secret set
 * after the file, as AZURE_CLIENT_SECRET does in config_build(), and (c) no
 * secret from the harness: the file's own client_secret, or its
 * client_secret_file, which reads the secret (see below). Then
 * config_finalize() and config_free().
 *
 * Invariants: the error text never holds the secret (nor any 8-byte piece
 * of it) unless the input itself does; it stays within CONFIG_MAX_ERRORS
 * and NUL-terminated; config_load_stream() returns -1, 0 or 1 and errors
 * imply text; a config that finalizes has the required settings and a
 * listen address.
 *
 * Outside effects, kept deterministic and fast:
 *  - listen: config_finalize() resolves the host with getaddrinfo(). A name
 *    would mean DNS (slow, network-dependent), so the script links this
 *    harness with -Wl,--wrap=getaddrinfo and __wrap_getaddrinfo() adds
 *    AI_NUMERICHOST: numeric hosts behave as in production, names fail
 *    at once like an unresolvable name (the same error path).
 *  - client_secret_file: any non-empty value is redirected to a file the
 *    harness made (0600): an absolute path reads a file holding the
 *    secret, other values an empty file or a missing path (by the parity
 *    of the first byte). Opening fuzzer-chosen
 *    paths could block (/dev/stdin, FIFOs); read_secret_file() is still
 *    covered, and a secret read from the file is checked like the others.
 *  - ca_file: only access(R_OK) is done on it; left as is.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* fmemopen, memmem */
#endif
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fuzz.h"

static const char SECRET[] = "Qx7~fUzZ.s3cr3tVALUE_9kLmN2pR4tW6yB8dF0hJ-z";

static char	secret_path[64], empty_path[64];

int	__real_getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);
int	__wrap_getaddrinfo(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **);

int
__wrap_getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h;

	if (hints)
		h = *hints;
	else {
		memset(&h, 0, sizeof(h));
		h.ai_family = AF_UNSPEC;
	}
	h.ai_flags |= AI_NUMERICHOST;
	return (__real_getaddrinfo(node, service, &h, res));
}

static void
cleanup(void)
{
	if (secret_path[0])
		unlink(secret_path);
	if (empty_path[0])
		unlink(empty_path);
}

static void
make_file(char *path, size_t n, const char *content)
{
	const char	*dir = getenv("TMPDIR");
	int		 fd;

	snprintf(path, n, "%s/defgate-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) == -1) {
		perror("fuzz_config: mkstemp");
		exit(1);
	}
	if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		perror("fuzz_config: write");
		exit(1);
	}
	close(fd);
}

int	LLVMFuzzerInitialize(int *, char ***);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	make_file(secret_path, sizeof(secret_path), SECRET);
	make_file(empty_path, sizeof(empty_path), "\n");
	atexit(cleanup);
	return (0);
}

/* 1 when hay holds any 8-byte piece of SECRET. */
static int
holds_secret_piece(const void *hay, size_t n)
{
	for (size_t i = 0; i + 8 <= sizeof(SECRET) - 1; i++)
		if (memmem(hay, n, SECRET + i, 8) != NULL)
			return (1);
	return (0);
}

static void
redirect_secret_file(struct gw_config *cf)
{
	const char *to;

	if (cf->client_secret_file == NULL || *cf->client_secret_file == '\0')
		return;
	if (cf->client_secret_file[0] == '/')
		to = secret_path;
	else if (cf->client_secret_file[0] % 2)
		to = empty_path;
	else
		to = "/nonexistent/defgate-fuzz/secret";
	free(cf->client_secret_file);
	if ((cf->client_secret_file = strdup(to)) == NULL)
		abort();
}

enum mode { SECRET_FIRST, SECRET_LAST, SECRET_FROM_INPUT };

static void
run(const uint8_t *data, size_t size, enum mode mode, int input_has_secret)
{
	struct gw_config	 cf;
	struct buf		 errs;
	FILE			*f;
	int			 rc, frc;
	size_t			 len_after_load;

	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_defaults(&cf);
	if (mode == SECRET_FIRST)
		FUZZ_CHECK(config_set(&cf, "client_secret", SECRET, &errs) == 0);
	/* fmemopen() wants a non-empty buffer on older glibc */
	f = size ? fmemopen((void *)(uintptr_t)data, size, "r") :
	    fmemopen((void *)(uintptr_t)"", 1, "r");
	FUZZ_CHECK(f != NULL);
	rc = config_load_stream(&cf, f, "fuzz.conf", &errs);
	fclose(f);
	FUZZ_CHECK(rc == -1 || rc == 0 || rc == 1);
	if (rc == -1)		/* every failure explains itself */
		FUZZ_CHECK(errs.len > 0);
	len_after_load = errs.len;
	if (mode == SECRET_LAST)
		FUZZ_CHECK(config_set(&cf, "client_secret", SECRET, &errs) == 0);
	FUZZ_CHECK(errs.len == len_after_load);
	redirect_secret_file(&cf);

	frc = config_finalize(&cf, &errs);
	FUZZ_CHECK(frc == 0 || frc == -1);
	FUZZ_CHECK(errs.len <= CONFIG_MAX_ERRORS);
	if (errs.data) {
		FUZZ_CHECK(errs.data[errs.len] == '\0');
		if (!input_has_secret && holds_secret_piece(errs.data,
		    errs.len)) {
			fprintf(stderr, "secret in error text:\n%s\n",
			    errs.data);
			FUZZ_CHECK(!"the error text holds the client secret");
		}
	}
	if (getenv("FUZZ_CONFIG_DEBUG"))	/* what a seed does */
		fprintf(stderr, "fuzz_config: mode %d: load %d, finalize %d\n"
		    "%s", (int)mode, rc, frc,
		    errs.data ? errs.data : "");
	if (frc == 0) {
		FUZZ_CHECK(cf.tenant_id && *cf.tenant_id);
		FUZZ_CHECK(cf.client_id && *cf.client_id);
		FUZZ_CHECK(cf.client_secret && *cf.client_secret);
		FUZZ_CHECK(strncmp(cf.authority_host, "https://", 8) == 0);
		FUZZ_CHECK(strncmp(cf.api_url, "https://", 8) == 0);
		FUZZ_CHECK(cf.listen_addrlen > 0 &&
		    cf.listen_addrlen <= sizeof(cf.listen_addr));
		FUZZ_CHECK(cf.token_version == 1 || cf.token_version == 2);
		FUZZ_CHECK(cf.nallow_from >= 0 &&
		    cf.nallow_from <= CONFIG_MAX_ALLOW);
		FUZZ_CHECK(cf.max_body >= 1 && cf.max_response >= 1024);
	}
	config_free(&cf);
	buf_free(&errs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int has = holds_secret_piece(data, size);

	if (size > 64 * 1024)
		return (0);
	run(data, size, SECRET_FIRST, has);
	run(data, size, SECRET_LAST, has);
	run(data, size, SECRET_FROM_INPUT, has);
	return (0);
}
