/*
 * sim_graph.c: the Microsoft Graph security views of the simulation's
 * incident store (sim_data.c): /v1.0/security/incidents and
 * /v1.0/security/alerts_v2 in Graph's shape (string ids, lower-camel enum
 * values, *DateTime names, typed evidence), so that the same incidents
 * look the same through the Defender XDR, MDE and Graph APIs.
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

#define GRAPH_BASE	"https://graph.microsoft.com/v1.0"
#define CTX_INCIDENTS	GRAPH_BASE "/$metadata#security/incidents"
#define CTX_ALERTS	GRAPH_BASE "/$metadata#security/alerts_v2"
#define PORTAL		"https://security.microsoft.com"

/* Defender's value -> Graph's value, where lower-camel is not enough. */
static const char *const enum_map[][2] = {
	{ "NotAvailable", "unknown" },
	{ "MicrosoftCloudAppSecurity", "microsoftDefenderForCloudApps" },
	{ "MCAS", "microsoftDefenderForCloudApps" },
	{ "AzureATP", "microsoftDefenderForIdentity" },
	{ "WindowsDefenderAtp", "microsoftDefenderForEndpoint" },
	{ "WindowsDefenderAv", "antivirus" },
};

/* Graph's spelling of a Defender enum value (NULL stays null). */
static cJSON *
genum(const cJSON *v)
{
	char	*s;
	cJSON	*o;

	if (!cJSON_IsString(v))
		return (cJSON_CreateNull());
	for (size_t i = 0; i < sizeof(enum_map) / sizeof(enum_map[0]); i++)
		if (strcmp(v->valuestring, enum_map[i][0]) == 0)
			return (cJSON_CreateString(enum_map[i][1]));
	s = xstrdup(v->valuestring);
	if (s[0] >= 'A' && s[0] <= 'Z')
		s[0] = (char)(s[0] - 'A' + 'a');
	o = cJSON_CreateString(s);
	free(s);
	return (o);
}

static const cJSON *
get(const cJSON *o, const char *name)
{
	return (cJSON_GetObjectItemCaseSensitive(o, name));
}

#define copy	sim_json_copy

static void
copy_enum(cJSON *out, const char *to, const cJSON *o, const char *from)
{
	cJSON_AddItemToObject(out, to, genum(get(o, from)));
}

/* out.a.b = v, making the intermediate objects. */
static void
put_path(cJSON *out, const char *path, cJSON *v)
{
	const char	*dot = strchr(path, '.');
	char		*head;
	cJSON		*sub;

	if (dot == NULL) {
		cJSON_AddItemToObject(out, path, v);
		return;
	}
	head = util_strndup(path, (size_t)(dot - path));
	if ((sub = cJSON_GetObjectItemCaseSensitive(out, head)) == NULL)
		sub = cJSON_AddObjectToObject(out, head);
	put_path(sub, dot + 1, v);
	free(head);
}

/* Evidence types: Defender entityType -> Graph type and field renames. */
static const struct {
	const char	*entity, *type;
	const char	*fields[6][2];	/* Defender name, Graph path */
} evmap[] = {
	{ "User", "userEvidence", {
	    { "accountName", "userAccount.accountName" },
	    { "domainName", "userAccount.domainName" },
	    { "userSid", "userAccount.userSid" },
	    { "aadUserId", "userAccount.azureAdUserId" },
	    { "userPrincipalName", "userAccount.userPrincipalName" } } },
	{ "Ip", "ipEvidence", { { "ipAddress", "ipAddress" } } },
	{ "Url", "urlEvidence", { { "url", "url" } } },
	{ "File", "fileEvidence", {
	    { "sha1", "fileDetails.sha1" },
	    { "sha256", "fileDetails.sha256" },
	    { "fileName", "fileDetails.fileName" },
	    { "filePath", "fileDetails.filePath" } } },
	{ "Process", "processEvidence", {
	    { "processId", "processId" },
	    { "processCommandLine", "processCommandLine" },
	    { "processCreationTime", "processCreationDateTime" },
	    { "parentProcessId", "parentProcessId" },
	    { "parentProcessCreationTime", "parentProcessCreationDateTime" } } },
	{ "MailBox", "mailboxEvidence", {
	    { "mailboxAddress", "primaryAddress" },
	    { "displayName", "displayName" } } },
	{ "MailMessage", "analyzedMessageEvidence", {
	    { "networkMessageId", "networkMessageId" },
	    { "sender", "p1Sender.emailAddress" },
	    { "recipient", "recipientEmailAddress" },
	    { "subject", "subject" },
	    { "receivedDate", "receivedDateTime" } } },
	{ "Registry", "registryKeyEvidence", {
	    { "registryKey", "registryKey" } } },
};

