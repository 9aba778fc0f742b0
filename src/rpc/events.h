/* events.h - pushing JSON-RPC notifications to event subscribers.
 *
 * vdEventPublish may be called from any thread.  It adds "notify_time"
 * (VDSM's 2^31-1 + monotonic ms) to @params and hands the notification to
 * the main loop, which sends it as a MESSAGE to every subscriber of
 * [addresses] event_queue.  Events published before start-up work is done
 * (the ready gate, code 99) are dropped, as VDSM drops them.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* @params: a JSON object, ownership taken. */
void vdEventPublish(const char *event_id, json_object *params);

/* Set by the dispatcher with the ready gate. */
void vdEventSetReady(gboolean ready);

/* VDSM's notify_time value for now. */
gint64 vdEventNotifyTime(void);

/* The sink installed by the transport (called on the main loop with the
 * complete serialized notification); NULL drops events. */
typedef void (*VdEventSink)(const char *json_text, gsize len, gpointer user_data);
void vdEventSetSink(VdEventSink sink, gpointer user_data, GMainContext *context);
