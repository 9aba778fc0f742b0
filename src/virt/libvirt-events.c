/* libvirt-events.c - see libvirt-events.h.
 *
 * DESIGN: every libvirt handle or timeout is one GSource of ours (VdEvSource)
 * attached to a private GMainContext that one thread iterates.  A handle
 * watches its fd with g_source_add_unix_fd, and an update changes the
 * polled conditions in place (g_source_modify_unix_fd) instead of
 * replacing the source, which is what libvirt asks for around every RPC
 * call.  A timeout is a ready time: -1 never, 0 every iteration, n ms
 * after its last dispatch or update.  libvirt pushes its keepalive timer
 * back (an update to the same period) on every message it receives; a
 * GSource's ready time wakes the event thread whenever it is set, so an
 * update that only postpones or disables a timer records the new due time
 * and leaves the armed (earlier) ready time alone: when that comes, the
 * dispatch sees the timer is not due and re-arms it.  The event thread
 * therefore wakes once per period, not once per RPC.  Making a timer due
 * sooner (or 0) re-arms it at once.  libvirt calls these functions from any thread
 * (callers of libvirt's API, the event thread itself): the id table and
 * the timers' intervals are guarded by vdEvLock, which is never held
 * while a libvirt callback runs.  A removed source's free callback runs
 * later on the event thread, as libvirt's own implementations do, because
 * libvirt removes handles with its own locks held.
 */
#include "libvirt-events.h"

#include <libvirt/libvirt.h>

typedef struct {
    GSource source;
    int id;
    gboolean is_timer;
    int fd;                       /* handle */
    gpointer tag;                 /* handle: g_source_add_unix_fd */
    virEventHandleCallback hcb;   /* handle */
    int interval_ms;              /* timer, under vdEvLock: -1 off, 0 always, > 0 period */
    gint64 due_us;                /* timer, under vdEvLock: when it fires (monotonic) */
    virEventTimeoutCallback tcb;  /* timer */
    void *opaque;
    virFreeCallback ff;
} VdEvSource;

typedef struct {
    virFreeCallback ff;
    void *opaque;
} VdEvFree;

static GMutex vdEvLock;
static GHashTable *vdEvSources; /* id -> VdEvSource (a reference) */
static int vdEvNextId = 1;
static GMainContext *vdEvContext;
static GThread *vdEvThread;
static gint vdEvQuit; /* atomic */
static GPrivate vdEvDecline; /* this thread declines new handles (vdLibvirtEventsDeclineHandles) */

/* libvirt's handle events and poll conditions (G_IO_NVAL reads as an error). */
static const struct {
    int events;
    GIOCondition cond;
} vdEvBits[] = {
    { VIR_EVENT_HANDLE_READABLE, G_IO_IN },
    { VIR_EVENT_HANDLE_WRITABLE, G_IO_OUT },
    { VIR_EVENT_HANDLE_ERROR, G_IO_ERR | G_IO_NVAL },
    { VIR_EVENT_HANDLE_HANGUP, G_IO_HUP },
};

static GIOCondition
vdEvToCondition(int events)
{
    GIOCondition cond = 0;

    for (guint i = 0; i < G_N_ELEMENTS(vdEvBits); i++)
        if (events & vdEvBits[i].events)
            cond |= vdEvBits[i].cond & ~G_IO_NVAL;
    return cond;
}

static int
vdEvFromCondition(GIOCondition cond)
{
    int events = 0;

    for (guint i = 0; i < G_N_ELEMENTS(vdEvBits); i++)
        if (cond & vdEvBits[i].cond)
            events |= vdEvBits[i].events;
    return events;
}

/* Arms timer @e from @now (vdEvLock held).  Only a ready time earlier
 * than the armed one is set (setting one wakes the event thread); a later
 * due time waits for the dispatch at the armed one (see DESIGN). */
static void
vdEvArmLocked(VdEvSource *e, gint64 now)
{
    gint64 armed = g_source_get_ready_time(&e->source);

    if (e->interval_ms < 0) {
        e->due_us = -1;
        return; /* an armed ready time finds it off and disarms it */
    }
    e->due_us = e->interval_ms == 0 ? 0 : now + (gint64)e->interval_ms * 1000;
    if (armed < 0 || e->due_us < armed)
        g_source_set_ready_time(&e->source, e->due_us);
}