static cJSON *
evidence_common(const char *type, const char *created, const cJSON *src)
{
	cJSON	*e = cJSON_CreateObject();
	char	 t[96];

	snprintf(t, sizeof(t), "#microsoft.graph.security.%s", type);
	cJSON_AddStringToObject(e, "@odata.type", t);
	cJSON_AddStringToObject(e, "createdDateTime", created);
	if (src != NULL && get(src, "verdict") != NULL)
		copy_enum(e, "verdict", src, "verdict");
	else
		cJSON_AddStringToObject(e, "verdict", "suspicious");
	if (src != NULL && get(src, "remediationStatus") != NULL)
		copy_enum(e, "remediationStatus", src, "remediationStatus");
	else
		cJSON_AddStringToObject(e, "remediationStatus", "none");
	cJSON_AddNullToObject(e, "remediationStatusDetails");
	cJSON_AddItemToObject(e, "roles", cJSON_CreateArray());
	cJSON_AddItemToObject(e, "tags", cJSON_CreateArray());
	return (e);
}

static cJSON *
device_evidence(const cJSON *d, const char *created)
{
	cJSON	*e = evidence_common("deviceEvidence", created, NULL);

	copy(e, "mdeDeviceId", d, "mdatpDeviceId");
	copy(e, "azureAdDeviceId", d, "aadDeviceId");
	copy(e, "deviceDnsName", d, "deviceDnsName");
	copy(e, "osPlatform", d, "osPlatform");
	copy(e, "osBuild", d, "osBuild");
	copy(e, "version", d, "version");
	copy_enum(e, "healthStatus", d, "healthStatus");
	copy_enum(e, "riskScore", d, "riskScore");
	copy(e, "rbacGroupName", d, "rbacGroupName");
	copy_enum(e, "onboardingStatus", d, "onboardingStatus");
	copy_enum(e, "defenderAvStatus", d, "defenderAvStatus");
	copy(e, "firstSeenDateTime", d, "firstSeen");
	copy(e, "loggedOnUsers", d, "loggedOnUsers");
	return (e);
}

static cJSON *
entity_evidence(const cJSON *en, const char *created)
{
	const cJSON	*t = get(en, "entityType");
	cJSON		*e;

	for (size_t i = 0; cJSON_IsString(t) &&
	    i < sizeof(evmap) / sizeof(evmap[0]); i++) {
		if (strcmp(t->valuestring, evmap[i].entity) != 0)
			continue;
		e = evidence_common(evmap[i].type, created, en);
		for (size_t f = 0; f < 6 && evmap[i].fields[f][0]; f++) {
			const cJSON *v = get(en, evmap[i].fields[f][0]);

			put_path(e, evmap[i].fields[f][1], v ?
			    cJSON_Duplicate(v, 1) : cJSON_CreateNull());
		}
		return (e);
	}
	return (NULL);
}

