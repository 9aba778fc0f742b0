/* domain-desc.h - what vdsm-c reads from a libvirt domain XML (VDSM's
 * DomainDescriptor): identity, emulator, disks, graphics, channels.
 *
 * DESIGN: parsed once from the XML text into plain fields; the XML tree is
 * kept for flows that edit a device (changeCD, setTicket).  Pure data, no
 * I/O: build it on the thread that uses it.
 */
#pragma once

#include <glib.h>

#include "xml-node.h"

typedef struct {
    char *device; /* disk, cdrom, floppy, lun */
    char *type;   /* file, block, network, ... */
    char *source; /* file or dev path, or NULL */
    char *target; /* vda, hdc, ... */
    char *bus;    /* virtio, ide, sata, ... */
} VdDomainDisk;

typedef struct {
    char *type;   /* vnc, spice */
    int port;     /* -1 when unset/auto */
    int tls_port; /* -1 when none */
    char *listen; /* listen address, or NULL */
    gboolean has_passwd;
} VdDomainGraphics;

typedef struct {
    VdXmlNode *root; /* <domain> */
    char *uuid;      /* lower-case text as written */
    char *name;
    char *type;     /* kvm, qemu */
    char *emulator; /* NULL when not given */
    gboolean acpi;
    gint64 memory_kib;
    gint64 vcpus;
    GPtrArray *disks;    /* VdDomainDisk* */
    GPtrArray *graphics; /* VdDomainGraphics* */
    gboolean has_ovirt_metadata;
    gboolean legacy_vdsm_channel; /* com.redhat.rhevm.vdsm */
    gboolean libguestfs;          /* org.libguestfs.channel.0 */
} VdDomainDesc;

/* Parse @xml; fails for XML that is not well formed or not a <domain>.
 * A missing <uuid> is not an error here (uuid stays NULL). */
VdDomainDesc *vdDomainDescNew(const char *xml, GError **error);
void vdDomainDescFree(VdDomainDesc *desc);

/* The first disk whose device is @device ("cdrom"), or NULL. */
VdDomainDisk *vdDomainDescFindDisk(VdDomainDesc *desc, const char *device);

/* The XML element of that disk / of the first graphics of @type (NULL:
 * any type), inside desc->root; NULL when missing. */
VdXmlNode *vdDomainDescDiskNode(VdDomainDesc *desc, const char *device);
VdXmlNode *vdDomainDescGraphicsNode(VdDomainDesc *desc, const char *type);

/* TRUE when @uuid is a canonical 8-4-4-4-12 hex UUID. */
gboolean vdUuidIsValid(const char *uuid);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdDomainDesc, vdDomainDescFree)
