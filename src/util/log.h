/* log.h - leveled logging to stderr (and the journal when its socket exists).
 *
 * Thin layer over GLib structured logging so every module logs with
 * g_debug/g_info/g_message/g_warning.  The level can be changed at run
 * time (Host.setLogLevel) from any thread: it is one atomic int.
 */
#pragma once

#include <glib.h>

/* Install the writer.  Call once, first thing in main(). */
void vdLogInit(void);

/* Set the threshold from a VDSM/Python level name: DEBUG, INFO, WARNING,
 * ERROR, CRITICAL (case-insensitive).  Returns -1 for an unknown name. */
int vdLogSetLevelName(const char *name);

/* TRUE when debug messages are written; lets hot paths skip formatting. */
gboolean vdLogDebugEnabled(void);

/* g_debug that costs one atomic read when debug logging is off. */
#define VD_DEBUG(...)                                                                             \
    do {                                                                                          \
        if (vdLogDebugEnabled())                                                                  \
            g_debug(__VA_ARGS__);                                                                 \
    } while (0)

/* The current threshold as a level name. */
const char *vdLogGetLevelName(void);
