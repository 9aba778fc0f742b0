/* host-virt-caps.h - parsers for libvirt's capabilities and domain
 * capabilities XML (what Host.getCapabilities takes from libvirt).
 *
 * DESIGN: pure parsers over GMarkup (no libvirt calls, no I/O) so the unit
 * tests can feed recorded XML; the caller (host-caps.c) fetches the XML
 * once and caches the result.  Thread-safe: no global state.
 */
#pragma once

#include <glib.h>

typedef struct {
    char *host_arch;      /* <host><cpu><arch>, "" when absent */
    char *tsc_frequency;  /* <counter name='tsc' frequency=...>, "" when absent */
    gboolean tsc_scaling; /* its scaling='yes' */
    /* Machine types of @arch as VDSM's emulatedMachines: those of the
     * <domain type='kvm'> element when it lists any, else those of the
     * <arch> element; each name followed by its canonical name, without
     * duplicates, in document order. */
    GPtrArray *machines; /* char *, owning */
} VdVirtCaps;

/* Parse `virsh capabilities` XML.  @arch selects the guest architecture
 * (NULL: the host's).  Returns FALSE with @error on malformed XML. */
gboolean vdVirtCapsParse(const char *xml, const char *arch, VdVirtCaps *out, GError **error);
void vdVirtCapsClear(VdVirtCaps *caps);

typedef struct {
    /* <mode name='custom'> models with usable='yes', document order */
    GPtrArray *usable_models; /* char *, owning */
    /* <mode name='host-model'> features with policy='require' */
    GPtrArray *features; /* char *, owning */
    /* <machine> of the domain capabilities (the default machine type) */
    char *machine; /* "" when absent */
} VdDomCaps;

/* Parse `virsh domcapabilities` XML.  FALSE with @error on malformed XML. */
gboolean vdDomCapsParse(const char *xml, VdDomCaps *out, GError **error);
void vdDomCapsClear(VdDomCaps *caps);
