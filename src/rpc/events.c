/* events.c - see events.h.  Publishers on any thread serialize the
 * notification themselves and post the text to the main loop, which owns
 * the sink (the STOMP broker). */
#include "events.h"

typedef struct {
    char *text;
    gsize len;
} VdEventItem;

static gint vdEventsReady;
static VdEventSink vdEventsSink;
static gpointer vdEventsSinkData;
static GMainContext *vdEventsContext;

void
vdEventSetReady(gboolean ready)
{
    g_atomic_int_set(&vdEventsReady, ready);
}

void
vdEventSetSink(VdEventSink sink, gpointer user_data, GMainContext *context)
{
    vdEventsSink = sink;
    vdEventsSinkData = user_data;
    vdEventsContext = context;
}

gint64
vdEventNotifyTime(void)
{
    return (gint64)G_MAXINT32 + g_get_monotonic_time() / 1000;
}

static void
vdEventItemFree(gpointer data)
{
    VdEventItem *item = data;

    g_free(item->text);
    g_free(item);
}

static gboolean
vdEventDeliver(gpointer data)
{
    VdEventItem *item = data;

    if (vdEventsSink)
        vdEventsSink(item->text, item->len, vdEventsSinkData);
    return G_SOURCE_REMOVE;
}

void
vdEventPublish(const char *event_id, json_object *params)
{
    json_object *msg;
    VdEventItem *item;
    const char *text;
    gsize len = 0;

    if (!g_atomic_int_get(&vdEventsReady) || !vdEventsContext) {
        g_debug("dropping event %s: not ready", event_id);
        json_object_put(params);
        return;
    }
    if (!params)
        params = json_object_new_object();
    json_object_object_add(params, "notify_time", json_object_new_int64(vdEventNotifyTime()));
    msg = json_object_new_object();
    json_object_object_add(msg, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(msg, "method", json_object_new_string(event_id));
    json_object_object_add(msg, "params", params);
    text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    item = g_new0(VdEventItem, 1);
    item->text = g_strndup(text, len);
    item->len = len;
    json_object_put(msg);
    g_main_context_invoke_full(vdEventsContext, G_PRIORITY_DEFAULT, vdEventDeliver, item,
                               vdEventItemFree);
}
