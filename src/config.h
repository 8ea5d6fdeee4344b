/*
 * config.c: settings from the command line, the environment and an INI-style
 * file (precedence in that order), validated completely before use.
 *
 * A struct gw_config is plain data. It is built on the main thread, then never
 * changed: other threads only read it. config_free() wipes the secret.
 */
#ifndef DEFGATE_CONFIG_H
#define DEFGATE_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "buf.h"
#include "quota.h"

#define CONFIG_MAX_ALLOW	32
/*
 * Front threads: 1 by default (see config_defaults). Past about 8 the single
 * back thread (one curl multi handle) and the locks the workers share (the
 * response cache, the quota buckets) are the limit, each worker polls the
 * shared listening socket (all wake for every new connection) and
 * max_clients is divided evenly among the workers.
 */
#define CONFIG_MAX_THREADS		64
#define CONFIG_DEFAULT_THREADS_MAX	8
#define CONFIG_MAX_ERRORS	4096	/* bytes of collected error text */

/* hunting_backend: which API serves /hunting (hunting.h) */
#define CONFIG_HUNT_AUTO	0
#define CONFIG_HUNT_GRAPH	1
#define CONFIG_HUNT_DEFENDER	2

struct config_cidr {
	int			 family;	/* AF_INET or AF_INET6 */
	unsigned char		 addr[16];
	int			 prefix;
};

struct gw_config {
	/* credential and upstreams */
	char			*tenant_id;
	char			*client_id;
	char			*client_secret;		/* secret: never log */
	char			*client_secret_file;
	char			*authority_host;	/* https://login... (no slash) */
	char			*api_url;		/* https://api... (no slash) */
	char			*scope;			/* v2 scope ".../.default" */
	/* the other backends (backend.h): base URL and scope of each */
	char			*graph_url;
	char			*graph_scope;
	char			*mde_url;
	char			*mde_scope;
	int			 hunting_backend;	/* CONFIG_HUNT_* */
	int			 token_version;		/* 1 or 2 */
	char			*ca_file;		/* NULL: system trust store */

	/* local server */
	char			*listen;		/* "host:port" as given */
	struct sockaddr_storage	 listen_addr;
	socklen_t		 listen_addrlen;
	char			*server_names;	/* "a,b": accepted Host names */
	char			*cors_origins;	/* "https://x,...": CORS on */
	int			 allow_write;
	size_t			 max_body;		/* request body cap */
	size_t			 max_response;		/* upstream body cap */
	unsigned int		 max_clients;
	unsigned int		 client_timeout;	/* seconds, idle clients */
	int			 half_close;	/* end of input is not leaving */
	unsigned int		 threads;	/* front (MHD) worker threads */
	struct config_cidr	 allow_from[CONFIG_MAX_ALLOW];
	int			 nallow_from;		/* 0: loopback only */
	int			 allow_from_set;

	/* upstream transfers, milliseconds */
	long			 connect_timeout_ms;
	long			 timeout_ms;		/* API request, total */
	long			 token_timeout_ms;	/* token request, total */
	long			 max_upstream_conns;
	int			 http2;		/* multiplex API calls */

	/* response cache and local rate limits (steward.h) */
	int			 cache;		/* on/off */
	size_t			 cache_max_bytes;
	unsigned int		 cache_max_share;	/* % of max bytes */
	unsigned int		 cache_ttl;	/* s, 0: the route table's */
	long			 stale_max_age_ms;
	struct quota_limit	 quota[QUOTA__COUNT];

	int			 verbose;
	int			 log_json;	/* log_format = json */
	int			 log_queries;	/* query text in the access log */
	char			*config_file;		/* path, for reload */

	/* credential, cloud and egress proxy (cred.h, cloud.h, egress.h) */
	char			*credential_name;	/* as set; NULL: inferred */
	int			 credential;		/* enum cred_kind */
	char			*client_certificate_path;
	char			*client_certificate_password;	/* secret */
	char			*client_assertion_alg;	/* PS256 or RS256 */
	int			 send_certificate_chain;
	char			*federated_token_file;	/* re-read per request */
	char			*identity_endpoint;	/* App Service, http ok */
	char			*identity_header;	/* secret */
	char			*imds_url;		/* IMDS base, http ok */
	char			*cloud;			/* public gcc gcchigh dod */
	unsigned		 cloud_explicit;	/* preset keys set by hand */
	char			*proxy;			/* may hold user:pass */
	char			*no_proxy;
	struct cred_cert	*cert;			/* loaded once per load */
};

/*
 * Sources feed config_set(). Each problem is appended as one line to errs
 * ("key (ENV) ...: fix") so the user sees all of them in one run.
 */
void	 config_defaults(struct gw_config *);
unsigned int config_default_threads(void);
int	 config_set(struct gw_config *, const char *key, const char *value,
	    struct buf *errs);
int	 config_load_file(struct gw_config *, const char *path,
	    struct buf *errs);
/* The parser behind config_load_file(): -1 on errors, else 1 when the
 * stream set a secret (client_secret, a password, …), 0 otherwise. */
int	 config_load_stream(struct gw_config *, FILE *, const char *name,
	    struct buf *errs);
void	 config_load_env(struct gw_config *, struct buf *errs);
/* Read the secret file, fill derived fields, check everything. 0 when OK. */
int	 config_finalize(struct gw_config *, struct buf *errs);
/* Full load in precedence order; cmdline holds "key=value" strings. */
int	 config_build(struct gw_config *, const char *file,
	    char *const *cmdline, int ncmdline, struct buf *errs);
void	 config_free(struct gw_config *);
/* 1 when addr is a loopback address (v4, v6 or v4-mapped). */
int	 config_is_loopback(const struct sockaddr *);
/* 1 when addr (sockaddr) may call the gateway. */
int	 config_allowed(const struct gw_config *, const struct sockaddr *);
/* Name of the environment variable for a key, or NULL. */
const char *config_env_name(const char *key);

#endif
