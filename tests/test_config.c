/*
 * test_config.c: settings from command line > environment > file
 * (src/config.c): defaults, file syntax, precedence, validation messages,
 * the secret file, URLs, sizes, allow_from, listen, and secret hygiene.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "tap.h"

#define SECRET	"Zq8Q~TopSecretValue.AbC-123_xyz"
#define TENANT	"11111111-2222-3333-4444-555555555555"
#define CLIENT	"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

static char	 tmpdir[64];
static char	*made[64];
static int	 nmade;

static const char *const all_keys[] = {
	"tenant_id", "client_id", "client_secret", "client_secret_file",
	"authority_host", "api_url", "scope", "token_version", "ca_file",
	"listen", "allow_write", "allow_from", "max_body", "max_response",
	"timeout", "connect_timeout", "token_timeout", "max_clients",
	"client_timeout", "max_upstream_connections",
};
#define NALL_KEYS	(sizeof(all_keys) / sizeof(all_keys[0]))

/* Create tmpdir/name with content and mode; the path is freed at exit. */
static const char *
write_file(const char *name, const char *content, size_t len, mode_t mode)
{
	char	*path;
	size_t	 n = strlen(tmpdir) + strlen(name) + 2;
	int	 fd;

	path = malloc(n);
	if (path == NULL)
		abort();
	snprintf(path, n, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || (len && write(fd, content, len) != (ssize_t)len) ||
	    fchmod(fd, mode) == -1) {
		diag("cannot write %s: %s", path, strerror(errno));
		abort();
	}
	close(fd);
	for (int i = 0; i < nmade; i++)
		if (strcmp(made[i], path) == 0) {
			free(path);
			return (made[i]);
		}
	if (nmade == (int)(sizeof(made) / sizeof(made[0])))
		abort();
	made[nmade++] = path;
	return (path);
}

static const char *
write_str(const char *name, const char *content, mode_t mode)
{
	return (write_file(name, content, strlen(content), mode));
}

static void
cleanup(void)
{
	for (int i = 0; i < nmade; i++) {
		unlink(made[i]);
		free(made[i]);
	}
	nmade = 0;
	if (tmpdir[0])
		rmdir(tmpdir);
}

static void
clear_env(void)
{
	for (size_t i = 0; i < NALL_KEYS; i++) {
		const char *e = config_env_name(all_keys[i]);

		if (e)
			unsetenv(e);
	}
}

/* stderr capture around calls that log (log.c writes fd 2) */
static int	 saved_stderr = -1;

