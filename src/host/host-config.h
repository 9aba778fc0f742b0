/* host-config.h - config lookups of the host layer that tolerate keys the
 * config table (config.c) does not define yet.
 *
 * DESIGN: vdConfigGetString() asserts on unknown keys; the host layer
 * reads a few VDSM keys (host_mem_reserve, fake_nics, ...) that may be
 * added to the table later, so it looks them up through vdConfigKeys()
 * first and falls back to VDSM's default.  Read-only config: any thread.
 */
#pragma once

#include <glib.h>

/* The value of [section] key, or @fallback when the key is not in the
 * config table. */
const char *vdHostConfigString(const char *section, const char *key, const char *fallback);
gint64 vdHostConfigInt(const char *section, const char *key, gint64 fallback);
/* A comma-separated list as a NULL-terminated vector of trimmed,
 * non-empty items. */
GStrv vdHostConfigList(const char *section, const char *key, const char *fallback);
