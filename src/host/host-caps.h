/* host-caps.h - the payload of Host.getCapabilities (VDSM's info dict,
 * with lastClientIface inside).
 *
 * DESIGN: what cannot change while the daemon runs (CPU, topology, OS,
 * kernel, package versions) is computed on the first call and cached; the
 * libvirt-derived part (emulated machines, CPU models, libvirt/QEMU
 * versions) is cached once libvirt answered, and retried on later calls
 * while it does not.  NICs, addresses, routes and memory size are read on
 * every call.  Called on rpc workers (it may block on libvirt); the cache
 * is guarded by a GMutex and copied out per call.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* The VDSM release whose API and capabilities vdsm-c reports. */
#define VD_HOST_VDSM_COMPAT_VERSION "4.50.5"
#define VD_HOST_VDSM_VERSION_NAME "Snow Man"

/* The networks the network layer manages, as getCapabilities' "networks"
 * ({name: {bridged, iface, ...}}), a new reference.  Any thread. */
typedef json_object *(*VdHostNetworksFunc)(void);
/* Whether the running network config differs from the persisted one
 * (netConfigDirty).  Any thread. */
typedef gboolean (*VdHostNetConfigDirtyFunc)(void);

/* Registered by the network layer; NULL restores the defaults ({} and
 * FALSE). */
void vdHostCapsSetNetworkProviders(VdHostNetworksFunc networks, VdHostNetConfigDirtyFunc dirty);
gboolean vdHostNetConfigDirty(void);

/* The capabilities; @local_address is the address the request arrived
 * on (for lastClientIface), NULL when unknown.  Never NULL: parts that
 * cannot be read (libvirt down, missing files) keep VDSM's empty values
 * and are logged. */
json_object *vdHostCapsGet(const char *local_address);