static void
capture_begin(void)
{
	const char	*p = write_str("stderr.txt", "", 0600);
	int		 fd;

	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	if ((fd = open(p, O_WRONLY | O_TRUNC)) == -1)
		abort();
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Returns what was written to stderr (malloc'd). */
static char *
capture_end(void)
{
	char	 path[128], *s;
	FILE	*f;
	long	 n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	snprintf(path, sizeof(path), "%s/stderr.txt", tmpdir);
	if ((f = fopen(path, "r")) == NULL)
		abort();
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if ((s = calloc(1, (size_t)n + 1)) == NULL)
		abort();
	if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	return (s);
}

static int
count_lines(const struct buf *b)
{
	int n = 0;

	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\n')
			n++;
	return (n);
}

static const char *
errtext(const struct buf *b)
{
	return (b->data ? b->data : "");
}

/* A config with the three required settings, for config_finalize tests. */
static void
valid_config(struct gw_config *cf)
{
	config_defaults(cf);
	config_set(cf, "tenant_id", TENANT, NULL);
	config_set(cf, "client_id", CLIENT, NULL);
	config_set(cf, "client_secret", SECRET, NULL);
}

/* finalize a valid config with one setting changed; return rc and errs */
static int
finalize_with(const char *key, const char *value, struct gw_config *cf,
    struct buf *errs)
{
	valid_config(cf);
	buf_init(errs, CONFIG_MAX_ERRORS);
	if (key && config_set(cf, key, value, errs) == -1)
		return (-2);
	return (config_finalize(cf, errs));
}

static void
test_defaults(void)
{
	struct gw_config cf;

	config_defaults(&cf);
	ok(cf.tenant_id == NULL && cf.client_id == NULL &&
	    cf.client_secret == NULL && cf.client_secret_file == NULL,
	    "defaults: no credential");
	is_str(cf.authority_host, "https://login.microsoftonline.com",
	    "default authority_host");
	is_str(cf.api_url, "https://api.security.microsoft.com",
	    "default api_url");
	is_str(cf.scope, "https://api.security.microsoft.com/.default",
	    "default scope");
	is_int(cf.token_version, 2, "default token_version 2");
	ok(cf.ca_file == NULL, "default ca_file unset (system store)");
	is_str(cf.listen, "127.0.0.1:8080", "default listen");
	is_int(cf.allow_write, 0, "default allow_write false");
	is_int(cf.max_body, 1048576, "default max_body 1 MiB");
	is_int(cf.allow_from_set, 0, "default allow_from unset");
	is_int(cf.nallow_from, 0, "default allow_from empty");
	ok(cf.connect_timeout_ms > 0 && cf.timeout_ms > 0 &&
	    cf.token_timeout_ms > 0, "default timeouts set");
	ok(cf.max_clients > 0 && cf.client_timeout > 0 &&
	    cf.max_upstream_conns > 0 && cf.max_response > 0,
	    "default limits set");
	config_free(&cf);

	is_str(config_env_name("tenant_id"), "AZURE_TENANT_ID", "env tenant");
	is_str(config_env_name("client_id"), "AZURE_CLIENT_ID", "env client");
	is_str(config_env_name("client_secret"), "AZURE_CLIENT_SECRET",
	    "env secret");
	is_str(config_env_name("client_secret_file"),
	    "AZURE_CLIENT_SECRET_FILE", "env secret file");
	is_str(config_env_name("authority_host"), "AZURE_AUTHORITY_HOST",
	    "env authority_host");
	is_str(config_env_name("api_url"), "DEFGATE_API_URL", "env api_url");
	is_str(config_env_name("scope"), "DEFGATE_SCOPE", "env scope");
	is_str(config_env_name("token_version"), "DEFGATE_TOKEN_VERSION",
	    "env token_version");
	is_str(config_env_name("ca_file"), "DEFGATE_CA_FILE", "env ca_file");
	is_str(config_env_name("listen"), "DEFGATE_LISTEN", "env listen");
	is_str(config_env_name("allow_write"), "DEFGATE_ALLOW_WRITE",
	    "env allow_write");
	is_str(config_env_name("max_body"), "DEFGATE_MAX_BODY", "env max_body");
	ok(config_env_name("nope") == NULL, "no env for an unknown key");
}

static void
test_file_syntax(void)
{
	struct gw_config cf;
	struct buf	 errs;
	const char	*p;

	p = write_str("good.conf",
	    "# a comment\n"
	    "; another comment\n"
	    "\n"
	    "   \t\n"
	    "[defgate]\n"
	    "tenant_id=" TENANT "\n"
	    "  client_id   =   \"" CLIENT "\"  \n"
	    "\tscope\t=\t'https://api.security.microsoft.com/.default'\n"
	    "listen = 127.0.0.1:9999\r\n"
	    "  # indented comment = with equals\n"
	    "allow_write = yes\n"
	    "api_url = \"https://api-eu.security.microsoft.com\"\n"
	    "max_body = 512k", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_load_file(&cf, p, &errs), 0, "well-formed file loads");
	is_int(errs.len, 0, "no errors for a well-formed file");
	is_str(cf.tenant_id, TENANT, "key=value without spaces");
	is_str(cf.client_id, CLIENT, "spaces around = and double quotes");
	is_str(cf.scope, "https://api.security.microsoft.com/.default",
	    "tabs and single quotes");
	is_str(cf.listen, "127.0.0.1:9999", "CRLF line ending stripped");
	is_int(cf.allow_write, 1, "bool from file");
	is_str(cf.api_url, "https://api-eu.security.microsoft.com",
	    "quoted URL");
	is_int(cf.max_body, 512 * 1024, "last line without newline");
	is_str(cf.config_file, p, "config_file path remembered");
	config_free(&cf);
	buf_free(&errs);

	p = write_str("bad.conf",
	    "tenant_id = " TENANT "\n"
	    "# fine\n"
	    "bogus_key = 1\n"
	    "this line has no equals sign\n"
	    "allow_write = maybe\n"
	    "client_id = " CLIENT "\n", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_load_file(&cf, p, &errs), -1, "bad file fails");
	{
		char want[256];

		snprintf(want, sizeof(want), "%s:3: unknown setting "
		    "\"bogus_key\"", p);
		like(errtext(&errs), want, "unknown key reported with file:line");
		snprintf(want, sizeof(want), "%s:4: expected", p);
		like(errtext(&errs), want, "missing = reported with file:line");
		snprintf(want, sizeof(want), "%s:5:", p);
		like(errtext(&errs), want, "bad value reported with file:line");
	}
	like(errtext(&errs), "allow_write (DEFGATE_ALLOW_WRITE) has an "
	    "invalid value \"maybe\"", "bad value names key and env");
	ok(count_lines(&errs) >= 3, "all problems of the file reported");
	is_str(cf.tenant_id, TENANT, "good lines before errors applied");
	is_str(cf.client_id, CLIENT, "good lines after errors applied");
	config_free(&cf);
	buf_free(&errs);

	/* values may contain '=' (base64-style secrets end with it) */
	p = write_str("eq.conf", "client_secret = abc+/def==\n"
	    "scope=a=b\n", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_load_file(&cf, p, &errs), 0, "values with '=' load");
	is_str(cf.client_secret, "abc+/def==", "secret keeps its '=' padding");
	is_str(cf.scope, "a=b", "split at the first '='");
	config_free(&cf);
	buf_free(&errs);

	/* a config file over the size cap is refused as a whole */
	{
		size_t	 n = 300 * 1024;
		char	*big = malloc(n);

		memset(big, '#', n);
		for (size_t i = 79; i < n; i += 80)
			big[i] = '\n';
		p = write_file("huge.conf", big, n, 0600);
		free(big);
	}
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_load_file(&cf, p, &errs), -1, "oversize file refused");
	like(errtext(&errs), "larger than", "oversize file reported");
	config_free(&cf);
	buf_free(&errs);

	/* a line longer than the line buffer */
	{
		char	*big = malloc(6000);

		memcpy(big, "scope = ", 8);
		memset(big + 8, 'a', 5000);
		memcpy(big + 5008, "\nlisten = 127.0.0.1:7777\n", 26);
		p = write_str("long.conf", big, 0600);
		free(big);
	}
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_load_file(&cf, p, &errs), -1, "over-long line fails");
	like(errtext(&errs), ":1: line too long", "over-long line reported");
	is_str(cf.listen, "127.0.0.1:7777", "parsing resumes after a long line");
	is_int(count_lines(&errs), 1, "long line reported once");
	config_free(&cf);
	buf_free(&errs);

	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_load_file(&cf, "/nonexistent/defgate.conf", &errs), -1,
	    "missing file fails");
	like(errtext(&errs), "/nonexistent/defgate.conf",
	    "missing file error names the path");
	config_free(&cf);
	buf_free(&errs);
}

