/*
 * hunting.c: which API serves the hunting routes (/hunting,
 * /api/advancedhunting/run, /api/advancedqueries/run).
 *
 * Microsoft retires the Defender XDR and MDE hunting endpoints: from
 * 2027-02-01T00:00:00Z they return no data. Microsoft Graph's
 * runHuntingQuery replaces them, with another audience and another
 * permission (ThreatHunting.Read.All on Microsoft Graph).
 *
 * hunting_backend = auto | graph | defender (CONFIG_HUNT_*):
 *   graph     always Graph;
 *   defender  the legacy endpoint until the retirement, then 410;
 *   auto      Graph when the Graph token carries ThreatHunting.Read.All,
 *             otherwise the legacy endpoint with a warning and the days
 *             left; from the retirement on, always Graph.
 *
 * hunting_select() is pure (the clock is an argument) so the date logic
 * is unit-tested; any thread.
 */
#ifndef DEFGATE_HUNTING_H
#define DEFGATE_HUNTING_H

#include "backend.h"

#define HUNTING_RETIREMENT	1801440000LL	/* 2027-02-01T00:00:00Z */
#define HUNTING_GRAPH_ROLE	"ThreatHunting.Read.All"
#define HUNTING_GRAPH_PATH	"/v1.0/security/runHuntingQuery"

/* What is known about the Graph token when deciding. */
enum hunting_graph {
	HUNTING_GRAPH_UNKNOWN = 0,	/* no Graph token (yet) */
	HUNTING_GRAPH_NO_ROLE,		/* a token without the role */
	HUNTING_GRAPH_HAS_ROLE	/* a token with ThreatHunting.Read.All */
};

enum hunting_choice {
	HUNTING_USE_GRAPH = 0,
	HUNTING_USE_LEGACY,	/* the row's own Defender/MDE endpoint */
	HUNTING_WAIT_GRAPH,	/* auto: fetch the Graph token first */
	HUNTING_GONE		/* defender after the retirement: 410 */
};

struct hunting_decision {
	enum hunting_choice	 choice;
	const char		*why;		/* static, one sentence */
	long			 days_left;	/* to the retirement, >= 0 */
	int			 warn;		/* legacy in use: warn users */
};

/*
 * mode is CONFIG_HUNT_*; graph what the Graph token says; graph_failed is
 * 1 when the last Graph token request failed (auto stops waiting for it);
 * now is unix seconds.
 */
void	 hunting_select(int mode, enum hunting_graph graph, int graph_failed,
	    long long now, struct hunting_decision *);
struct route;

/*
 * Where a row is served given a decision: backend, upstream path and the
 * roles it needs (any of, NULL-ended). Rows that are not RK_HUNT are served
 * as the table says.
 */
void	 hunting_route(const struct route *, const struct hunting_decision *,
	    enum backend_id *, const char **path, const char *const **roles);

/* "auto", "graph" or "defender". */
const char *hunting_mode_name(int mode);
/* The fix named by the 410 and the warnings. */
extern const char hunting_fix[];

#endif
