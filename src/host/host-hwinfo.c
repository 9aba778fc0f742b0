/* host-hwinfo.c - see host-hwinfo.h.  Stateless file reads; any thread. */
#include "host-hwinfo.h"

#include "host-proc.h"

#include <string.h>

json_object *
vdHostHardwareInfo(const char *dmi_dir)
{
    static const struct {
        const char *key;
        const char *file;
    } fields[] = {
        {"systemManufacturer", "sys_vendor"}, {"systemProductName", "product_name"},
        {"systemVersion", "product_version"}, {"systemSerialNumber", "product_serial"},
        {"systemUUID", "product_uuid"},       {"systemFamily", "product_family"},
    };
    json_object *info = json_object_new_object();

    for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
        g_autofree char *path = g_build_filename(dmi_dir, fields[i].file, NULL);
        g_autofree char *value = vdHostReadLine(path);

        json_object_object_add(info, fields[i].key, json_object_new_string(value ? value : ""));
    }
    return info;
}

char *
vdHostUuidFrom(const char *id_path, const char *dmi_uuid_path, const char *machine_id_path)
{
    g_autofree char *text = NULL;
    char *uuid;

    if (id_path && g_file_test(id_path, G_FILE_TEST_EXISTS)) {
        text = vdHostReadLine(id_path);
        if (text && *text)
            return g_steal_pointer(&text);
        g_clear_pointer(&text, g_free);
    }
    if (dmi_uuid_path) {
        text = vdHostReadLine(dmi_uuid_path);
        /* firmware without a UUID reports zeros (or all F's) */
        if (text && g_uuid_string_is_valid(text) && strspn(text, "0-") != strlen(text) &&
            strspn(text, "fF-") != strlen(text))
            return g_ascii_strdown(text, -1);
        g_clear_pointer(&text, g_free);
    }
    if (machine_id_path) {
        text = vdHostReadLine(machine_id_path);
        uuid = vdMachineIdToUuid(text);
        if (uuid)
            return uuid;
    }
    return g_strdup("");
}
