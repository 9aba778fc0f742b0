/* dispatcher.c - see dispatcher.h for the design. */
#include "dispatcher.h"

#include "api-handler.h"
#include "config.h"
#include "events.h"
#include "jsonrpc.h"
#include "log.h"
#include "vd-error.h"

struct _VdRpcServer {
    GMainContext *context;
    GThreadPool *pool;
    guint queue_limit;
    double slow_threshold;
    gint64 worker_timeout_us;
    gint ready;     /* atomic */
    gint in_flight; /* atomic */
    GMutex running_lock;
    GList *running; /* VdRpcTask* being run by a worker, under running_lock */
    guint watchdog;
};

typedef struct {
    VdRpcServer *srv;
    VdJsonRpcMessage *msg;
    json_object **responses;
    gint pending; /* atomic: calls not finished, plus one while dispatching */
    char *flow_id;
    char *peer_address;
    char *local_address;
    GBytes *reply;
    VdRpcReplyFunc cb;
    gpointer user_data;
    GDestroyNotify destroy;
} VdRpcJob;

typedef struct {
    VdRpcJob *job;
    guint index;
    const VdApiVerb *verb;
    json_object *params;
    gint64 started;   /* monotonic µs, under running_lock */
    gint64 warned_at; /* last "blocked" warning, under running_lock */
    GList link;
} VdRpcTask;

static void
vdRpcJobFree(VdRpcJob *job)
{
    if (job->destroy)
        job->destroy(job->user_data);
    for (guint i = 0; i < job->msg->calls->len; i++)
        json_object_put(job->responses[i]);
    g_free(job->responses);
    vdJsonRpcMessageFree(job->msg);
    g_free(job->flow_id);
    g_free(job->peer_address);
    g_free(job->local_address);
    if (job->reply)
        g_bytes_unref(job->reply);
    g_free(job);
}

static gboolean
vdRpcJobDeliver(gpointer data)
{
    VdRpcJob *job = data;

    job->cb(job->reply, job->user_data);
    return G_SOURCE_REMOVE;
}

/* Runs on whichever thread finished the last call. */
static void
vdRpcJobFinish(VdRpcJob *job, gboolean on_main_loop)
{
    job->reply = vdJsonRpcSerializeReplies(job->msg->is_batch, job->responses,
                                           job->msg->calls->len);
    if (on_main_loop) {
        vdRpcJobDeliver(job);
        vdRpcJobFree(job);
        return;
    }
    g_main_context_invoke_full(job->srv->context, G_PRIORITY_DEFAULT, vdRpcJobDeliver, job,
                               (GDestroyNotify)vdRpcJobFree);
}

static void
vdRpcJobRelease(VdRpcJob *job, gboolean on_main_loop)
{
    if (g_atomic_int_dec_and_test(&job->pending))
        vdRpcJobFinish(job, on_main_loop);
}

