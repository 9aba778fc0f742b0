/* log.c - see log.h.  The writer runs in whatever thread logs; it formats
 * one line and writes it with a single write(2) so lines never interleave. */
#include "log.h"

#include <stdio.h>
#include <unistd.h>

typedef struct {
    const char *name;
    GLogLevelFlags flag;
    int rank; /* higher is more severe */
} VdLogLevel;

static const VdLogLevel vdLogLevels[] = {
    { "DEBUG", G_LOG_LEVEL_DEBUG, 10 },
    { "INFO", G_LOG_LEVEL_INFO, 20 },
    { "INFO", G_LOG_LEVEL_MESSAGE, 20 },
    { "WARNING", G_LOG_LEVEL_WARNING, 30 },
    { "ERROR", G_LOG_LEVEL_CRITICAL, 40 },
    { "CRITICAL", G_LOG_LEVEL_ERROR, 50 },
};

static gint vdLogThreshold = 20;
static gboolean vdLogJournal;

static const VdLogLevel *
vdLogLevelFor(GLogLevelFlags flags)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vdLogLevels); i++) {
        if (flags & vdLogLevels[i].flag)
            return &vdLogLevels[i];
    }
    return &vdLogLevels[1];
}

static GLogWriterOutput
vdLogWriter(GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
            gpointer user_data G_GNUC_UNUSED)
{
    const VdLogLevel *lvl = vdLogLevelFor(log_level);
    const char *message = NULL;
    const char *domain = NULL;
    g_autoptr(GDateTime) now = NULL;
    g_autofree char *stamp = NULL;
    g_autofree char *line = NULL;

    if (lvl->rank < g_atomic_int_get(&vdLogThreshold))
        return G_LOG_WRITER_HANDLED;

    if (vdLogJournal)
        g_log_writer_journald(log_level, fields, n_fields, NULL);

    for (gsize i = 0; i < n_fields; i++) {
        if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
            message = fields[i].value;
        else if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0)
            domain = fields[i].value;
    }
    now = g_date_time_new_now_utc();
    stamp = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");
    line = g_strdup_printf("%s,%03d %-8s (%s) [%s] %s\n", stamp,
                           g_date_time_get_microsecond(now) / 1000, lvl->name,
                           g_get_prgname() ? g_get_prgname() : "vdsm",
                           domain ? domain : "vdsm", message ? message : "");
    if (write(STDERR_FILENO, line, strlen(line)) < 0) {
        /* nowhere left to report it */
    }
    return G_LOG_WRITER_HANDLED;
}

void
vdLogInit(void)
{
    const char *env = g_getenv("VDSM_LOG_LEVEL");

    vdLogJournal = g_file_test("/run/systemd/journal/socket", G_FILE_TEST_EXISTS) &&
                   !g_getenv("VDSM_LOG_NO_JOURNAL");
    if (env)
        vdLogSetLevelName(env);
    g_log_set_writer_func(vdLogWriter, NULL, NULL);
}

int
vdLogSetLevelName(const char *name)
{
    static const struct {
        const char *name;
        int rank;
    } names[] = {
        { "DEBUG", 10 }, { "INFO", 20 }, { "WARNING", 30 }, { "WARN", 30 },
        { "ERROR", 40 }, { "CRITICAL", 50 }, { "FATAL", 50 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        if (name && g_ascii_strcasecmp(name, names[i].name) == 0) {
            g_atomic_int_set(&vdLogThreshold, names[i].rank);
            return 0;
        }
    }
    return -1;
}

gboolean
vdLogDebugEnabled(void)
{
    return g_atomic_int_get(&vdLogThreshold) <= 10;
}

const char *
vdLogGetLevelName(void)
{
    int rank = g_atomic_int_get(&vdLogThreshold);

    for (gsize i = 0; i < G_N_ELEMENTS(vdLogLevels); i++) {
        if (vdLogLevels[i].rank == rank)
            return vdLogLevels[i].name;
    }
    return "INFO";
}
