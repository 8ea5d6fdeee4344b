/*
 * sim_mde.c: the Defender for Endpoint (MDE) views of the simulation's
 * data: /api/alerts (the MDE-sourced alerts of the incident store, in the
 * MDE alert shape) and /api/machines (the simulated devices).
 *
 * Threads: pure functions of their arguments; any thread.
 * Ownership: the input snapshot stays the caller's; every char * returned
 * is malloc'd and owned by the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sim_int.h"
#include "util.h"

#define MDE_BASE	"https://api.security.microsoft.com/api"
#define CTX_ALERTS	MDE_BASE "/$metadata#Alerts"
#define CTX_MACHINES	MDE_BASE "/$metadata#Machines"

static const cJSON *
get(const cJSON *o, const char *name)
{
	return (cJSON_GetObjectItemCaseSensitive(o, name));
}

#define copy	sim_json_copy

static cJSON *
mde_alert(const cJSON *a, const char *tenant)
{
	cJSON		*o = cJSON_CreateObject(), *ru;
	const cJSON	*dev = cJSON_GetArrayItem(get(a, "devices"), 0);
	const cJSON	*u = cJSON_GetArrayItem(get(dev, "loggedOnUsers"), 0);

	copy(o, "id", a, "alertId");
	copy(o, "incidentId", a, "incidentId");
	copy(o, "investigationId", a, "investigationId");
	copy(o, "assignedTo", a, "assignedTo");
	copy(o, "severity", a, "severity");
	copy(o, "status", a, "status");
	copy(o, "classification", a, "classification");
	copy(o, "determination", a, "determination");
	copy(o, "investigationState", a, "investigationState");
	copy(o, "detectionSource", a, "detectionSource");
	copy(o, "detectorId", a, "detectorId");
	copy(o, "category", a, "category");
	copy(o, "threatFamilyName", a, "threatFamilyName");
	copy(o, "title", a, "title");
	copy(o, "description", a, "description");
	copy(o, "alertCreationTime", a, "creationTime");
	copy(o, "firstEventTime", a, "firstActivity");
	copy(o, "lastEventTime", a, "lastActivity");
	copy(o, "lastUpdateTime", a, "lastUpdatedTime");
	copy(o, "resolvedTime", a, "resolvedTime");
	copy(o, "machineId", dev, "mdatpDeviceId");
	copy(o, "computerDnsName", dev, "deviceDnsName");
	copy(o, "rbacGroupName", dev, "rbacGroupName");
	cJSON_AddStringToObject(o, "aadTenantId", tenant);
	cJSON_AddNullToObject(o, "threatName");
	copy(o, "mitreTechniques", a, "mitreTechniques");
	if (u != NULL) {
		ru = cJSON_AddObjectToObject(o, "relatedUser");
		copy(ru, "userName", u, "accountName");
		copy(ru, "domainName", u, "domainName");
	} else
		cJSON_AddNullToObject(o, "relatedUser");
	cJSON_AddItemToObject(o, "loggedOnUsers", dev && get(dev,
	    "loggedOnUsers") ? cJSON_Duplicate(get(dev, "loggedOnUsers"), 1) :
	    cJSON_CreateArray());
	cJSON_AddItemToObject(o, "comments", cJSON_CreateArray());
	cJSON_AddItemToObject(o, "evidence", cJSON_CreateArray());
	return (o);
}

/* The MDE-sourced alerts, newest incident first. */
static cJSON *
mde_alert_list(const cJSON *incs, const char *tenant)
{
	cJSON		*items = cJSON_CreateArray();
	const cJSON	*inc, *a, *src;

	cJSON_ArrayForEach(inc, incs)
		cJSON_ArrayForEach(a, get(inc, "alerts")) {
			src = get(a, "serviceSource");
			if (cJSON_IsString(src) && strcmp(src->valuestring,
			    "MicrosoftDefenderForEndpoint") == 0)
				cJSON_AddItemToArray(items, mde_alert(a,
				    tenant));
		}
	return (items);
}

char *
sim_mde_alerts(const cJSON *incs, const char *tenant, long top, long skip)
{
	return (sim_odata_page(CTX_ALERTS, mde_alert_list(incs, tenant), top,
	    skip, NULL));
}