static void
vdRpcWorker(gpointer data, gpointer user_data)
{
    VdRpcTask *task = data;
    VdRpcServer *srv = user_data;
    VdRpcJob *job = task->job;
    VdJsonRpcCall *call = g_ptr_array_index(job->msg->calls, task->index);
    VdCallCtx ctx = {
        .method = task->verb->name,
        .flow_id = job->flow_id,
        .peer_address = job->peer_address,
        .local_address = job->local_address,
    };
    g_autoptr(GError) error = NULL;
    json_object *result;
    gint64 start = g_get_monotonic_time();
    double elapsed;

    task->link.data = task;
    g_mutex_lock(&srv->running_lock);
    task->started = start;
    srv->running = g_list_concat(&task->link, srv->running);
    g_mutex_unlock(&srv->running_lock);

    result = task->verb->handler(&ctx, task->params, &error);

    g_mutex_lock(&srv->running_lock);
    srv->running = g_list_remove_link(srv->running, &task->link);
    g_mutex_unlock(&srv->running_lock);
    elapsed = (g_get_monotonic_time() - start) / 1e6;
    if (elapsed > srv->slow_threshold)
        g_info("slow call %s took %.3f s (flow_id=%s)", task->verb->name, elapsed,
               job->flow_id ? job->flow_id : "");
    else
        VD_DEBUG("RPC call %s %s in %.2f seconds (flow_id=%s)", task->verb->name,
                 error ? "failed" : "succeeded", elapsed, job->flow_id ? job->flow_id : "");

    if (!result && !error) {
        g_set_error(&error, VD_ERROR, VD_ERR_INTERNAL, "%s returned no result",
                    task->verb->name);
    }
    if (error) {
        g_debug("%s failed: %s (code %d)", task->verb->name, error->message, error->code);
        json_object_put(result);
        if (!call->notification)
            job->responses[task->index] = vdJsonRpcErrorFromGError(call->id, error);
    } else if (!call->notification) {
        job->responses[task->index] = vdJsonRpcResponseNew(call->id, result);
    } else {
        json_object_put(result);
    }
    json_object_put(task->params);
    g_free(task);
    g_atomic_int_dec_and_test(&srv->in_flight);
    vdRpcJobRelease(job, FALSE);
}

/* Like VDSM's executor without discard: a verb running longer than
 * [rpc] worker_timeout is only reported (again every timeout), never
 * abandoned. */
static gboolean
vdRpcWatchdog(gpointer data)
{
    VdRpcServer *srv = data;
    gint64 now = g_get_monotonic_time();

    g_mutex_lock(&srv->running_lock);
    for (GList *l = srv->running; l; l = l->next) {
        VdRpcTask *task = l->data;

        if (now - task->started >= srv->worker_timeout_us &&
            now - task->warned_at >= srv->worker_timeout_us) {
            task->warned_at = now;
            g_warning("Worker blocked: %s running for %.0f s (flow_id=%s)", task->verb->name,
                      (now - task->started) / 1e6,
                      task->job->flow_id ? task->job->flow_id : "");
        }
    }
    g_mutex_unlock(&srv->running_lock);
    return G_SOURCE_CONTINUE;
}

VdRpcServer *
vdRpcServerNew(GMainContext *context, GError **error)
{
    g_autoptr(VdRpcServer) srv = g_new0(VdRpcServer, 1);
    gint64 workers = vdConfigGetInt("rpc", "worker_threads");
    gint64 per_worker = vdConfigGetInt("rpc", "tasks_per_worker");

    if (workers < 1 || workers > 1024 || per_worker < 1 || per_worker > 100000) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[rpc] worker_threads must be 1..1024 and tasks_per_worker 1..100000");
        return NULL;
    }
    srv->context = g_main_context_ref(context);
    srv->queue_limit = (guint)(workers * per_worker);
    srv->slow_threshold = vdConfigGetDouble("rpc", "slow_call_threshold");
    srv->worker_timeout_us = MAX(vdConfigGetInt("rpc", "worker_timeout"), 1) * G_USEC_PER_SEC;
    g_mutex_init(&srv->running_lock);
    srv->pool = g_thread_pool_new(vdRpcWorker, srv, (gint)workers, TRUE, error);
    if (!srv->pool)
        return NULL;
    {
        GSource *watchdog = g_timeout_source_new_seconds(
            (guint)MAX(1, MIN(10, srv->worker_timeout_us / G_USEC_PER_SEC / 2)));

        g_source_set_callback(watchdog, vdRpcWatchdog, srv, NULL);
        srv->watchdog = g_source_attach(watchdog, context);
        g_source_unref(watchdog);
    }
    return g_steal_pointer(&srv);
}

void
vdRpcServerFree(VdRpcServer *srv)
{
    if (!srv)
        return;
    if (srv->watchdog)
        g_source_remove(srv->watchdog);
    if (srv->pool)
        g_thread_pool_free(srv->pool, TRUE, FALSE);
    g_mutex_clear(&srv->running_lock);
    if (srv->context)
        g_main_context_unref(srv->context);
    g_free(srv);
}

