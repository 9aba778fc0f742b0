/* main-call.c - see main-call.h.  Each synchronous call carries its own
 * mutex and condition on the caller's stack; the main loop runs the
 * function from a default-priority source and signals the caller. */
#include "main-call.h"

static GMainContext *vdMainContext;

typedef struct {
    VdMainFunc func;
    gpointer data;
    gpointer result;
    gboolean done;
    GMutex lock;
    GCond cond;
} VdMainSyncCall;

typedef struct {
    VdMainFunc func;
    gpointer data;
    GDestroyNotify destroy;
} VdMainAsyncCall;

void
vdMainCallInit(GMainContext *context)
{
    vdMainContext = context ? context : g_main_context_default();
}

static GMainContext *
vdMainCallContext(void)
{
    return vdMainContext ? vdMainContext : g_main_context_default();
}

gboolean
vdMainCallOnMainLoop(void)
{
    return g_main_context_is_owner(vdMainCallContext());
}

static gboolean
vdMainSyncRun(gpointer user_data)
{
    VdMainSyncCall *call = user_data;
    gpointer result = call->func(call->data);

    g_mutex_lock(&call->lock);
    call->result = result;
    call->done = TRUE;
    g_cond_signal(&call->cond);
    g_mutex_unlock(&call->lock);
    return G_SOURCE_REMOVE;
}

gpointer
vdMainCall(VdMainFunc func, gpointer data)
{
    VdMainSyncCall call = {.func = func, .data = data};
    gpointer result;

    if (vdMainCallOnMainLoop())
        return func(data);
    g_mutex_init(&call.lock);
    g_cond_init(&call.cond);
    g_main_context_invoke(vdMainCallContext(), vdMainSyncRun, &call);
    g_mutex_lock(&call.lock);
    while (!call.done)
        g_cond_wait(&call.cond, &call.lock);
    result = call.result;
    g_mutex_unlock(&call.lock);
    g_mutex_clear(&call.lock);
    g_cond_clear(&call.cond);
    return result;
}

static gboolean
vdMainAsyncRun(gpointer user_data)
{
    VdMainAsyncCall *call = user_data;

    call->func(call->data);
    return G_SOURCE_REMOVE;
}

static void
vdMainAsyncFree(gpointer user_data)
{
    VdMainAsyncCall *call = user_data;

    if (call->destroy)
        call->destroy(call->data);
    g_free(call);
}

void
vdMainPost(VdMainFunc func, gpointer data, GDestroyNotify destroy)
{
    VdMainAsyncCall *call = g_new0(VdMainAsyncCall, 1);
    GSource *source;

    call->func = func;
    call->data = data;
    call->destroy = destroy;
    /* Never run inline even on the main loop: callers post to get out of
     * their current stack (e.g. a libvirt callback). */
    source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, vdMainAsyncRun, call, vdMainAsyncFree);
    g_source_attach(source, vdMainCallContext());
    g_source_unref(source);
}