static cJSON *
graph_alert(const cJSON *a, const cJSON *inc, const char *tenant)
{
	cJSON		*o = cJSON_CreateObject(), *ev, *e;
	const cJSON	*id = get(a, "alertId"), *incid = get(inc, "incidentId");
	const cJSON	*it, *created = get(a, "creationTime");
	const char	*cr = cJSON_IsString(created) ? created->valuestring :
			    "";
	char		 url[256], num[32];

	snprintf(num, sizeof(num), "%lld", cJSON_IsNumber(incid) ?
	    (long long)incid->valuedouble : 0LL);
	copy(o, "id", a, "alertId");
	cJSON_AddStringToObject(o, "providerAlertId", cJSON_IsString(id) ?
	    id->valuestring : "");
	cJSON_AddStringToObject(o, "incidentId", num);
	copy_enum(o, "status", a, "status");
	copy_enum(o, "severity", a, "severity");
	copy_enum(o, "classification", a, "classification");
	copy_enum(o, "determination", a, "determination");
	copy_enum(o, "serviceSource", a, "serviceSource");
	copy_enum(o, "detectionSource", a, "detectionSource");
	copy(o, "detectorId", a, "detectorId");
	cJSON_AddStringToObject(o, "tenantId", tenant);
	copy(o, "title", a, "title");
	copy(o, "description", a, "description");
	cJSON_AddStringToObject(o, "recommendedActions", "");
	copy(o, "category", a, "category");
	copy(o, "assignedTo", a, "assignedTo");
	snprintf(url, sizeof(url), PORTAL "/alerts/%s?tid=%s",
	    cJSON_IsString(id) ? id->valuestring : "", tenant);
	cJSON_AddStringToObject(o, "alertWebUrl", url);
	snprintf(url, sizeof(url), PORTAL "/incidents/%s?tid=%s", num, tenant);
	cJSON_AddStringToObject(o, "incidentWebUrl", url);
	copy(o, "actorDisplayName", a, "actorName");
	copy(o, "threatDisplayName", a, "threatFamilyName");
	copy(o, "threatFamilyName", a, "threatFamilyName");
	copy(o, "mitreTechniques", a, "mitreTechniques");
	copy(o, "createdDateTime", a, "creationTime");
	copy(o, "lastUpdateDateTime", a, "lastUpdatedTime");
	copy(o, "resolvedDateTime", a, "resolvedTime");
	copy(o, "firstActivityDateTime", a, "firstActivity");
	copy(o, "lastActivityDateTime", a, "lastActivity");
	cJSON_AddItemToObject(o, "comments", cJSON_CreateArray());
	ev = cJSON_AddArrayToObject(o, "evidence");
	cJSON_ArrayForEach(it, get(a, "devices"))
		cJSON_AddItemToArray(ev, device_evidence(it, cr));
	cJSON_ArrayForEach(it, get(a, "entities"))
		if ((e = entity_evidence(it, cr)) != NULL)
			cJSON_AddItemToArray(ev, e);
	cJSON_AddItemToObject(o, "systemTags", cJSON_CreateArray());
	return (o);
}

static cJSON *
graph_incident(const cJSON *inc, const char *tenant, int expand)
{
	cJSON		*o = cJSON_CreateObject(), *cs, *c, *al;
	const cJSON	*id = get(inc, "incidentId"), *it;
	char		 num[32], url[256];

	snprintf(num, sizeof(num), "%lld", cJSON_IsNumber(id) ?
	    (long long)id->valuedouble : 0LL);
	cJSON_AddStringToObject(o, "id", num);
	cJSON_AddStringToObject(o, "tenantId", tenant);
	copy_enum(o, "status", inc, "status");
	snprintf(url, sizeof(url), PORTAL "/incidents/%s?tid=%s", num, tenant);
	cJSON_AddStringToObject(o, "incidentWebUrl", url);
	copy(o, "redirectIncidentId", inc, "redirectIncidentId");
	copy(o, "displayName", inc, "incidentName");
	copy(o, "createdDateTime", inc, "createdTime");
	copy(o, "lastUpdateDateTime", inc, "lastUpdateTime");
	copy(o, "assignedTo", inc, "assignedTo");
	copy_enum(o, "classification", inc, "classification");
	copy_enum(o, "determination", inc, "determination");
	copy_enum(o, "severity", inc, "severity");
	copy(o, "customTags", inc, "tags");
	cJSON_AddItemToObject(o, "systemTags", cJSON_CreateArray());
	cJSON_AddNullToObject(o, "description");
	cJSON_AddNullToObject(o, "summary");
	cJSON_AddNullToObject(o, "resolvingComment");
	cJSON_AddStringToObject(o, "lastModifiedBy", "Microsoft 365 Defender");
	cs = cJSON_AddArrayToObject(o, "comments");
	cJSON_ArrayForEach(it, get(inc, "comments")) {
		c = cJSON_CreateObject();
		copy(c, "comment", it, "comment");
		copy(c, "createdByDisplayName", it, "createdBy");
		copy(c, "createdDateTime", it, "createdTime");
		cJSON_AddItemToArray(cs, c);
	}
	if (expand) {
		al = cJSON_AddArrayToObject(o, "alerts");
		cJSON_ArrayForEach(it, get(inc, "alerts"))
			cJSON_AddItemToArray(al, graph_alert(it, inc, tenant));
	}
	return (o);
}

