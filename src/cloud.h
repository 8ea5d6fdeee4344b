/*
 * cloud.c: the national-cloud presets (cloud = public | gcc | gcchigh |
 * dod): authority host, Defender XDR, MDE and Graph URLs and scopes from
 * Microsoft's US Government cloud pages. A preset fills only the keys the
 * user did not set, so any single value can still be overridden. Main thread (config load);
 * the table itself is constant data.
 */
#ifndef DEFGATE_CLOUD_H
#define DEFGATE_CLOUD_H

struct buf;
struct gw_config;

/* config_set() calls this for every key it sets: remember preset keys. */
void		 cloud_note_set(unsigned *explicit_mask, const char *key);
/*
 * Fill the unset preset keys from cf->cloud through config_set(). Keys this
 * build does not know (graph_url before the backends land) are skipped.
 * -1 and a line in errs for an unknown cloud name.
 */
int		 cloud_apply(struct gw_config *, struct buf *errs);
/* The preset value of key for cloud name, or NULL. */
const char	*cloud_value(const char *cloud, const char *key);

#endif
