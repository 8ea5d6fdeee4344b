/*
 * routes.c: the route table (see routes.h).
 *
 * Row order matters in one way only: rows sharing a path list their
 * methods in the order of the Allow header.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "routes.h"

#define INC_R	{ "Incident.Read.All", "Incident.ReadWrite.All", NULL }
#define INC_W	{ "Incident.ReadWrite.All", NULL }
#define AH	{ "AdvancedHunting.Read.All", NULL }
#define ALERT_R	{ "Alert.Read.All", "Alert.ReadWrite.All", NULL }
#define MACH_R	{ "Machine.Read.All", "Machine.ReadWrite.All", NULL }
#define AQ	{ "AdvancedQuery.Read.All", NULL }
#define G_INC_R	{ "SecurityIncident.Read.All", \
		  "SecurityIncident.ReadWrite.All", NULL }
#define G_ALR_R	{ "SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All", \
		  NULL }
#define G_TH	{ "ThreatHunting.Read.All", NULL }
#define NONE	{ NULL }

const struct route routes[] = {
	/* defgate's own API */
	{ "incidents", "GET", "/incidents", RK_PROXY, BACKEND_DEFENDER,
	  "/api/incidents", INC_R, ROUTE_QUERY, RB_NONE, 5, NULL },
	{ "incident", "GET", "/incidents/{id}", RK_PROXY, BACKEND_DEFENDER,
	  "/api/incidents/{id}", INC_R, ROUTE_QUERY, RB_NONE, 5, NULL },
	{ "incident_update", "PATCH", "/incidents/{id}", RK_PROXY,
	  BACKEND_DEFENDER, "/api/incidents/{id}", INC_W,
	  ROUTE_WRITE | ROUTE_QUERY, RB_JSON, 0, NULL },
	{ "hunting", "GET", "/hunting", RK_HUNT, BACKEND_DEFENDER,
	  "/api/advancedhunting/run", AH, 0, RB_HUNT_QUERY, 0, NULL },
	{ "hunting", "POST", "/hunting", RK_HUNT, BACKEND_DEFENDER,
	  "/api/advancedhunting/run", AH, 0, RB_HUNT, 0, NULL },

	/* Defender XDR compatible */
	{ "xdr_incidents", "GET", "/api/incidents", RK_PROXY,
	  BACKEND_DEFENDER, "/api/incidents", INC_R, ROUTE_QUERY, RB_NONE, 5,
	  NULL },
	{ "xdr_incident", "GET", "/api/incidents/{id}", RK_PROXY,
	  BACKEND_DEFENDER, "/api/incidents/{id}", INC_R, ROUTE_QUERY,
	  RB_NONE, 5, NULL },
	{ "xdr_incident_update", "PATCH", "/api/incidents/{id}", RK_PROXY,
	  BACKEND_DEFENDER, "/api/incidents/{id}", INC_W,
	  ROUTE_WRITE | ROUTE_QUERY, RB_JSON, 0, NULL },
	{ "xdr_hunting", "POST", "/api/advancedhunting/run", RK_HUNT,
	  BACKEND_DEFENDER, "/api/advancedhunting/run", AH, 0, RB_HUNT, 0,
	  NULL },

	/* Defender for Endpoint compatible */
	{ "mde_alerts", "GET", "/api/alerts", RK_PROXY, BACKEND_MDE,
	  "/api/alerts", ALERT_R, ROUTE_QUERY, RB_NONE, 5, NULL },
	{ "mde_alert", "GET", "/api/alerts/{id}", RK_PROXY, BACKEND_MDE,
	  "/api/alerts/{id}", ALERT_R, ROUTE_QUERY, RB_NONE, 5, NULL },
	{ "mde_machines", "GET", "/api/machines", RK_PROXY, BACKEND_MDE,
	  "/api/machines", MACH_R, ROUTE_QUERY, RB_NONE, 30, NULL },
	{ "mde_machine", "GET", "/api/machines/{id}", RK_PROXY, BACKEND_MDE,
	  "/api/machines/{id}", MACH_R, ROUTE_QUERY, RB_NONE, 30, NULL },
	{ "mde_hunting", "POST", "/api/advancedqueries/run", RK_HUNT,
	  BACKEND_MDE, "/api/advancedqueries/run", AQ, 0, RB_HUNT, 0, NULL },

	/* Microsoft Graph compatible (Graph's own shape, untouched) */
	{ "graph_hunting", "POST", "/v1.0/security/runHuntingQuery",
	  RK_PROXY, BACKEND_GRAPH, "/v1.0/security/runHuntingQuery", G_TH, 0,
	  RB_HUNT, 0, NULL },
	{ "graph_incidents", "GET", "/v1.0/security/incidents", RK_PROXY,
	  BACKEND_GRAPH, "/v1.0/security/incidents", G_INC_R, ROUTE_QUERY,
	  RB_NONE, 5, NULL },
	{ "graph_incident", "GET", "/v1.0/security/incidents/{id}", RK_PROXY,
	  BACKEND_GRAPH, "/v1.0/security/incidents/{id}", G_INC_R,
	  ROUTE_QUERY, RB_NONE, 5, NULL },
	{ "graph_alerts", "GET", "/v1.0/security/alerts_v2", RK_PROXY,
	  BACKEND_GRAPH, "/v1.0/security/alerts_v2", G_ALR_R, ROUTE_QUERY,
	  RB_NONE, 5, NULL },
	{ "graph_alert", "GET", "/v1.0/security/alerts_v2/{id}", RK_PROXY,
	  BACKEND_GRAPH, "/v1.0/security/alerts_v2/{id}", G_ALR_R,
	  ROUTE_QUERY, RB_NONE, 5, NULL },

	/* local */
	{ "status", "GET", "/", RK_STATUS_PAGE, 0, NULL, NONE, 0, RB_NONE, 0,
	  NULL },
	{ "status", "GET", "/status", RK_STATUS_PAGE, 0, NULL, NONE, 0,
	  RB_NONE, 0, NULL },
	{ "status.json", "GET", "/status.json", RK_STATUS_JSON, 0, NULL, NONE,
	  0, RB_NONE, 0, NULL },
	{ "assets", "GET", "/status.css", RK_ASSET, 0, NULL, NONE, 0, RB_NONE,
	  0, "status.css" },
	{ "assets", "GET", "/status.js", RK_ASSET, 0, NULL, NONE, 0, RB_NONE,
	  0, "status.js" },
	{ "healthz", "GET", "/healthz", RK_HEALTHZ, 0, NULL, NONE, 0, RB_NONE,
	  0, NULL },
	{ "readyz", "GET", "/readyz", RK_READYZ, 0, NULL, NONE, 0, RB_NONE, 0,
	  NULL },
	{ "metrics", "GET", "/metrics", RK_METRICS, 0, NULL, NONE, 0, RB_NONE,
	  0, NULL },
};
const int nroutes = sizeof(routes) / sizeof(routes[0]);