void
vdRpcServerSetReady(VdRpcServer *srv, gboolean ready)
{
    g_atomic_int_set(&srv->ready, ready);
    vdEventSetReady(ready);
}

guint
vdRpcServerInFlight(VdRpcServer *srv)
{
    return (guint)g_atomic_int_get(&srv->in_flight);
}

/* Decide the fate of one call on the main loop: an immediate response
 * (an error, or the result of an inline verb), or a task for the pool. */
static void
vdRpcDispatchCall(VdRpcServer *srv, VdRpcJob *job, guint index, gboolean over_limit)
{
    VdJsonRpcCall *call = g_ptr_array_index(job->msg->calls, index);
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) params = NULL;
    const VdApiVerb *verb = NULL;
    VdRpcTask *task;

    if (call->response) {
        if (!call->notification)
            job->responses[index] = json_object_get(call->response);
        return;
    }
    if (!g_atomic_int_get(&srv->ready)) {
        vdErrorSetCode(&error, VD_ERR_RECOVERING, NULL);
    } else if (!(verb = vdApiVerbLookup(call->method))) {
        g_set_error(&error, VD_ERROR, VD_ERR_METHOD_NOT_FOUND,
                    "The method does not exist or is not available: {'method': '%s'}",
                    call->method);
    } else if (!(params = vdJsonRpcBindParams(verb, call->params, &error))) {
        /* error set */
    } else if (verb->run_inline) {
        VdCallCtx ctx = {
            .method = verb->name,
            .flow_id = job->flow_id,
            .peer_address = job->peer_address,
            .local_address = job->local_address,
        };
        json_object *result = verb->handler(&ctx, params, &error);

        VD_DEBUG("RPC call %s %s inline (flow_id=%s)", verb->name,
                 result ? "succeeded" : "failed", job->flow_id ? job->flow_id : "");
        if (result) {
            if (!call->notification)
                job->responses[index] = vdJsonRpcResponseNew(call->id, result);
            else
                json_object_put(result);
            return;
        }
        if (!error)
            g_set_error(&error, VD_ERROR, VD_ERR_INTERNAL, "%s returned no result", verb->name);
    } else if (over_limit || g_thread_pool_unprocessed(srv->pool) >= srv->queue_limit) {
        vdErrorSetCode(&error, VD_ERR_RESOURCE_EXHAUSTED, NULL);
        g_warning("rejecting %s: request queue full", call->method);
    } else {
        task = g_new0(VdRpcTask, 1);
        task->job = job;
        task->index = index;
        task->verb = verb;
        task->params = g_steal_pointer(&params);
        g_atomic_int_inc(&job->pending);
        g_atomic_int_inc(&srv->in_flight);
        g_thread_pool_push(srv->pool, task, NULL);
        return;
    }
    if (!call->notification)
        job->responses[index] = vdJsonRpcErrorFromGError(call->id, error);
}

void
vdRpcServerHandle(VdRpcServer *srv, const char *body, gsize len, const VdRpcOrigin *origin,
                  gboolean over_limit, VdRpcReplyFunc cb, gpointer user_data,
                  GDestroyNotify destroy)
{
    VdRpcJob *job = g_new0(VdRpcJob, 1);

    job->srv = srv;
    job->msg = vdJsonRpcParse(body, len);
    job->responses = g_new0(json_object *, job->msg->calls->len);
    job->pending = 1;
    job->cb = cb;
    job->user_data = user_data;
    job->destroy = destroy;
    if (origin) {
        job->flow_id = g_strdup(origin->flow_id);
        job->peer_address = g_strdup(origin->peer_address);
        job->local_address = g_strdup(origin->local_address);
    }
    for (guint i = 0; i < job->msg->calls->len; i++)
        vdRpcDispatchCall(srv, job, i, over_limit);
    vdRpcJobRelease(job, TRUE);
}