static void
test_precedence(void)
{
	struct gw_config cf;
	struct buf	 errs;
	const char	*p;
	char		 c_tenant[] = "tenant_id=cmd-tenant";
	char		 c_listen[] = "listen=127.0.0.1:7003";
	char		*cmd[] = { c_tenant, c_listen };

	clear_env();
	p = write_str("prec.conf",
	    "tenant_id = file-tenant\n"
	    "client_id = " CLIENT "\n"
	    "client_secret = file-secret\n"
	    "listen = 127.0.0.1:7001\n"
	    "max_body = 2m\n", 0600);

	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_build(&cf, p, NULL, 0, &errs), 0, "file only: builds");
	is_str(errtext(&errs), "", "file only: no errors");
	is_str(cf.tenant_id, "file-tenant", "file only: file value");
	is_str(cf.listen, "127.0.0.1:7001", "file only: file listen");
	is_str(cf.client_secret, "file-secret", "file only: file secret");
	is_int(cf.max_body, 2 << 20, "file only: file max_body");
	config_free(&cf);
	buf_free(&errs);

	setenv("AZURE_TENANT_ID", "env-tenant", 1);
	setenv("DEFGATE_LISTEN", "127.0.0.1:7002", 1);
	setenv("AZURE_CLIENT_SECRET", "env-secret", 1);
	setenv("DEFGATE_MAX_BODY", "", 1);	/* empty: ignored */
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_build(&cf, p, NULL, 0, &errs), 0, "file+env: builds");
	is_str(cf.tenant_id, "env-tenant", "env beats file (tenant)");
	is_str(cf.listen, "127.0.0.1:7002", "env beats file (listen)");
	is_str(cf.client_secret, "env-secret", "env beats file (secret)");
	is_str(cf.client_id, CLIENT, "file value kept when env unset");
	is_int(cf.max_body, 2 << 20, "empty env variable is ignored");
	config_free(&cf);
	buf_free(&errs);

	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_build(&cf, p, cmd, 2, &errs), 0, "all three: builds");
	is_str(cf.tenant_id, "cmd-tenant", "command line beats env");
	is_str(cf.listen, "127.0.0.1:7003", "command line listen wins");
	is_str(cf.client_secret, "env-secret", "env kept when no cmdline");
	config_free(&cf);
	buf_free(&errs);

	/* env alone, no file */
	setenv("AZURE_CLIENT_ID", CLIENT, 1);
	setenv("DEFGATE_TOKEN_VERSION", "v1", 1);
	setenv("DEFGATE_ALLOW_WRITE", "true", 1);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_build(&cf, NULL, NULL, 0, &errs), 0, "env only builds");
	is_int(cf.token_version, 1, "token_version from env");
	is_int(cf.allow_write, 1, "allow_write from env");
	config_free(&cf);
	buf_free(&errs);

	/* a bad env value names key and variable */
	setenv("DEFGATE_MAX_BODY", "lots", 1);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_build(&cf, NULL, NULL, 0, &errs), -1,
	    "bad env value fails");
	like(errtext(&errs), "max_body (DEFGATE_MAX_BODY) has an invalid value",
	    "bad env value names key and env");
	config_free(&cf);
	buf_free(&errs);
	clear_env();

	/* malformed and unknown command line entries */
	{
		char	 a[] = "noequals", b[] = "=value", c[] = "bogus=1";
		char	 d[] = "client_secret=" SECRET;
		char	*bad[] = { a, b, c, d };

		buf_init(&errs, CONFIG_MAX_ERRORS);
		is_int(config_build(&cf, p, bad, 4, &errs), -1,
		    "bad command line fails");
		like(errtext(&errs), "--set: expected key=value (entry 1)",
		    "cmdline entry without =");
		like(errtext(&errs), "--set: expected key=value (entry 2)",
		    "cmdline entry with empty key");
		like(errtext(&errs), "bogus: unknown setting",
		    "cmdline unknown key");
		is_str(cf.client_secret, SECRET, "cmdline secret applied");
		unlike(errtext(&errs), SECRET, "secret absent from errors");
		config_free(&cf);
		buf_free(&errs);
	}
}

static void
test_required(void)
{
	struct gw_config cf;
	struct buf	 errs;
	char		 u[] = "api_url=http://api.example";
	char		*cmd[] = { u };

	clear_env();
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_build(&cf, NULL, cmd, 1, &errs), -1,
	    "nothing set: fails");
	like(errtext(&errs), "tenant_id (AZURE_TENANT_ID) is required",
	    "tenant_id required, with env name");
	like(errtext(&errs), "client_id (AZURE_CLIENT_ID) is required",
	    "client_id required, with env name");
	like(errtext(&errs), "client_secret (AZURE_CLIENT_SECRET) is required",
	    "client_secret required, with env name");
	like(errtext(&errs), "AZURE_CLIENT_SECRET_FILE",
	    "client_secret error mentions the secret file variable");
	like(errtext(&errs), "api_url (DEFGATE_API_URL) must be an https:// URL",
	    "bad api_url reported in the same run");
	is_int(count_lines(&errs), 4, "one line per problem, all in one run");
	config_free(&cf);
	buf_free(&errs);

	/* every line names a key and its variable */
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_defaults(&cf);
	config_set(&cf, "tenant_id", "bad/tenant", &errs);
	config_set(&cf, "client_id", "not a guid", &errs);
	config_set(&cf, "client_secret", SECRET, &errs);
	config_set(&cf, "scope", "a b", &errs);
	is_int(config_finalize(&cf, &errs), -1, "bad ids fail");
	like(errtext(&errs), "tenant_id (AZURE_TENANT_ID) must be",
	    "bad tenant chars refused");
	like(errtext(&errs), "client_id (AZURE_CLIENT_ID) must be",
	    "bad client_id refused");
	like(errtext(&errs), "scope (DEFGATE_SCOPE) must be",
	    "scope with a space refused");
	is_int(count_lines(&errs), 3, "three problems, three lines");
	unlike(errtext(&errs), SECRET, "secret absent from errors");
	config_free(&cf);
	buf_free(&errs);

	{
		const char *bad_tenants[] = { "common", "organizations",
		    "consumers", "Common" };

		for (size_t i = 0; i < 4; i++) {
			is_int(finalize_with("tenant_id", bad_tenants[i], &cf,
			    &errs), -1, bad_tenants[i]);
			like(errtext(&errs), "tenant_id (AZURE_TENANT_ID)",
			    "multi-tenant alias refused with key and env");
			config_free(&cf);
			buf_free(&errs);
		}
	}
	/* dot-only tenants would turn the token URL into /../oauth2/... */
	{
		const char *dots[] = { "..", "." };

		for (size_t i = 0; i < 2; i++) {
			char name[64];

			snprintf(name, sizeof(name), "tenant_id \"%s\" refused",
			    dots[i]);
			is_int(finalize_with("tenant_id", dots[i], &cf, &errs),
			    -1, name);
			config_free(&cf);
			buf_free(&errs);
		}
	}
	is_int(finalize_with("tenant_id", "contoso.onmicrosoft.com", &cf,
	    &errs), 0, "tenant domain name accepted");
	config_free(&cf);
	buf_free(&errs);
	is_int(finalize_with(NULL, NULL, &cf, &errs), 0,
	    "valid config finalizes");
	is_str(errtext(&errs), "", "valid config: no errors");
	config_free(&cf);
	buf_free(&errs);

	/* a readable ca_file passes, a missing one is named */
	{
		const char *ca = write_str("ca.pem", "-----BEGIN CERTIFICATE-----\n",
		    0644);

		is_int(finalize_with("ca_file", ca, &cf, &errs), 0,
		    "readable ca_file accepted");
		config_free(&cf);
		buf_free(&errs);
	}
	is_int(finalize_with("ca_file", "/nonexistent/ca.pem", &cf, &errs), -1,
	    "missing ca_file refused");
	like(errtext(&errs), "ca_file (DEFGATE_CA_FILE)", "ca_file error names key");
	config_free(&cf);
	buf_free(&errs);
}

