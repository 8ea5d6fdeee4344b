/*
 * hunting.c: the hunting backend selection (see hunting.h). Pure.
 */
#include "config.h"
#include "hunting.h"
#include "routes.h"

static const char *const graph_roles[] = { HUNTING_GRAPH_ROLE, NULL };

const char hunting_fix[] = "grant the application permission "
    "ThreatHunting.Read.All on Microsoft Graph to defgate's app "
    "registration, then grant admin consent";

const char *
hunting_mode_name(int mode)
{
	switch (mode) {
	case CONFIG_HUNT_GRAPH:
		return ("graph");
	case CONFIG_HUNT_DEFENDER:
		return ("defender");
	default:
		return ("auto");
	}
}

void
hunting_select(int mode, enum hunting_graph graph, int graph_failed,
    long long now, struct hunting_decision *d)
{
	int retired = now >= HUNTING_RETIREMENT;

	d->days_left = retired ? 0 :
	    (long)((HUNTING_RETIREMENT - now + 86399) / 86400);
	d->warn = 0;
	switch (mode) {
	case CONFIG_HUNT_GRAPH:
		d->choice = HUNTING_USE_GRAPH;
		d->why = "hunting_backend = graph";
		return;
	case CONFIG_HUNT_DEFENDER:
		if (retired) {
			d->choice = HUNTING_GONE;
			d->why = "hunting_backend = defender, but the Defender "
			    "hunting API was retired on 2027-02-01";
			return;
		}
		d->choice = HUNTING_USE_LEGACY;
		d->why = "hunting_backend = defender";
		d->warn = 1;
		return;
	}
	if (graph == HUNTING_GRAPH_HAS_ROLE) {
		d->choice = HUNTING_USE_GRAPH;
		d->why = "auto: the Graph token carries ThreatHunting.Read.All";
	} else if (retired) {
		d->choice = HUNTING_USE_GRAPH;
		d->why = "auto: the Defender hunting API was retired on "
		    "2027-02-01, so Graph is the only choice";
	} else if (graph == HUNTING_GRAPH_UNKNOWN && !graph_failed) {
		d->choice = HUNTING_WAIT_GRAPH;
		d->why = "auto: waiting for a Graph token to decide";
	} else {
		d->choice = HUNTING_USE_LEGACY;
		d->why = graph == HUNTING_GRAPH_NO_ROLE ? "auto: the Graph "
		    "token lacks ThreatHunting.Read.All" : "auto: no Graph "
		    "token could be obtained";
		d->warn = 1;
	}
}

void
hunting_route(const struct route *rt, const struct hunting_decision *d,
    enum backend_id *b, const char **path, const char *const **roles)
{
	if (rt->kind == RK_HUNT && d->choice == HUNTING_USE_GRAPH) {
		*b = BACKEND_GRAPH;
		*path = HUNTING_GRAPH_PATH;
		*roles = graph_roles;
		return;
	}
	*b = rt->backend;
	*path = rt->upstream;
	*roles = rt->roles;
}
