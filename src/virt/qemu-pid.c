/* qemu-pid.c - see qemu-pid.h. */
#include "qemu-pid.h"

#include <string.h>

gint64
vdQemuPidRead(const char *name)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    gint64 pid;

    if (!name || strchr(name, '/'))
        return 0;
    path = g_strdup_printf("%s/%s.pid", VD_QEMU_PID_DIR, name);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    pid = g_ascii_strtoll(g_strstrip(text), NULL, 10);
    return pid > 0 ? pid : 0;
}