static void
test_secret_file(void)
{
	struct gw_config cf;
	struct buf	 errs;
	const char	*p;
	char		*out;

	p = write_str("secret1", SECRET "\n", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_set(&cf, "tenant_id", TENANT, &errs);
	config_set(&cf, "client_id", CLIENT, &errs);
	config_set(&cf, "client_secret_file", p, &errs);
	is_int(config_finalize(&cf, &errs), 0, "secret file read");
	is_str(cf.client_secret, SECRET, "trailing LF stripped");
	config_free(&cf);
	buf_free(&errs);

	p = write_str("secret2", SECRET "\r\n", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_set(&cf, "tenant_id", TENANT, &errs);
	config_set(&cf, "client_id", CLIENT, &errs);
	config_set(&cf, "client_secret_file", p, &errs);
	is_int(config_finalize(&cf, &errs), 0, "CRLF secret file read");
	is_str(cf.client_secret, SECRET, "trailing CRLF stripped");
	config_free(&cf);
	buf_free(&errs);

	p = write_str("secret3", SECRET, 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_set(&cf, "tenant_id", TENANT, &errs);
	config_set(&cf, "client_id", CLIENT, &errs);
	config_set(&cf, "client_secret_file", p, &errs);
	is_int(config_finalize(&cf, &errs), 0, "secret file without newline");
	is_str(cf.client_secret, SECRET, "secret without newline kept whole");
	config_free(&cf);
	buf_free(&errs);

	/* secret file via the environment */
	clear_env();
	setenv("AZURE_TENANT_ID", TENANT, 1);
	setenv("AZURE_CLIENT_ID", CLIENT, 1);
	setenv("AZURE_CLIENT_SECRET_FILE", p, 1);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_build(&cf, NULL, NULL, 0, &errs), 0,
	    "AZURE_CLIENT_SECRET_FILE used");
	is_str(cf.client_secret, SECRET, "secret from the env-named file");
	config_free(&cf);
	buf_free(&errs);
	clear_env();

	{
		const char *empties[] = { "", "\n", "\r\n" };

		for (size_t i = 0; i < 3; i++) {
			p = write_str("empty", empties[i], 0600);
			config_defaults(&cf);
			buf_init(&errs, CONFIG_MAX_ERRORS);
			config_set(&cf, "tenant_id", TENANT, &errs);
			config_set(&cf, "client_id", CLIENT, &errs);
			config_set(&cf, "client_secret_file", p, &errs);
			is_int(config_finalize(&cf, &errs), -1,
			    "empty secret file refused");
			like(errtext(&errs), "client_secret_file "
			    "(AZURE_CLIENT_SECRET_FILE)",
			    "empty secret file error names key and env");
			like(errtext(&errs), "empty", "says empty");
			config_free(&cf);
			buf_free(&errs);
		}
	}

	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_set(&cf, "tenant_id", TENANT, &errs);
	config_set(&cf, "client_id", CLIENT, &errs);
	config_set(&cf, "client_secret_file", "/nonexistent/secret", &errs);
	is_int(config_finalize(&cf, &errs), -1, "missing secret file refused");
	like(errtext(&errs), "client_secret_file (AZURE_CLIENT_SECRET_FILE)",
	    "missing secret file names key and env");
	config_free(&cf);
	buf_free(&errs);

	/* oversize secret file: refused, content not echoed */
	{
		char *big = malloc(5000);

		memset(big, 'S', 5000);
		memcpy(big, SECRET, strlen(SECRET));
		p = write_file("bigsecret", big, 5000, 0600);
		free(big);
	}
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_set(&cf, "tenant_id", TENANT, &errs);
	config_set(&cf, "client_id", CLIENT, &errs);
	config_set(&cf, "client_secret_file", p, &errs);
	is_int(config_finalize(&cf, &errs), -1, "oversize secret file refused");
	like(errtext(&errs), "too large", "says too large");
	unlike(errtext(&errs), SECRET, "oversize secret not echoed");
	ok(cf.client_secret == NULL, "no secret taken from an oversize file");
	config_free(&cf);
	buf_free(&errs);

	/* both set */
	p = write_str("secret1", SECRET "\n", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_set(&cf, "tenant_id", TENANT, &errs);
	config_set(&cf, "client_id", CLIENT, &errs);
	config_set(&cf, "client_secret", SECRET, &errs);
	config_set(&cf, "client_secret_file", p, &errs);
	is_int(config_finalize(&cf, &errs), -1,
	    "secret and secret file both set: refused");
	like(errtext(&errs), "client_secret (AZURE_CLIENT_SECRET) and "
	    "client_secret_file (AZURE_CLIENT_SECRET_FILE) are both set",
	    "both-set error names both keys and envs");
	unlike(errtext(&errs), SECRET, "secret absent from both-set error");
	config_free(&cf);
	buf_free(&errs);

	/* a group-readable secret file is warned about, without the secret */
	p = write_str("secret4", SECRET "\n", 0640);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	config_set(&cf, "tenant_id", TENANT, &errs);
	config_set(&cf, "client_id", CLIENT, &errs);
	config_set(&cf, "client_secret_file", p, &errs);
	capture_begin();
	is_int(config_finalize(&cf, &errs), 0, "group-readable secret file read");
	out = capture_end();
	like(out, "readable by group or others",
	    "group-readable secret file warned about");
	like(out, p, "warning names the secret file");
	unlike(out, SECRET, "warning does not contain the secret");
	free(out);
	config_free(&cf);
	buf_free(&errs);
}

static void
test_file_permissions(void)
{
	struct gw_config cf;
	struct buf	 errs;
	const char	*p;
	char		*out;

	p = write_str("open.conf", "client_secret = " SECRET "\n", 0644);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	capture_begin();
	is_int(config_load_file(&cf, p, &errs), 0, "0644 file with secret loads");
	out = capture_end();
	like(out, "holds a secret (client_secret, a password or "
	    "IDENTITY_HEADER) and is readable by group or others",
	    "world-readable config with secret warned about");
	like(out, p, "warning names the file");
	unlike(out, SECRET, "warning does not contain the secret");
	free(out);
	config_free(&cf);
	buf_free(&errs);

	p = write_str("group.conf", "client_secret = " SECRET "\n", 0640);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	capture_begin();
	config_load_file(&cf, p, &errs);
	out = capture_end();
	like(out, "readable by group", "group-readable config warned about");
	free(out);
	config_free(&cf);
	buf_free(&errs);

	p = write_str("closed.conf", "client_secret = " SECRET "\n", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	capture_begin();
	config_load_file(&cf, p, &errs);
	out = capture_end();
	is_str(out, "", "0600 config with secret: no warning");
	free(out);
	config_free(&cf);
	buf_free(&errs);

	p = write_str("nosecret.conf", "tenant_id = " TENANT "\n", 0644);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	capture_begin();
	config_load_file(&cf, p, &errs);
	out = capture_end();
	is_str(out, "", "0644 config without secret: no warning");
	free(out);
	config_free(&cf);
	buf_free(&errs);
}

static void
test_secret_never_in_errors(void)
{
	struct gw_config cf;
	struct buf	 errs;
	const char	*p;
	char		*out;

	/* typos around the secret line in a file */
	p = write_str("typo.conf",
	    "client_secret " SECRET "\n"
	    "client_secret: " SECRET "\n"
	    "client_secert = " SECRET "\n"
	    "client_secret = \"" SECRET "\n", 0600);
	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	capture_begin();
	is_int(config_load_file(&cf, p, &errs), -1, "secret typos fail");
	out = capture_end();
	ok(count_lines(&errs) >= 3, "each typo reported");
	unlike(errtext(&errs), SECRET, "file typos: secret not in errors");
	unlike(errtext(&errs), "TopSecret", "no part of the secret in errors");
	unlike(out, "TopSecret", "file typos: secret not logged");
	free(out);
	config_free(&cf);
	buf_free(&errs);

	/* secret set, other settings broken: the secret is not echoed */
	clear_env();
	setenv("AZURE_CLIENT_SECRET", SECRET, 1);
	setenv("DEFGATE_MAX_BODY", "0", 1);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	capture_begin();
	is_int(config_build(&cf, NULL, NULL, 0, &errs), -1, "broken env fails");
	out = capture_end();
	unlike(errtext(&errs), SECRET, "env secret not in errors");
	unlike(out, SECRET, "env secret not logged");
	free(out);
	config_free(&cf);
	buf_free(&errs);
	clear_env();

	/* a mistyped command line secret ("key:value", no '=') */
	{
		char	 a[] = "client_secret:" SECRET;
		char	 b[] = "client_secret " SECRET;
		char	*cmd[] = { a, b };

		buf_init(&errs, CONFIG_MAX_ERRORS);
		is_int(config_build(&cf, NULL, cmd, 2, &errs), -1,
		    "mistyped cmdline secret fails");
		ok(count_lines(&errs) >= 2, "mistyped cmdline reported");
		unlike(errtext(&errs), "TopSecret",
		    "mistyped cmdline secret not echoed in errors");
		config_free(&cf);
		buf_free(&errs);
	}
}

static void
test_urls(void)
{
	struct gw_config cf;
	struct buf	 errs;
	static const struct {
		const char *in, *want;
	} good[] = {
		{ "https://login.example.com", "https://login.example.com" },
		{ "https://login.example.com/", "https://login.example.com" },
		{ "https://login.example.com///", "https://login.example.com" },
		{ "https://login.example.com:8443/", "https://login.example.com:8443" },
		{ "HTTPS://Login.Example.com", "HTTPS://Login.Example.com" },
		{ "https://127.0.0.1:4443", "https://127.0.0.1:4443" },
	};
	static const char *const bad[] = {
		"http://login.example.com", "login.example.com", "https://",
		"https:///path", "ftp://x", "https://login.example.com?x=1",
		"https://user@login.example.com", "https://user:pw@evil",
		"https://login.example.com/#frag", "https://a b", "https://a\\b",
		"",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		is_int(finalize_with("authority_host", good[i].in, &cf, &errs),
		    0, good[i].in);
		is_str(cf.authority_host, good[i].want,
		    "authority_host normalised");
		config_free(&cf);
		buf_free(&errs);
		is_int(finalize_with("api_url", good[i].in, &cf, &errs), 0,
		    good[i].in);
		is_str(cf.api_url, good[i].want, "api_url normalised");
		config_free(&cf);
		buf_free(&errs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[128];

		snprintf(name, sizeof(name), "authority_host \"%s\" refused",
		    bad[i]);
		is_int(finalize_with("authority_host", bad[i], &cf, &errs), -1,
		    name);
		like(errtext(&errs), "authority_host (AZURE_AUTHORITY_HOST)",
		    "error names authority_host and its env");
		config_free(&cf);
		buf_free(&errs);
		snprintf(name, sizeof(name), "api_url \"%s\" refused", bad[i]);
		is_int(finalize_with("api_url", bad[i], &cf, &errs), -1, name);
		like(errtext(&errs), "api_url (DEFGATE_API_URL)",
		    "error names api_url and its env");
		config_free(&cf);
		buf_free(&errs);
	}
}

static void
test_values(void)
{
	struct gw_config cf;
	struct buf	 errs;
	static const struct {
		const char *v;
		int want;
	} versions[] = {
		{ "v1", 1 }, { "V1", 1 }, { "1", 1 }, { "1.0", 1 },
		{ "v2", 2 }, { "V2", 2 }, { "2", 2 }, { "2.0", 2 },
	};
	static const char *const bad_versions[] = { "v3", "3", "", "v", "one",
	    "v1 " };
	static const struct {
		const char *v;
		long long want;
	} sizes[] = {
		{ "1m", 1048576 }, { "1M", 1048576 }, { "512k", 524288 },
		{ "512K", 524288 }, { "1048576", 1048576 }, { "1", 1 },
		{ "64m", 64LL << 20 }, { "67108864", 67108864 },
	};
	static const char *const bad_sizes[] = { "0", "0k", "65m", "67108865",
	    "1g", "-1", "1x", "", "k", "1kk", "1.5m", " 1m", "1 m",
	    "99999999999999999999" };
	static const struct {
		const char *v;
		int want;
	} bools[] = {
		{ "true", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "on", 1 },
		{ "1", 1 }, { "false", 0 }, { "no", 0 }, { "off", 0 },
		{ "0", 0 }, { "False", 0 },
	};
	static const char *const bad_bools[] = { "maybe", "", "2", "y", "truee" };

	config_defaults(&cf);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		buf_init(&errs, CONFIG_MAX_ERRORS);
		cf.token_version = 0;
		is_int(config_set(&cf, "token_version", versions[i].v, &errs),
		    0, versions[i].v);
		is_int(cf.token_version, versions[i].want, "token_version value");
		buf_free(&errs);
	}
	for (size_t i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]);
	    i++) {
		buf_init(&errs, CONFIG_MAX_ERRORS);
		cf.token_version = 2;
		is_int(config_set(&cf, "token_version", bad_versions[i], &errs),
		    -1, "bad token_version refused");
		like(errtext(&errs), "token_version (DEFGATE_TOKEN_VERSION)",
		    "token_version error names key and env");
		is_int(cf.token_version, 2, "bad token_version leaves value");
		buf_free(&errs);
	}

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		buf_init(&errs, CONFIG_MAX_ERRORS);
		is_int(config_set(&cf, "max_body", sizes[i].v, &errs), 0,
		    sizes[i].v);
		is_int(cf.max_body, sizes[i].want, "max_body value");
		buf_free(&errs);
	}
	cf.max_body = 4242;
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "max_body \"%s\" refused",
		    bad_sizes[i]);
		buf_init(&errs, CONFIG_MAX_ERRORS);
		is_int(config_set(&cf, "max_body", bad_sizes[i], &errs), -1,
		    name);
		like(errtext(&errs), "max_body (DEFGATE_MAX_BODY)",
		    "size error names key and env");
		buf_free(&errs);
	}
	is_int(cf.max_body, 4242, "bad sizes leave max_body unchanged");

	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_set(&cf, "max_response", "1k", &errs), 0,
	    "max_response 1k (minimum)");
	is_int(cf.max_response, 1024, "max_response 1k value");
	is_int(config_set(&cf, "max_response", "1023", &errs), -1,
	    "max_response below minimum refused");
	is_int(config_set(&cf, "max_response", "256m", &errs), 0,
	    "max_response 256m");
	is_int(cf.max_response, 256LL << 20, "max_response 256m value");
	is_int(config_set(&cf, "max_response", "5g", &errs), -1,
	    "max_response above 4g refused");
	buf_free(&errs);

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		buf_init(&errs, CONFIG_MAX_ERRORS);
		cf.allow_write = !bools[i].want;
		is_int(config_set(&cf, "allow_write", bools[i].v, &errs), 0,
		    bools[i].v);
		is_int(cf.allow_write, bools[i].want, "allow_write value");
		buf_free(&errs);
	}
	for (size_t i = 0; i < sizeof(bad_bools) / sizeof(bad_bools[0]); i++) {
		buf_init(&errs, CONFIG_MAX_ERRORS);
		cf.allow_write = 0;
		is_int(config_set(&cf, "allow_write", bad_bools[i], &errs), -1,
		    "bad bool refused");
		like(errtext(&errs), "allow_write (DEFGATE_ALLOW_WRITE) has an "
		    "invalid value", "bool error names key and env");
		is_int(cf.allow_write, 0, "bad bool leaves value");
		buf_free(&errs);
	}

	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_set(&cf, "timeout", "30", &errs), 0, "timeout 30");
	is_int(cf.timeout_ms, 30000, "timeout in milliseconds");
	is_int(config_set(&cf, "connect_timeout", "5", &errs), 0,
	    "connect_timeout 5");
	is_int(cf.connect_timeout_ms, 5000, "connect_timeout ms");
	is_int(config_set(&cf, "token_timeout", "7", &errs), 0,
	    "token_timeout 7");
	is_int(cf.token_timeout_ms, 7000, "token_timeout ms");
	is_int(config_set(&cf, "timeout", "0", &errs), -1, "timeout 0 refused");
	is_int(config_set(&cf, "timeout", "3601", &errs), -1,
	    "timeout 3601 refused");
	is_int(config_set(&cf, "timeout", "1s", &errs), -1,
	    "timeout with unit refused");
	is_int(cf.timeout_ms, 30000, "bad timeouts leave the value");
	is_int(config_set(&cf, "max_clients", "60000", &errs), 0,
	    "max_clients 60000");
	is_int(cf.max_clients, 60000, "max_clients value");
	is_int(config_set(&cf, "max_clients", "60001", &errs), -1,
	    "max_clients 60001 refused");
	is_int(config_set(&cf, "max_upstream_connections", "16", &errs), 0,
	    "max_upstream_connections 16");
	is_int(cf.max_upstream_conns, 16, "max_upstream_conns value");
	is_int(config_set(&cf, "client_timeout", "0", &errs), -1,
	    "client_timeout 0 refused");
	is_int(config_set(&cf, "nonsense", "1", &errs), -1,
	    "unknown key refused by config_set");
	like(errtext(&errs), "nonsense: unknown setting",
	    "config_set unknown key message");
	buf_free(&errs);
	config_free(&cf);
}

