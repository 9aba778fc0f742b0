/* api-params.c - verb lookup in the generated table and typed accessors
 * for validated parameters.  Pure; safe from any thread. */
#include "api-handler.h"

#include <stdlib.h>
#include <string.h>

static int
vdApiVerbCompare(const void *key, const void *elem)
{
    return strcmp(key, ((const VdApiVerb *)elem)->name);
}

const VdApiVerb *
vdApiVerbLookup(const char *name)
{
    if (!name)
        return NULL;
    return bsearch(name, vdApiVerbs, vdApiVerbsCount, sizeof(VdApiVerb), vdApiVerbCompare);
}

static json_object *
vdApiParamGet(json_object *params, const char *name)
{
    json_object *value = NULL;

    if (!params || !json_object_object_get_ex(params, name, &value))
        return NULL;
    if (json_object_is_type(value, json_type_null))
        return NULL;
    return value;
}

const char *
vdApiParamString(json_object *params, const char *name, const char *fallback)
{
    json_object *value = vdApiParamGet(params, name);

    return value ? json_object_get_string(value) : fallback;
}

gint64
vdApiParamInt(json_object *params, const char *name, gint64 fallback)
{
    json_object *value = vdApiParamGet(params, name);

    return value ? json_object_get_int64(value) : fallback;
}

gboolean
vdApiParamBool(json_object *params, const char *name, gboolean fallback)
{
    json_object *value = vdApiParamGet(params, name);

    return value ? json_object_get_boolean(value) : fallback;
}

json_object *
vdApiParamObject(json_object *params, const char *name)
{
    return vdApiParamGet(params, name);
}