static cJSON *
all_incidents(const cJSON *incs, const char *tenant, int expand)
{
	cJSON		*items = cJSON_CreateArray();
	const cJSON	*inc;

	cJSON_ArrayForEach(inc, incs)
		cJSON_AddItemToArray(items, graph_incident(inc, tenant,
		    expand));
	return (items);
}

char *
sim_graph_incidents(const cJSON *incs, const char *tenant, long top,
    long skip, int expand)
{
	return (sim_odata_page(CTX_INCIDENTS, all_incidents(incs, tenant,
	    expand), top, skip, GRAPH_BASE "/security/incidents"));
}

char *
sim_graph_incident(const cJSON *incs, const char *tenant, const char *id,
    int expand)
{
	return (sim_odata_entity(all_incidents(incs, tenant, expand), id,
	    CTX_INCIDENTS "/$entity"));
}

/* Every alert of every incident, newest incident first. */
static cJSON *
all_alerts(const cJSON *incs, const char *tenant)
{
	cJSON		*items = cJSON_CreateArray();
	const cJSON	*inc, *a;

	cJSON_ArrayForEach(inc, incs)
		cJSON_ArrayForEach(a, get(inc, "alerts"))
			cJSON_AddItemToArray(items, graph_alert(a, inc,
			    tenant));
	return (items);
}

char *
sim_graph_alerts(const cJSON *incs, const char *tenant, long top, long skip)
{
	return (sim_odata_page(CTX_ALERTS, all_alerts(incs, tenant), top,
	    skip, GRAPH_BASE "/security/alerts_v2"));
}

char *
sim_graph_alert(const cJSON *incs, const char *tenant, const char *id)
{
	return (sim_odata_entity(all_alerts(incs, tenant), id, CTX_ALERTS
	    "/$entity"));
}

/* GET /v1.0/security/incidents[/{id}] and /v1.0/security/alerts_v2[/{id}] */
void
sim_graph_answer(struct sim *s, struct sim_req *r, const cJSON *claims,
    struct answer *a)
{
	cJSON		*incs;
	long		 top = -1, skip = 0;
	char		 text[256], *exp;
	int		 expand;

	if (r->id == NULL && sim_paging(r, a, &top, &skip) == -1)
		return;
	exp = sim_query_value(sim_raw_query(r->uri), "$expand");
	expand = exp != NULL && strcmp(exp, "alerts") == 0;
	free(exp);
	incs = sim_store_snapshot(s->store);
	switch (r->route->h) {
	case H_G_INCIDENTS:
		a->body = sim_graph_incidents(incs, s->tenant, top, skip,
		    expand);
		break;
	case H_G_INCIDENT:
		a->body = sim_graph_incident(incs, s->tenant, r->id, expand);
		break;
	case H_G_ALERTS:
		a->body = sim_graph_alerts(incs, s->tenant, top, skip);
		break;
	default:
		a->body = sim_graph_alert(incs, s->tenant, r->id);
		break;
	}
	cJSON_Delete(incs);
	if (a->body != NULL) {
		a->status = 200;
		return;
	}
	snprintf(text, sizeof(text), "%s %.100s was not found",
	    r->route->h == H_G_INCIDENT ? "Incident" : "Alert",
	    r->id ? r->id : "");
	sim_answer_error(r, a, 404, "NotFound", text);
}