static struct sockaddr_storage ss;

static const struct sockaddr *
sa4(const char *ip)
{
	struct sockaddr_in *s = (struct sockaddr_in *)(void *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &s->sin_addr) != 1)
		abort();
	return ((const struct sockaddr *)(void *)&ss);
}

static const struct sockaddr *
sa6(const char *ip)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, ip, &s->sin6_addr) != 1)
		abort();
	return ((const struct sockaddr *)(void *)&ss);
}

static void
test_allow_from(void)
{
	struct gw_config cf;
	struct buf	 errs;
	struct sockaddr_un un;

	/* default: loopback only */
	config_defaults(&cf);
	is_int(config_allowed(&cf, sa4("127.0.0.1")), 1, "default: 127.0.0.1");
	is_int(config_allowed(&cf, sa4("127.9.8.7")), 1, "default: 127/8");
	is_int(config_allowed(&cf, sa4("10.0.0.1")), 0, "default: 10.0.0.1 no");
	is_int(config_allowed(&cf, sa4("128.0.0.1")), 0, "default: 128.0.0.1 no");
	is_int(config_allowed(&cf, sa6("::1")), 1, "default: ::1");
	is_int(config_allowed(&cf, sa6("::2")), 0, "default: ::2 no");
	is_int(config_allowed(&cf, sa6("fe80::1")), 0, "default: fe80::1 no");
	is_int(config_allowed(&cf, sa6("::ffff:127.0.0.1")), 1,
	    "default: v4-mapped loopback");
	is_int(config_allowed(&cf, sa6("::ffff:10.0.0.1")), 0,
	    "default: v4-mapped 10.0.0.1 no");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	is_int(config_allowed(&cf, (const struct sockaddr *)(void *)&un), 0,
	    "AF_UNIX refused");
	is_int(config_allowed(&cf, NULL), 0, "NULL address refused");

	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_set(&cf, "allow_from",
	    " 10.0.0.0/8 , 192.168.1.7,10.1.0.0/15, fd00::/8,2001:db8::1 ",
	    &errs), 0, "CIDR list parsed");
	is_str(errtext(&errs), "", "no errors for a good list");
	is_int(cf.allow_from_set, 1, "allow_from_set");
	is_int(cf.nallow_from, 5, "five entries");
	is_int(cf.allow_from[0].family, AF_INET, "entry 0 is v4");
	is_int(cf.allow_from[0].prefix, 8, "entry 0 prefix 8");
	is_int(cf.allow_from[1].prefix, 32, "bare v4 address is /32");
	is_int(cf.allow_from[3].family, AF_INET6, "entry 3 is v6");
	is_int(cf.allow_from[4].prefix, 128, "bare v6 address is /128");
	is_int(config_allowed(&cf, sa4("10.200.3.4")), 1, "10/8 matches");
	is_int(config_allowed(&cf, sa4("11.0.0.1")), 0, "11.0.0.1 does not");
	is_int(config_allowed(&cf, sa4("192.168.1.7")), 1, "/32 matches itself");
	is_int(config_allowed(&cf, sa4("192.168.1.8")), 0, "/32 only itself");
	is_int(config_allowed(&cf, sa4("127.0.0.1")), 0,
	    "loopback not implied once allow_from is set");
	is_int(config_allowed(&cf, sa6("fd12:3456::1")), 1, "fd00::/8 matches");
	is_int(config_allowed(&cf, sa6("fe00::1")), 0, "fe00::1 does not");
	is_int(config_allowed(&cf, sa6("2001:db8::1")), 1, "v6 /128 matches");
	is_int(config_allowed(&cf, sa6("2001:db8::2")), 0, "v6 /128 only itself");
	is_int(config_allowed(&cf, sa6("::1")), 0, "::1 not implied");
	is_int(config_allowed(&cf, sa6("::ffff:10.9.9.9")), 1,
	    "v4-mapped v6 matches a v4 CIDR");
	is_int(config_allowed(&cf, sa6("::ffff:11.9.9.9")), 0,
	    "v4-mapped v6 outside the CIDR");
	buf_free(&errs);

	/* a prefix that is not a multiple of 8 */
	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_set(&cf, "allow_from", "10.2.0.0/15,2001:db8:8000::/33",
	    &errs), 0, "odd prefixes parsed");
	is_int(cf.nallow_from, 2, "list replaced, not appended");
	is_int(config_allowed(&cf, sa4("10.3.255.255")), 1, "10.2/15 has 10.3");
	is_int(config_allowed(&cf, sa4("10.1.0.0")), 0, "10.2/15 lacks 10.1");
	is_int(config_allowed(&cf, sa4("10.4.0.0")), 0, "10.2/15 lacks 10.4");
	is_int(config_allowed(&cf, sa6("2001:db8:ffff::1")), 1,
	    "/33 upper half matches");
	is_int(config_allowed(&cf, sa6("2001:db8:7fff::1")), 0,
	    "/33 lower half does not");
	buf_free(&errs);

	buf_init(&errs, CONFIG_MAX_ERRORS);
	is_int(config_set(&cf, "allow_from", "0.0.0.0/0", &errs), 0,
	    "0.0.0.0/0 parsed");
	is_int(config_allowed(&cf, sa4("203.0.113.9")), 1, "/0 matches all v4");
	is_int(config_allowed(&cf, sa6("2001:db8::9")), 0,
	    "v4 /0 does not match v6");
	buf_free(&errs);

	{
		static const char *const bad[] = { "", "300.1.1.1",
		    "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1",
		    "10.0.0.0/8,,10.1.0.0/16", "localhost", "10.0.0.0/8x",
		    "10.0.0.0/8 192.168.0.0/16", "/8", "," };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char name[96];

			buf_init(&errs, CONFIG_MAX_ERRORS);
			snprintf(name, sizeof(name),
			    "allow_from \"%s\" refused", bad[i]);
			is_int(config_set(&cf, "allow_from", bad[i], &errs), -1,
			    name);
			like(errtext(&errs), "allow_from (DEFGATE_ALLOW_FROM)",
			    "allow_from error names key and env");
			buf_free(&errs);
		}
	}
	{
		char	 list[33 * 16] = "";
		size_t	 n = 0;

		for (int i = 0; i < 33; i++)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			    "%s10.0.%d.0/24", i ? "," : "", i);
		buf_init(&errs, CONFIG_MAX_ERRORS);
		is_int(config_set(&cf, "allow_from", list, &errs), -1,
		    "more than CONFIG_MAX_ALLOW entries refused");
		buf_free(&errs);
		*strrchr(list, ',') = '\0';
		buf_init(&errs, CONFIG_MAX_ERRORS);
		is_int(config_set(&cf, "allow_from", list, &errs), 0,
		    "exactly CONFIG_MAX_ALLOW entries accepted");
		is_int(cf.nallow_from, CONFIG_MAX_ALLOW, "32 entries");
		is_int(config_allowed(&cf, sa4("10.0.31.5")), 1, "last matches");
		buf_free(&errs);
	}
	config_free(&cf);
}