static gboolean
vdEvDispatch(GSource *source, GSourceFunc unused_cb, gpointer unused_data)
{
    VdEvSource *e = (VdEvSource *)source;

    if (e->is_timer) {
        gint64 now = g_get_monotonic_time();
        gboolean fire;

        g_mutex_lock(&vdEvLock);
        fire = e->interval_ms >= 0 && e->due_us <= now;
        if (fire) {
            g_source_set_ready_time(source, -1);
            vdEvArmLocked(e, now); /* before the callback, which may change it */
        } else {
            /* off, or postponed since it was armed */
            g_source_set_ready_time(source, e->interval_ms < 0 ? -1 : e->due_us);
        }
        g_mutex_unlock(&vdEvLock);
        if (fire)
            e->tcb(e->id, e->opaque);
    } else {
        int events = vdEvFromCondition(g_source_query_unix_fd(source, e->tag));

        if (events)
            e->hcb(e->id, e->fd, events, e->opaque);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs vdEvFuncs = {
    .dispatch = vdEvDispatch,
};

static VdEvSource *
vdEvNew(gboolean is_timer, void *opaque, virFreeCallback ff)
{
    VdEvSource *e = (VdEvSource *)g_source_new(&vdEvFuncs, sizeof(VdEvSource));

    e->is_timer = is_timer;
    e->fd = -1;
    e->opaque = opaque;
    e->ff = ff;
    g_source_set_name(&e->source, is_timer ? "libvirt timeout" : "libvirt handle");
    return e;
}

/* Registers e under a new id, arms a timer and attaches it. */
static int
vdEvRegister(VdEvSource *e)
{
    int id;

    g_mutex_lock(&vdEvLock);
    id = e->id = vdEvNextId++;
    if (vdEvNextId <= 0)
        vdEvNextId = 1;
    g_hash_table_insert(vdEvSources, GINT_TO_POINTER(id), e);
    if (e->is_timer)
        vdEvArmLocked(e, g_get_monotonic_time());
    g_source_attach(&e->source, vdEvContext);
    g_mutex_unlock(&vdEvLock);
    return id;
}

/* The source registered under id, if it is of that kind (vdEvLock held). */
static VdEvSource *
vdEvFindLocked(int id, gboolean is_timer)
{
    VdEvSource *e = g_hash_table_lookup(vdEvSources, GINT_TO_POINTER(id));

    return e && e->is_timer == is_timer ? e : NULL;
}

static gboolean
vdEvFreeIdle(gpointer data)
{
    VdEvFree *f = data;

    f->ff(f->opaque);
    g_free(f);
    return G_SOURCE_REMOVE;
}

static int
vdEvRemove(int id, gboolean is_timer)
{
    VdEvSource *e;

    g_mutex_lock(&vdEvLock);
    if (!(e = vdEvFindLocked(id, is_timer))) {
        g_mutex_unlock(&vdEvLock);
        return -1;
    }
    g_hash_table_steal(vdEvSources, GINT_TO_POINTER(id));
    g_mutex_unlock(&vdEvLock);

    g_source_destroy(&e->source);
    if (e->ff) {
        GSource *idle = g_idle_source_new();
        VdEvFree *f = g_new(VdEvFree, 1);

        f->ff = e->ff;
        f->opaque = e->opaque;
        g_source_set_callback(idle, vdEvFreeIdle, f, NULL);
        g_source_attach(idle, vdEvContext);
        g_source_unref(idle);
    }
    g_source_unref(&e->source);
    return 0;
}

static int
vdEvAddHandle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff)
{
    VdEvSource *e;

    if (g_private_get(&vdEvDecline))
        return -1; /* libvirt's client then does its socket I/O in the calling threads only */
    e = vdEvNew(FALSE, opaque, ff);

    e->fd = fd;
    e->hcb = cb;
    e->tag = g_source_add_unix_fd(&e->source, fd, vdEvToCondition(events));
    return vdEvRegister(e);
}

static void
vdEvUpdateHandle(int id, int events)
{
    VdEvSource *e;

    g_mutex_lock(&vdEvLock);
    if ((e = vdEvFindLocked(id, FALSE)))
        /* Changes what the next poll asks for and wakes the event thread. */
        g_source_modify_unix_fd(&e->source, e->tag, vdEvToCondition(events));
    g_mutex_unlock(&vdEvLock);
}

static int
vdEvRemoveHandle(int id)
{
    return vdEvRemove(id, FALSE);
}

static int
vdEvAddTimeout(int interval_ms, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff)
{
    VdEvSource *e = vdEvNew(TRUE, opaque, ff);

    e->tcb = cb;
    e->interval_ms = interval_ms;
    return vdEvRegister(e);
}

static void
vdEvUpdateTimeout(int id, int interval_ms)
{
    VdEvSource *e;

    g_mutex_lock(&vdEvLock);
    if ((e = vdEvFindLocked(id, TRUE))) {
        e->interval_ms = interval_ms;
        vdEvArmLocked(e, g_get_monotonic_time());
    }
    g_mutex_unlock(&vdEvLock);
}

static int
vdEvRemoveTimeout(int id)
{
    return vdEvRemove(id, TRUE);
}

static gpointer
vdEvRun(gpointer data)
{
    g_main_context_push_thread_default(vdEvContext);
    while (!g_atomic_int_get(&vdEvQuit))
        g_main_context_iteration(vdEvContext, TRUE);
    g_main_context_pop_thread_default(vdEvContext);
    return NULL;
}

void
vdLibvirtEventsStart(const char *thread_name)
{
    static gsize registered;

    if (g_once_init_enter(&registered)) {
        vdEvContext = g_main_context_new();
        vdEvSources = g_hash_table_new(g_direct_hash, g_direct_equal);
        virEventRegisterImpl(vdEvAddHandle, vdEvUpdateHandle, vdEvRemoveHandle,
                             vdEvAddTimeout, vdEvUpdateTimeout, vdEvRemoveTimeout);
        g_once_init_leave(&registered, 1);
    }
    if (vdEvThread)
        return;
    g_atomic_int_set(&vdEvQuit, 0);
    vdEvThread = g_thread_new(thread_name, vdEvRun, NULL);
}

void
vdLibvirtEventsStop(void)
{
    if (!vdEvThread)
        return;
    g_atomic_int_set(&vdEvQuit, 1);
    g_main_context_wakeup(vdEvContext);
    g_thread_join(vdEvThread);
    vdEvThread = NULL;
    /* The free callbacks of sources removed just before (a closed
     * connection's socket and keepalive) are still queued: run them. */
    for (int i = 0; i < 16 && g_main_context_iteration(vdEvContext, FALSE); i++)
        ;
}

void
vdLibvirtEventsDeclineHandles(gboolean decline)
{
    g_private_set(&vdEvDecline, GINT_TO_POINTER(decline ? 1 : 0));
}

guint
vdLibvirtEventsCount(void)
{
    guint n;

    if (!vdEvSources)
        return 0;
    g_mutex_lock(&vdEvLock);
    n = g_hash_table_size(vdEvSources);
    g_mutex_unlock(&vdEvLock);
    return n;
}
