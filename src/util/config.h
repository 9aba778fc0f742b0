/* config.h - vdsm.conf: INI sections and keys named as VDSM names them.
 *
 * Every key vdsm-c knows is in one table (config.c) with its compiled-in
 * default and a one-line description; `vdsmd --dump-config` prints that
 * table and docs/config.md documents it (a unit test keeps them in step).
 * The configuration is loaded once in main() before any thread starts and
 * is read-only afterwards, so readers on any thread need no lock.
 */
#pragma once

#include <glib.h>

typedef struct {
    const char *section;
    const char *key;
    const char *def;
    const char *description;
} VdConfigKey;

/* The table of known keys, terminated by an entry with section == NULL. */
const VdConfigKey *vdConfigKeys(void);

/* Load @path (NULL: defaults only).  Unknown sections or keys are logged
 * as warnings, a malformed file is an error.  Returns 0 or -1. */
int vdConfigLoad(const char *path, GError **error);

/* Override one key (used by tests and --set); the key must be known. */
int vdConfigSet(const char *section, const char *key, const char *value, GError **error);

const char *vdConfigGetString(const char *section, const char *key);
gint64 vdConfigGetInt(const char *section, const char *key);
double vdConfigGetDouble(const char *section, const char *key);
gboolean vdConfigGetBool(const char *section, const char *key);

/* Print every key with its current value as an INI file with comments. */
char *vdConfigDump(void);