static void
test_listen(void)
{
	struct gw_config cf;
	struct buf	 errs;
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:",
	    ":8080", "127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:-1",
	    "127.0.0.1:http", "127.0.0.1:80x", "[::1]8080", "[::1", "[::1]:",
	    "[]:8080", "[::1]:abc", "" };

	is_int(finalize_with("listen", "127.0.0.1:0", &cf, &errs), 0,
	    "listen 127.0.0.1:0");
	s4 = (const struct sockaddr_in *)(const void *)&cf.listen_addr;
	is_int(s4->sin_family, AF_INET, "v4 family");
	is_int(ntohs(s4->sin_port), 0, "port 0");
	is_int(ntohl(s4->sin_addr.s_addr), 0x7f000001, "127.0.0.1");
	is_int(cf.listen_addrlen, sizeof(struct sockaddr_in), "v4 addrlen");
	config_free(&cf);
	buf_free(&errs);

	is_int(finalize_with("listen", "[::1]:8080", &cf, &errs), 0,
	    "listen [::1]:8080");
	s6 = (const struct sockaddr_in6 *)(const void *)&cf.listen_addr;
	is_int(s6->sin6_family, AF_INET6, "v6 family");
	is_int(ntohs(s6->sin6_port), 8080, "port 8080");
	ok(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr), "::1");
	is_int(cf.listen_addrlen, sizeof(struct sockaddr_in6), "v6 addrlen");
	config_free(&cf);
	buf_free(&errs);

	is_int(finalize_with("listen", "0.0.0.0:65535", &cf, &errs), 0,
	    "listen 0.0.0.0:65535");
	s4 = (const struct sockaddr_in *)(const void *)&cf.listen_addr;
	is_int(ntohs(s4->sin_port), 65535, "port 65535");
	config_free(&cf);
	buf_free(&errs);

	is_int(finalize_with(NULL, NULL, &cf, &errs), 0, "default listen");
	s4 = (const struct sockaddr_in *)(const void *)&cf.listen_addr;
	is_int(ntohs(s4->sin_port), 8080, "default port 8080");
	config_free(&cf);
	buf_free(&errs);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "listen \"%s\" refused", bad[i]);
		is_int(finalize_with("listen", bad[i], &cf, &errs), -1, name);
		like(errtext(&errs), "listen (DEFGATE_LISTEN)",
		    "listen error names key and env");
		is_int(count_lines(&errs), 1, "only the listen problem");
		config_free(&cf);
		buf_free(&errs);
	}
}

