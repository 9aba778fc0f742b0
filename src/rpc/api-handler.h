/* api-handler.h - the contract between the rpc layer and the api layer.
 *
 * Every verb of api/vdsm-api.yml is implemented by one function named
 * vdApi<Namespace><Method> (first letter of the method upper-cased), e.g.
 * Host.getCapabilities -> vdApiHostGetCapabilities.  The generated table
 * (api-table.c, built from the schema) points at it, so a verb in the
 * schema without its function fails the link.
 *
 * Handlers run on an rpc worker thread, never on the main loop; they may
 * block (libvirt calls, file reads) but must not touch main-loop state
 * directly.  @params is a JSON object holding every parameter by name,
 * already validated against the schema; optional parameters the client
 * left out are filled with the schema default when it has one and are
 * absent otherwise.  A handler returns the payload (the JSON-RPC "result",
 * i.e. what VDSM's bridge extracts from the per-verb payload key) as a new
 * reference, or NULL with @error set in VD_ERROR with the VDSM status code.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

typedef struct {
    const char *method;       /* "Host.ping2" */
    const char *flow_id;      /* STOMP ovirtCorrelationId, or NULL */
    const char *peer_address; /* client IP address as text, or NULL */
    const char *local_address;/* our address the request arrived on, or NULL */
} VdCallCtx;

typedef json_object *(*VdApiHandler)(VdCallCtx *ctx, json_object *params, GError **error);

typedef enum {
    VD_PARAM_ANY,
    VD_PARAM_STRING,
    VD_PARAM_INT,
    VD_PARAM_UINT,
    VD_PARAM_DOUBLE,
    VD_PARAM_BOOL,
    VD_PARAM_OBJECT,
    VD_PARAM_ARRAY,
} VdParamKind;

typedef struct {
    const char *name;
    const char *type_name;           /* schema type name, for messages */
    VdParamKind kind;
    gboolean required;
    const char *default_json;        /* JSON text of the default, or NULL */
    const char *const *enum_values;  /* NULL-terminated allowed strings, or NULL */
    VdParamKind item_kind;           /* for VD_PARAM_ARRAY: kind of each element */
} VdApiParam;

typedef struct {
    const char *name; /* "Host.ping2" */
    VdApiHandler handler;
    const VdApiParam *params;
    guint n_params;
    /* Schema `x-inline: true`: the handler is cheap and never blocks (no
     * I/O, no locks held by workers), so it runs on the main loop.  Such a
     * verb keeps answering while every worker is stuck. */
    gboolean run_inline;
} VdApiVerb;

/* Generated from the schema, sorted by name. */
extern const VdApiVerb vdApiVerbs[];
extern const guint vdApiVerbsCount;

/* Binary search in vdApiVerbs; NULL when unknown. */
const VdApiVerb *vdApiVerbLookup(const char *name);

/* Accessors for validated params (the schema guarantees the type when the
 * member is present).  They return the fallback when the member is absent
 * or JSON null. */
const char *vdApiParamString(json_object *params, const char *name, const char *fallback);
gint64 vdApiParamInt(json_object *params, const char *name, gint64 fallback);
gboolean vdApiParamBool(json_object *params, const char *name, gboolean fallback);
json_object *vdApiParamObject(json_object *params, const char *name); /* borrowed or NULL */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
