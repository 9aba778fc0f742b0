/* vm-hooks.h - the VM side of VDSM's hook points: what a VM hook script
 * gets in its environment, and the per-device points.
 *
 * DESIGN: VDSM hands every VM hook the VM's custom properties and vmId
 * (vdsm-facts §5); vdsm-c keeps the custom properties in the domain's
 * ovirt-vm metadata, so the environment is read from the domain XML the
 * hook gets anyway.  Device hooks follow VDSM's domain-XML flow
 * (domxml_preprocess.replace_device_xml_with_hooks_xml): a device has
 * custom properties when the metadata holds an <ovirt-vm:device> for it
 * with an <ovirt-vm:custom> child; VDSM identifies NICs (by
 * mac_address) that way, so NICs are the devices these points see.
 * Every function checks vdHooksPointActive() first and does nothing else
 * (no libvirt call, no XML parse) when the point has no script.
 * Threading: they block (libvirt, scripts): workers only.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

/* vmId plus every custom property of the VM in @domain_xml (may be NULL). */
GHashTable *vdVmHooksEnv(const char *id, const char *domain_xml);

/* Run @point on the domain's live XML with vdVmHooksEnv() plus @params
 * (variables of the call, may be NULL).  -1 with 1500 when a script of a
 * fatal point failed; the scripts' XML is not used. */
int vdVmHooksRun(virDomainPtr dom, const char *id, const char *point, GHashTable *params,
                 GError **error);

/* Run device point @point once per NIC of @domain_xml that has custom
 * properties, on the NIC's XML, with vmId, the VM's and the device's
 * custom properties.  With @out (before_device_create), *@out is the
 * domain XML with each such NIC replaced by what its scripts left (a copy
 * of @domain_xml when nothing ran).  -1 with 1500 when a script of a fatal
 * point failed, or when a script left XML that does not parse. */
int vdVmHooksRunDevices(const char *id, const char *domain_xml, const char *point, char **out,
                        GError **error);
