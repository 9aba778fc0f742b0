/* test-vm-metadata.c - the ovirt-vm metadata codec (vm-metadata.h) and the
 * XML tree under it (xml-node.h): parsing VDSM's block from domain XML and
 * from libvirt's bare answer, typed values, custom properties, exit
 * information, and that unknown elements survive a read-modify-write. */
#include <glib.h>
#include <string.h>

#include "domain-desc.h"
#include "vm-metadata.h"
#include "xml-node.h"

/* A block as VDSM/the engine write it, inside a domain. */
static const char *vdTestDomainXml =
    "<domain type='kvm' xmlns:ovirt-tune='http://ovirt.org/vm/tune/1.0'>\n"
    "  <name>vm1</name>\n"
    "  <uuid>3F10A0C0-0000-4000-8000-000000000001</uuid>\n"
    "  <metadata>\n"
    "    <ovirt-tune:qos/>\n"
    "    <ovirt-vm:vm xmlns:ovirt-vm=\"http://ovirt.org/vm/1.0\">\n"
    "      <ovirt-vm:clusterVersion>4.7</ovirt-vm:clusterVersion>\n"
    "      <ovirt-vm:destroy_on_reboot type=\"bool\">False</ovirt-vm:destroy_on_reboot>\n"
    "      <ovirt-vm:startTime type=\"float\">1700000000.25</ovirt-vm:startTime>\n"
    "      <ovirt-vm:memGuaranteedSize type=\"int\">1024</ovirt-vm:memGuaranteedSize>\n"
    "      <ovirt-vm:custom><ovirt-vm:sap_agent>true</ovirt-vm:sap_agent></ovirt-vm:custom>\n"
    "      <ovirt-vm:device mac_address=\"56:6f:aa:bb:00:01\">\n"
    "        <ovirt-vm:network>ovirtmgmt</ovirt-vm:network>\n"
    "      </ovirt-vm:device>\n"
    "    </ovirt-vm:vm>\n"
    "  </metadata>\n"
    "  <memory unit='MiB'>128</memory>\n"
    "  <features><acpi/></features>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>\n"
    "    <disk type='file' device='disk'><source file='/x/a &amp; b.qcow2'/>"
    "<target dev='vda' bus='virtio'/></disk>\n"
    "    <graphics type='vnc' port='5901' listen='127.0.0.1'/>\n"
    "    <graphics type='spice' port='-1' tlsPort='5902'><listen type='address' "
    "address='10.0.0.1'/></graphics>\n"
    "  </devices>\n"
    "</domain>\n";

static void
test_parse_from_domain(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VdVmMetadata) md = vdVmMetadataFromDomainXml(vdTestDomainXml, &error);
    gint64 i = 0;
    double d = 0;
    gboolean b = TRUE;

    g_assert_no_error(error);
    g_assert_nonnull(md);
    g_assert_true(vdVmMetadataGetDouble(md, "startTime", &d));
    g_assert_cmpfloat(d, ==, 1700000000.25);
    g_assert_true(vdVmMetadataGetInt(md, "memGuaranteedSize", &i));
    g_assert_cmpint(i, ==, 1024);
    g_assert_true(vdVmMetadataGetBool(md, "destroy_on_reboot", &b));
    g_assert_false(b);
    g_assert_cmpstr(vdVmMetadataGetString(md, "clusterVersion"), ==, "4.7");
    g_assert_cmpstr(vdVmMetadataGetCustom(md, "sap_agent"), ==, "true");
    g_assert_false(vdVmMetadataHas(md, "exitCode"));
    /* Not an int: the getter says so and leaves the value alone. */
    i = 7;
    g_assert_false(vdVmMetadataGetInt(md, "clusterVersion", &i));
    g_assert_cmpint(i, ==, 7);
}

static void
test_no_block_and_bad_xml(void)
{
    g_autoptr(GError) error = NULL;
    VdVmMetadata *md;

    md = vdVmMetadataFromDomainXml("<domain><name>x</name></domain>", &error);
    g_assert_null(md);
    g_assert_no_error(error);

    /* A block in another namespace is not ours. */
    md = vdVmMetadataFromDomainXml("<domain><metadata><x:vm xmlns:x='urn:other'/></metadata>"
                                   "</domain>",
                                   &error);
    g_assert_null(md);
    g_assert_no_error(error);

    md = vdVmMetadataFromDomainXml("<domain><name>x</name>", &error);
    g_assert_null(md);
    g_assert_nonnull(error);
    g_clear_error(&error);

    md = vdVmMetadataParse("<foo/>", &error);
    g_assert_null(md);
    g_assert_nonnull(error);
}

