/* vm-metadata.h - VDSM's `ovirt-vm` metadata block, the only per-VM
 * state vdsm-c keeps on the host (vdsm-facts §3.3).
 *
 * DESIGN: a pure codec.  The block lives in the libvirt domain XML as
 *   <ovirt-vm:vm xmlns:ovirt-vm="http://ovirt.org/vm/1.0">
 *     <ovirt-vm:startTime type="float">1700000000.25</ovirt-vm:startTime>
 *     <ovirt-vm:exitReason type="int">6</ovirt-vm:exitReason>
 *     <ovirt-vm:custom><ovirt-vm:prop>value</ovirt-vm:prop></ovirt-vm:custom>
 *     <ovirt-vm:device ...>...</ovirt-vm:device>
 *   </ovirt-vm:vm>
 * Scalars are typed with type="int|float|bool" (bools as Python writes
 * them: True/False); untyped values are strings.  Elements the codec does
 * not interpret (devices, jobs, ...) are kept verbatim, so a block written
 * by the engine or by VDSM survives a read-modify-write.  The block is
 * read either from a whole domain XML or from virDomainGetMetadata's
 * answer (a bare <vm>), and written as the element text
 * virDomainSetMetadata takes: unprefixed, without a namespace declaration
 * (libvirt adds prefix "ovirt-vm" and the URI below to every element;
 * declaring the prefix ourselves makes it fail).
 * No I/O and no globals: any thread.
 */
#pragma once

#include <glib.h>

#define VD_VM_METADATA_URI "http://ovirt.org/vm/1.0"
#define VD_VM_METADATA_PREFIX "ovirt-vm"

/* vdsm-c's one key of its own: which agent writes this VM's block (the
 * agent's [vars] run_dir).  Several vdsmd may share one libvirtd (tests
 * do); each writes only the blocks it tagged, so one that merely
 * recovered another's VM cannot overwrite exit information it had to
 * guess.  A block without the tag (written by VDSM) is written by us. */
#define VD_VM_METADATA_AGENT_KEY "vdsmcAgent"

typedef struct _VdVmMetadata VdVmMetadata;

/* An empty block. */
VdVmMetadata *vdVmMetadataNew(void);
void vdVmMetadataFree(VdVmMetadata *md);
VdVmMetadata *vdVmMetadataCopy(const VdVmMetadata *md);

/* Parse the block itself (`<ovirt-vm:vm xmlns:ovirt-vm=URI>`,
 * `<vm xmlns=URI>`, or libvirt's bare `<vm>`). */
VdVmMetadata *vdVmMetadataParse(const char *xml, GError **error);

/* Find and parse the block inside a whole domain XML.  Returns NULL with
 * no error when the domain has no ovirt-vm block, NULL with @error when
 * the XML cannot be parsed. */
VdVmMetadata *vdVmMetadataFromDomainXml(const char *domain_xml, GError **error);

/* The element text for virDomainSetMetadata (VIR_DOMAIN_METADATA_ELEMENT,
 * key VD_VM_METADATA_PREFIX, uri VD_VM_METADATA_URI). */
char *vdVmMetadataFormat(const VdVmMetadata *md);

/* The block as it sits inside a domain XML: every element prefixed
 * "ovirt-vm:", the namespace declared on the root. */
char *vdVmMetadataFormatPrefixed(const VdVmMetadata *md);

/* @domain_xml with its ovirt-vm block replaced by @md (or added, creating
 * <metadata> when needed), so the domain is defined with its metadata in
 * one call.  NULL with @error when @domain_xml does not parse. */
char *vdVmMetadataEmbed(const char *domain_xml, const VdVmMetadata *md, GError **error);

/* Typed access to top-level scalar keys.  Getters return FALSE (and leave
 * @out alone) when the key is missing or does not parse as the type. */
gboolean vdVmMetadataGetInt(const VdVmMetadata *md, const char *key, gint64 *out);
gboolean vdVmMetadataGetDouble(const VdVmMetadata *md, const char *key, double *out);
gboolean vdVmMetadataGetBool(const VdVmMetadata *md, const char *key, gboolean *out);
/* Borrowed; NULL when missing. */
const char *vdVmMetadataGetString(const VdVmMetadata *md, const char *key);
gboolean vdVmMetadataHas(const VdVmMetadata *md, const char *key);

void vdVmMetadataSetInt(VdVmMetadata *md, const char *key, gint64 value);
void vdVmMetadataSetDouble(VdVmMetadata *md, const char *key, double value);
void vdVmMetadataSetBool(VdVmMetadata *md, const char *key, gboolean value);
void vdVmMetadataSetString(VdVmMetadata *md, const char *key, const char *value);
void vdVmMetadataRemove(VdVmMetadata *md, const char *key);

/* Custom properties (<ovirt-vm:custom>): name -> value. */
void vdVmMetadataSetCustom(VdVmMetadata *md, const char *name, const char *value);
const char *vdVmMetadataGetCustom(const VdVmMetadata *md, const char *name);
/* A new table of every custom property (name -> value). */
GHashTable *vdVmMetadataCustom(const VdVmMetadata *md);

/* Exit information (exitCode, exitReason, exitMessage) as one unit. */
void vdVmMetadataSetExitInfo(VdVmMetadata *md, int exit_code, int exit_reason,
                             const char *exit_message);
gboolean vdVmMetadataGetExitInfo(const VdVmMetadata *md, int *exit_code, int *exit_reason,
                                 char **exit_message);
void vdVmMetadataClearExitInfo(VdVmMetadata *md);

/* This agent's tag (VD_VM_METADATA_AGENT_KEY): [vars] run_dir. */
const char *vdVmMetadataAgentTag(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmMetadata, vdVmMetadataFree)
