/* xml-node.h - a small XML element tree for libvirt domain XML.
 *
 * DESIGN: GLib's GMarkup parser fills a tree of elements (name as written,
 * attributes in order, child elements, text).  It is enough for what
 * vdsm-c reads and edits in domain XML (uuid, devices, graphics, the
 * ovirt-vm metadata block) without another library.  Whitespace-only text
 * between elements is dropped, comments and processing instructions are
 * skipped, and an element's text is kept only when it has no children
 * (libvirt's XML has no mixed content).  Pure data: no I/O, no globals, so
 * it is safe from any thread as long as one tree is used by one thread.
 */
#pragma once

#include <glib.h>

typedef struct _VdXmlNode VdXmlNode;

struct _VdXmlNode {
    char *name;          /* as written, with any prefix: "ovirt-vm:vm" */
    GPtrArray *attrs;    /* char*: name, value, name, value, ... */
    GPtrArray *children; /* VdXmlNode* */
    char *text;          /* text content of a leaf, or NULL */
    VdXmlNode *parent;   /* not owned */
};

/* Parse a whole document; returns its root element. */
VdXmlNode *vdXmlParse(const char *text, gssize len, GError **error);

VdXmlNode *vdXmlNodeNew(const char *name);
void vdXmlNodeFree(VdXmlNode *node);
VdXmlNode *vdXmlNodeCopy(const VdXmlNode *node);

/* The name without its prefix ("vm" for "ovirt-vm:vm"). */
const char *vdXmlNodeLocalName(const VdXmlNode *node);
/* The prefix of the name, or "" when it has none. */
char *vdXmlNodePrefix(const VdXmlNode *node);

const char *vdXmlNodeAttr(const VdXmlNode *node, const char *name);
/* @value NULL removes the attribute. */
void vdXmlNodeSetAttr(VdXmlNode *node, const char *name, const char *value);

/* The text of a leaf with surrounding whitespace removed ("" when none). */
const char *vdXmlNodeText(const VdXmlNode *node);
void vdXmlNodeSetText(VdXmlNode *node, const char *text);

/* Take ownership of @child and append it. */
VdXmlNode *vdXmlNodeAppend(VdXmlNode *parent, VdXmlNode *child);
/* Unlink @child from its parent and free it. */
void vdXmlNodeRemove(VdXmlNode *child);

/* First child whose local name is @local_name, or NULL. */
VdXmlNode *vdXmlNodeChild(const VdXmlNode *node, const char *local_name);
/* Follow "a/b/c" by local names from @node; NULL when a step is missing. */
VdXmlNode *vdXmlNodeFind(const VdXmlNode *node, const char *path);
/* Every child named @local_name, as borrowed pointers. */
GPtrArray *vdXmlNodeChildren(const VdXmlNode *node, const char *local_name);

/* Serialize @node and its subtree (indented by two spaces per level). */
char *vdXmlNodeToString(const VdXmlNode *node);

/* The namespace URI bound to @prefix ("" for the default namespace) at
 * @node, looking at xmlns attributes up the tree; NULL when unbound. */
const char *vdXmlNodeLookupNamespace(const VdXmlNode *node, const char *prefix);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdXmlNode, vdXmlNodeFree)