static void
test_format_for_libvirt(void)
{
    g_autoptr(VdVmMetadata) md = vdVmMetadataFromDomainXml(vdTestDomainXml, NULL);
    g_autoptr(VdVmMetadata) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    gint64 reason = 0;

    vdVmMetadataSetExitInfo(md, 0, 6, "Admin shut down from the engine");
    text = vdVmMetadataFormat(md);
    /* virDomainSetMetadata takes the block unprefixed and undeclared. */
    g_assert_null(strstr(text, "ovirt-vm:"));
    g_assert_null(strstr(text, "xmlns"));
    g_assert_true(g_str_has_prefix(text, "<vm>"));
    g_assert_nonnull(strstr(text, "<exitReason type=\"int\">6</exitReason>"));
    /* Unknown elements and their attributes survive. */
    g_assert_nonnull(strstr(text, "<device mac_address=\"56:6f:aa:bb:00:01\">"));
    g_assert_nonnull(strstr(text, "<network>ovirtmgmt</network>"));

    /* virDomainGetMetadata gives back exactly that form. */
    back = vdVmMetadataParse(text, &error);
    g_assert_no_error(error);
    g_assert_true(vdVmMetadataGetInt(back, "exitReason", &reason));
    g_assert_cmpint(reason, ==, 6);
    g_assert_cmpstr(vdVmMetadataGetCustom(back, "sap_agent"), ==, "true");
}

static void
test_embed_in_domain(void)
{
    g_autoptr(VdVmMetadata) md = vdVmMetadataNew();
    g_autoptr(VdVmMetadata) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *bare = NULL;
    double d = 0;

    vdVmMetadataSetDouble(md, "startTime", 2.5);
    /* Replaces the engine's block, keeps other metadata and the domain. */
    xml = vdVmMetadataEmbed(vdTestDomainXml, md, &error);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(xml, "<ovirt-vm:vm xmlns:ovirt-vm=\"http://ovirt.org/vm/1.0\">"));
    g_assert_nonnull(strstr(xml, "<ovirt-vm:startTime type=\"float\">2.5</ovirt-vm:startTime>"));
    g_assert_null(strstr(xml, "clusterVersion"));
    g_assert_nonnull(strstr(xml, "<ovirt-tune:qos/>"));
    g_assert_nonnull(strstr(xml, "<source file=\"/x/a &amp; b.qcow2\"/>"));
    back = vdVmMetadataFromDomainXml(xml, &error);
    g_assert_no_error(error);
    g_assert_true(vdVmMetadataGetDouble(back, "startTime", &d));
    g_assert_cmpfloat(d, ==, 2.5);

    /* A domain without <metadata> gets one. */
    g_free(xml);
    xml = vdVmMetadataEmbed("<domain><name>x</name></domain>", md, &error);
    g_assert_nonnull(strstr(xml, "<metadata>"));
    g_clear_pointer(&back, vdVmMetadataFree);
    back = vdVmMetadataFromDomainXml(xml, NULL);
    g_assert_nonnull(back);
    bare = vdVmMetadataFormatPrefixed(md);
    g_assert_true(g_str_has_prefix(bare, "<ovirt-vm:vm "));
    g_assert_null(vdVmMetadataEmbed("<domain>", md, &error));
    g_assert_nonnull(error);
}

static void
test_typed_setters(void)
{
    g_autoptr(VdVmMetadata) md = vdVmMetadataNew();
    g_autofree char *text = NULL;
    gboolean b = FALSE;
    double d = 0;

    vdVmMetadataSetBool(md, "launchPaused", TRUE);
    vdVmMetadataSetDouble(md, "startTime", 1.5);
    vdVmMetadataSetString(md, "note", "a < b & \"c\"");
    vdVmMetadataSetInt(md, "balloonTarget", 1);
    vdVmMetadataSetInt(md, "balloonTarget", 2); /* replaces, not appends */
    text = vdVmMetadataFormat(md);
    g_assert_nonnull(strstr(text, "<launchPaused type=\"bool\">True</launchPaused>"));
    g_assert_nonnull(strstr(text, "<startTime type=\"float\">1.5</startTime>"));
    g_assert_nonnull(strstr(text, "a &lt; b &amp; &quot;c&quot;"));
    g_assert_nonnull(strstr(text, ">2</balloonTarget>"));
    g_assert_null(strstr(text, ">1</balloonTarget>"));
    g_assert_true(vdVmMetadataGetBool(md, "launchPaused", &b));
    g_assert_true(b);
    g_assert_true(vdVmMetadataGetDouble(md, "startTime", &d));
    g_assert_cmpfloat(d, ==, 1.5);
    g_assert_cmpstr(vdVmMetadataGetString(md, "note"), ==, "a < b & \"c\"");
    vdVmMetadataRemove(md, "note");
    g_assert_false(vdVmMetadataHas(md, "note"));
}

