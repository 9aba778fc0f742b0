/* host-hwinfo.h - the host's SMBIOS identity (Host.getHardwareInfo) and
 * its UUID (getCapabilities' "uuid").
 *
 * DESIGN: plain reads of /sys/class/dmi/id (no dmidecode child), so a
 * call is cheap; the paths are parameters for tests.  No state;
 * thread-safe.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* {systemManufacturer, systemProductName, systemVersion,
 * systemSerialNumber, systemUUID, systemFamily}: files of @dmi_dir
 * ("/sys/class/dmi/id"); an unreadable file gives "". */
json_object *vdHostHardwareInfo(const char *dmi_dir);

/* The host UUID as VDSM finds it: the first line of @id_path ([vars]
 * host_uuid_path) when that file exists, else the SMBIOS UUID
 * (@dmi_uuid_path, lower-cased) when readable and not all zeros, else
 * @machine_id_path formatted as a UUID.  "" when none works. */
char *vdHostUuidFrom(const char *id_path, const char *dmi_uuid_path, const char *machine_id_path);
