/*
 * cloud.c: national-cloud presets (see cloud.h). Main thread.
 *
 * The XDR and MDE scopes of the government clouds are not documented by
 * Microsoft: they follow msticpy's "<API host>/.default" and stay
 * overridable (scope, mde_scope).
 */
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cloud.h"
#include "config.h"

static const char *const preset_keys[] = { "authority_host", "api_url",
	"scope", "graph_url", "graph_scope", "mde_url", "mde_scope" };
#define NPRESET	(sizeof(preset_keys) / sizeof(preset_keys[0]))

static const struct {
	const char	*name;
	const char	*v[NPRESET];
} clouds[] = {
	{ "public", { "https://login.microsoftonline.com",
	    "https://api.security.microsoft.com",
	    "https://api.security.microsoft.com/.default",
	    "https://graph.microsoft.com",
	    "https://graph.microsoft.com/.default",
	    "https://api.security.microsoft.com",
	    "https://api.securitycenter.microsoft.com/.default" } },
	{ "gcc", { "https://login.microsoftonline.com",
	    "https://api-gcc.security.microsoft.us",
	    "https://api-gcc.security.microsoft.us/.default",
	    "https://graph.microsoft.com",
	    "https://graph.microsoft.com/.default",
	    "https://api-gcc.securitycenter.microsoft.us",
	    "https://api-gcc.securitycenter.microsoft.us/.default" } },
	{ "gcchigh", { "https://login.microsoftonline.us",
	    "https://api-gov.security.microsoft.us",
	    "https://api-gov.security.microsoft.us/.default",
	    "https://graph.microsoft.us",
	    "https://graph.microsoft.us/.default",
	    "https://api-gov.securitycenter.microsoft.us",
	    "https://api-gov.securitycenter.microsoft.us/.default" } },
	{ "dod", { "https://login.microsoftonline.us",
	    "https://api-gov.security.microsoft.us",
	    "https://api-gov.security.microsoft.us/.default",
	    "https://dod-graph.microsoft.us",
	    "https://dod-graph.microsoft.us/.default",
	    "https://api-gov.securitycenter.microsoft.us",
	    "https://api-gov.securitycenter.microsoft.us/.default" } },
};
#define NCLOUDS	(sizeof(clouds) / sizeof(clouds[0]))

static int
preset_index(const char *key)
{
	for (size_t i = 0; i < NPRESET; i++)
		if (strcmp(preset_keys[i], key) == 0)
			return ((int)i);
	return (-1);
}

void
cloud_note_set(unsigned *mask, const char *key)
{
	int i = preset_index(key);

	if (i >= 0)
		*mask |= 1u << i;
}

const char *
cloud_value(const char *cloud, const char *key)
{
	int k = preset_index(key);

	for (size_t c = 0; k >= 0 && c < NCLOUDS; c++)
		if (strcasecmp(clouds[c].name, cloud) == 0)
			return (clouds[c].v[k]);
	return (NULL);
}

int
cloud_apply(struct gw_config *cf, struct buf *errs)
{
	unsigned explicit_mask = cf->cloud_explicit;

	if (cloud_value(cf->cloud, "api_url") == NULL) {
		if (errs)
			buf_printf(errs, "cloud (DEFGATE_CLOUD) \"%s\" is "
			    "unknown: use public, gcc, gcchigh or dod\n",
			    cf->cloud);
		return (-1);
	}
	for (size_t i = 0; i < NPRESET; i++) {
		if ((explicit_mask & (1u << i)) ||
		    config_env_name(preset_keys[i]) == NULL)
			continue;
		config_set(cf, preset_keys[i], cloud_value(cf->cloud,
		    preset_keys[i]), errs);
	}
	/* what was filled here is not the user's */
	cf->cloud_explicit = explicit_mask;
	return (0);
}