char *
sim_mde_alert(const cJSON *incs, const char *tenant, const char *id)
{
	return (sim_odata_entity(mde_alert_list(incs, tenant), id, CTX_ALERTS
	    "/$entity"));
}

static cJSON *
machine(size_t i, long long t0)
{
	cJSON	*d = sim_device(i, t0), *o = cJSON_CreateObject();
	char	 ip[32], ts[40];

	copy(o, "id", d, "mdatpDeviceId");
	copy(o, "computerDnsName", d, "deviceDnsName");
	copy(o, "firstSeen", d, "firstSeen");
	sim_time7(t0 - 300 - (long long)i * 420, (long)(i * 1234567 % 10000000),
	    ts, sizeof(ts));
	cJSON_AddStringToObject(o, "lastSeen", ts);
	copy(o, "osPlatform", d, "osPlatform");
	cJSON_AddNullToObject(o, "osVersion");
	copy(o, "osProcessor", d, "osProcessor");
	copy(o, "version", d, "version");
	snprintf(ip, sizeof(ip), "10.20.4.%zu", 17 + i * 11);
	cJSON_AddStringToObject(o, "lastIpAddress", ip);
	snprintf(ip, sizeof(ip), "203.0.113.%zu", 40 + i);
	cJSON_AddStringToObject(o, "lastExternalIpAddress", ip);
	copy(o, "osBuild", d, "osBuild");
	copy(o, "healthStatus", d, "healthStatus");
	cJSON_AddNumberToObject(o, "rbacGroupId", (double)(140 + i));
	copy(o, "rbacGroupName", d, "rbacGroupName");
	copy(o, "riskScore", d, "riskScore");
	cJSON_AddStringToObject(o, "exposureLevel", i % 2 ? "High" : "Medium");
	cJSON_AddBoolToObject(o, "isAadJoined", 1);
	copy(o, "aadDeviceId", d, "aadDeviceId");
	copy(o, "machineTags", d, "tags");
	copy(o, "defenderAvStatus", d, "defenderAvStatus");
	copy(o, "onboardingStatus", d, "onboardingStatus");
	cJSON_AddStringToObject(o, "deviceValue", "Normal");
	cJSON_Delete(d);
	return (o);
}

static cJSON *
machine_list(long long t0)
{
	cJSON	*items = cJSON_CreateArray();

	for (size_t i = 0; i < sim_ndevices(); i++)
		cJSON_AddItemToArray(items, machine(i, t0));
	return (items);
}

char *
sim_mde_machines(long long t0, long top, long skip)
{
	return (sim_odata_page(CTX_MACHINES, machine_list(t0), top, skip,
	    NULL));
}

char *
sim_mde_machine(long long t0, const char *id)
{
	return (sim_odata_entity(machine_list(t0), id, CTX_MACHINES
	    "/$entity"));
}

/* GET /api/alerts[/{id}] and /api/machines[/{id}] */
void
sim_mde_answer(struct sim *s, struct sim_req *r, const cJSON *claims,
    struct answer *a)
{
	cJSON		*incs;
	long		 top = -1, skip = 0;
	char		 text[256];
	int		 machines = sim_machines(s);

	if (r->id == NULL && sim_paging(r, a, &top, &skip) == -1)
		return;
	switch (r->route->h) {
	case H_MDE_ALERTS:
	case H_MDE_ALERT:
		incs = sim_store_snapshot(s->store);
		a->body = r->id ? sim_mde_alert(incs, s->tenant, r->id) :
		    sim_mde_alerts(incs, s->tenant, top, skip);
		cJSON_Delete(incs);
		break;
	default:
		/* MDE answers 404 when there are no (recent) machines */
		if (machines)
			a->body = r->id ? sim_mde_machine(s->t0, r->id) :
			    sim_mde_machines(s->t0, top, skip);
		break;
	}
	if (a->body != NULL) {
		a->status = 200;
		return;
	}
	if (r->id != NULL)
		snprintf(text, sizeof(text), "%s %.100s was not found",
		    r->route->h == H_MDE_ALERT ? "Alert" : "Machine", r->id);
	else
		snprintf(text, sizeof(text), "No recent machines were found");
	sim_answer_error(r, a, 404, "ResourceNotFound", text);
}