/*
 * Kept last: a size suffix multiplying past LLONG_MAX is signed overflow
 * (UBSan aborts here; without it the value wraps and may be accepted).
 */
static void
test_size_overflow(void)
{
	struct gw_config cf;
	struct buf	 errs;

	config_defaults(&cf);
	buf_init(&errs, CONFIG_MAX_ERRORS);
	/* 2^34 + 1 GiB wraps to exactly 1 GiB on 64-bit */
	is_int(config_set(&cf, "max_response", "17179869185g", &errs), -1,
	    "max_response 17179869185g (overflows) refused");
	is_int(config_set(&cf, "max_body", "1099511627776g", &errs), -1,
	    "max_body 2^40 g (overflows) refused");
	buf_free(&errs);
	config_free(&cf);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");

	plan_lazy();
	snprintf(tmpdir, sizeof(tmpdir), "%s/defgate-test-XXXXXX",
	    t && *t && strlen(t) < 40 ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return (1);
	}
	clear_env();
	test_defaults();
	test_file_syntax();
	test_precedence();
	test_required();
	test_secret_file();
	test_file_permissions();
	test_secret_never_in_errors();
	test_urls();
	test_values();
	test_allow_from();
	test_listen();
	cleanup();
	test_size_overflow();
	return (done_testing());
}