_Static_assert(sizeof(routes) / sizeof(routes[0]) <= ROUTES_MAX,
    "ROUTES_MAX is too small for the route table");

static pthread_once_t	 allow_once = PTHREAD_ONCE_INIT;
static char		 allow[ROUTES_MAX][32];

static void
allow_init(void)
{
	for (int i = 0; i < nroutes; i++) {
		size_t n = 0;

		for (int k = 0; k < nroutes; k++) {
			if (strcmp(routes[k].path, routes[i].path) != 0)
				continue;
			n += (size_t)snprintf(allow[i] + n, sizeof(allow[i]) -
			    n, "%s%s", n ? ", " : "", routes[k].method);
		}
	}
}

const char *
routes_allow(int idx)
{
	if (idx < 0 || idx >= nroutes)
		return (NULL);
	pthread_once(&allow_once, allow_init);
	return (allow[idx]);
}

int
routes_forwarded(const struct route *r)
{
	return (r->kind == RK_PROXY || r->kind == RK_HUNT);
}

int
routes_enabled(const struct route *r, const struct gw_config *cf)
{
	return (!(r->flags & ROUTE_WRITE) || cf->allow_write);
}

const char *
routes_upstream_method(const struct route *r)
{
	return (r->kind == RK_HUNT ? "POST" : r->method);
}