static void
test_exit_info(void)
{
    g_autoptr(VdVmMetadata) md = vdVmMetadataNew();
    g_autofree char *message = NULL;
    int code = -1, reason = -1;

    g_assert_false(vdVmMetadataGetExitInfo(md, &code, &reason, &message));
    vdVmMetadataSetExitInfo(md, 1, 3, "libvirt said no");
    g_assert_true(vdVmMetadataGetExitInfo(md, &code, &reason, &message));
    g_assert_cmpint(code, ==, 1);
    g_assert_cmpint(reason, ==, 3);
    g_assert_cmpstr(message, ==, "libvirt said no");
    vdVmMetadataClearExitInfo(md);
    g_assert_false(vdVmMetadataHas(md, "exitCode"));
    g_assert_false(vdVmMetadataHas(md, "exitMessage"));
}

static void
test_custom_properties(void)
{
    g_autoptr(VdVmMetadata) md = vdVmMetadataParse(
        "<vm xmlns='http://ovirt.org/vm/1.0'><custom><a>1</a></custom></vm>", NULL);
    g_autoptr(GHashTable) all = NULL;

    g_assert_nonnull(md);
    vdVmMetadataSetCustom(md, "b", "2");
    vdVmMetadataSetCustom(md, "a", "3");
    all = vdVmMetadataCustom(md);
    g_assert_cmpuint(g_hash_table_size(all), ==, 2);
    g_assert_cmpstr(g_hash_table_lookup(all, "a"), ==, "3");
    g_assert_cmpstr(g_hash_table_lookup(all, "b"), ==, "2");
}

static void
test_domain_desc(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VdDomainDesc) desc = vdDomainDescNew(vdTestDomainXml, &error);
    VdDomainGraphics *g;
    VdDomainDisk *disk;

    g_assert_no_error(error);
    g_assert_cmpstr(desc->uuid, ==, "3f10a0c0-0000-4000-8000-000000000001");
    g_assert_true(vdUuidIsValid(desc->uuid));
    g_assert_cmpstr(desc->name, ==, "vm1");
    g_assert_cmpstr(desc->type, ==, "kvm");
    g_assert_cmpint(desc->memory_kib, ==, 128 * 1024);
    g_assert_true(desc->acpi);
    g_assert_true(desc->has_ovirt_metadata);
    g_assert_cmpstr(desc->emulator, ==, "/usr/bin/qemu-system-x86_64");
    g_assert_cmpuint(desc->disks->len, ==, 2);
    disk = vdDomainDescFindDisk(desc, "disk");
    g_assert_cmpstr(disk->source, ==, "/x/a & b.qcow2");
    g_assert_null(vdDomainDescFindDisk(desc, "cdrom")->source);
    g_assert_cmpuint(desc->graphics->len, ==, 2);
    g = g_ptr_array_index(desc->graphics, 1);
    g_assert_cmpstr(g->type, ==, "spice");
    g_assert_cmpint(g->port, ==, -1);
    g_assert_cmpint(g->tls_port, ==, 5902);
    g_assert_cmpstr(g->listen, ==, "10.0.0.1");
    g_assert_nonnull(vdDomainDescGraphicsNode(desc, "spice"));
    g_assert_null(vdDomainDescGraphicsNode(desc, "rdp"));

    g_assert_false(vdUuidIsValid("3f10a0c0-0000-4000-8000-00000000001"));
    g_assert_false(vdUuidIsValid("3f10a0c0x0000-4000-8000-000000000001"));
    g_assert_null(vdDomainDescNew("<notadomain/>", &error));
    g_clear_error(&error);
    g_assert_null(vdDomainDescNew("<domain><name>x</domain>", &error));
}

static void
test_xml_tree_edit(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VdXmlNode) root = vdXmlParse("<?xml version='1.0'?><!-- c --><a x='1'><b>t</b>"
                                           "<![CDATA[ignored]]><c/></a>",
                                           -1, &error);
    g_autofree char *text = NULL;

    g_assert_no_error(error);
    g_assert_cmpstr(vdXmlNodeText(vdXmlNodeFind(root, "b")), ==, "t");
    vdXmlNodeSetAttr(root, "x", NULL);
    vdXmlNodeSetAttr(root, "y", "\"q\"");
    vdXmlNodeRemove(vdXmlNodeChild(root, "c"));
    text = vdXmlNodeToString(root);
    g_assert_cmpstr(text, ==, "<a y=\"&quot;q&quot;\">\n  <b>t</b>\n</a>\n");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vm-metadata/parse-from-domain", test_parse_from_domain);
    g_test_add_func("/vm-metadata/no-block-and-bad-xml", test_no_block_and_bad_xml);
    g_test_add_func("/vm-metadata/format-for-libvirt", test_format_for_libvirt);
    g_test_add_func("/vm-metadata/embed-in-domain", test_embed_in_domain);
    g_test_add_func("/vm-metadata/typed-setters", test_typed_setters);
    g_test_add_func("/vm-metadata/exit-info", test_exit_info);
    g_test_add_func("/vm-metadata/custom-properties", test_custom_properties);
    g_test_add_func("/vm-metadata/domain-desc", test_domain_desc);
    g_test_add_func("/vm-metadata/xml-tree-edit", test_xml_tree_edit);
    return g_test_run();
}
