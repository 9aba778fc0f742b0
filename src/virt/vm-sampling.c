/* vm-sampling.c - see vm-sampling.h for the threads and the cache.
 *
 * Functions ending in Locked run with vdSampling.lock held; *OnMain run
 * on the main loop; vdVmSamplingTickRun and vdVmCallRun run on the
 * sampler pool.  The lock is never held across a libvirt call.
 */
#include "vm-sampling.h"

#include "config.h"
#include "libvirt-conn.h"
#include "main-call.h"
#include "vd-error.h"
#include "vm-table.h"

#include <libvirt/virterror.h>
#include <string.h>

/* Longest accepted interval or timeout, seconds (one day). */
#define VD_VM_SAMPLING_SECONDS_MAX 86400
/* Largest accepted [sampling] max_concurrent_calls. */
#define VD_VM_SAMPLING_CALLS_MAX 8
/* Fewest domains worth a call of their own: with fewer, one more
 * concurrent call costs more (a thread hop, a round trip) than it saves. */
#define VD_VM_SAMPLING_MIN_PER_CALL 8

/* The groups VDSM's stats use (vdsm-facts §4.3); BLOCK is added on block
 * ticks. */
#define VD_VM_SAMPLING_GROUPS                                                                      \
    (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |              \
     VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE)

typedef struct {
    char *id;
    char *name;
    int dom_id;             /* libvirt runtime id: a new run starts a new window */
    guint seen_gen;         /* last tick that listed it */
    gint64 first_seen_us;
    VdVmSample *win[2];     /* [0] older, [1] newer */
    VdVmSample *bwin[2];    /* the same for samples with block stats */
    VdVmDevInfo *dev;
    gboolean dev_stale;
    gint64 skip_until_us;   /* unresponsive: not asked before then; 0: asked */
    gboolean timed_out;     /* a call on it timed out; cleared when it answers */
    gboolean published_ok;  /* monitorResponse as last evaluated */
    guint busy;             /* outstanding calls that cover it */
} VdVmEntry;

typedef struct {
    gint ref;
    virDomainPtr *doms;     /* NULL-terminated, one reference each */
    char **ids;             /* NULL-terminated */
    guint n;
    unsigned int groups;
    gint64 start_us;
    gboolean done;          /* under the lock */
} VdVmCall;

static struct {
    GMutex lock;
    GCond cond;             /* a call finished */
    GHashTable *vms;        /* id -> VdVmEntry* */
    GPtrArray *outstanding; /* VdVmCall* (a reference each) still in libvirt */
    GThreadPool *pool;
    GSource *timer;
    gboolean tick_running;
    guint skipped_in_row;
    gboolean stopping;
    guint gen;
    gint64 last_block_us;
    VdVmSamplingFigures fig;
    /* configuration, fixed at start */
    gint64 interval_us, cmd_timeout_us, call_timeout_us, ttl_us, block_interval_us;
    guint max_calls;
    gboolean nowait;
} vdSampling;

/* The pool's job for a tick (calls are pushed as their VdVmCall*). */
static char vdVmSamplingTickJob;

/* ---- entries ------------------------------------------------------------ */

static void
vdVmEntryResetLocked(VdVmEntry *e)
{
    for (guint i = 0; i < 2; i++) {
        g_clear_pointer(&e->win[i], vdVmSampleUnref);
        g_clear_pointer(&e->bwin[i], vdVmSampleUnref);
    }
    g_clear_pointer(&e->dev, vdVmDevInfoFree);
    e->timed_out = FALSE;
    e->skip_until_us = 0;
}

static void
vdVmEntryFree(gpointer data)
{
    VdVmEntry *e = data;

    vdVmEntryResetLocked(e);
    g_free(e->id);
    g_free(e->name);
    g_free(e);
}

static gboolean
vdVmEntryResponsiveLocked(const VdVmEntry *e, gint64 now)
{
    gint64 seen;

    if (e->timed_out)
        return FALSE;
    seen = e->win[1] ? e->win[1]->mono_us : e->first_seen_us;
    return now - seen <= vdSampling.cmd_timeout_us;
}

/* Re-evaluate monitorResponse; returns the ids whose value changed. */
static GPtrArray *
vdVmSamplingEvaluateLocked(gint64 now)
{
    GPtrArray *changed = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer value;
    guint unresponsive = 0;

    if (!vdSampling.vms)
        return changed;
    g_hash_table_iter_init(&it, vdSampling.vms);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        VdVmEntry *e = value;
        gboolean ok = vdVmEntryResponsiveLocked(e, now);

        if (!ok)
            unresponsive++;
        if (ok != e->published_ok) {
            e->published_ok = ok;
            g_ptr_array_add(changed, g_strdup(e->id));
        }
    }
    vdSampling.fig.unresponsive = unresponsive;
    return changed;
}

static gpointer
vdVmSamplingPublishOnMain(gpointer data)
{
    const char *id = data;
    VdVm *vm = vdVmTableLookup(id);
    gboolean ok = vdVmSamplingResponsive(id);

    g_info("VM %s: monitorResponse %s", id, ok ? "0 (responsive again)" : "-1 (unresponsive)");
    if (vm && vm->status != VD_VM_STATUS_DOWN)
        vdVmTableRefresh(vm, TRUE);
    return NULL;
}

static void
vdVmSamplingPublish(GPtrArray *changed)
{
    for (guint i = 0; i < changed->len; i++)
        vdMainPost(vdVmSamplingPublishOnMain, g_strdup(g_ptr_array_index(changed, i)), g_free);
}

/* ---- storing samples ---------------------------------------------------- */

static void
vdVmWindowPushLocked(VdVmSample **win, VdVmSample *sample)
{
    vdVmSampleUnref(win[0]);
    win[0] = win[1];
    win[1] = vdVmSampleRef(sample);
}

static void
vdVmEntryStoreLocked(VdVmEntry *e, VdVmSample *sample)
{
    /* It answered: whatever timed out before is over. */
    e->timed_out = FALSE;
    e->skip_until_us = 0;
    if (e->win[1] && sample->mono_us <= e->win[1]->mono_us) {
        /* Taken before the newest one: a call that was stuck. */
        vdSampling.fig.samples_dropped++;
        return;
    }
    vdVmWindowPushLocked(e->win, sample);
    if (sample->have & VD_VM_HAVE_BLOCK)
        vdVmWindowPushLocked(e->bwin, sample);
    /* A NIC the device info does not know: hot-plugged, read the XML again. */
    for (guint i = 0; e->dev && !e->dev_stale && i < sample->n_nics; i++) {
        gboolean known = FALSE;

        for (guint j = 0; j < e->dev->nics->len && !known; j++) {
            const VdVmNicInfo *n = g_ptr_array_index(e->dev->nics, j);

            known = g_strcmp0(n->name, sample->nics[i].name) == 0;
        }
        if (!known)
            e->dev_stale = TRUE;
    }
}

/* ---- calls ---------------------------------------------------------------- */

static VdVmCall *
vdVmCallNew(GPtrArray *doms, GPtrArray *ids, unsigned int groups)
{
    VdVmCall *c = g_new0(VdVmCall, 1);

    c->ref = 1;
    c->n = doms->len;
    c->doms = g_new0(virDomainPtr, doms->len + 1);
    c->ids = g_new0(char *, doms->len + 1);
    for (guint i = 0; i < doms->len; i++) {
        c->doms[i] = g_ptr_array_index(doms, i);
        virDomainRef(c->doms[i]);
        c->ids[i] = g_strdup(g_ptr_array_index(ids, i));
    }
    c->groups = groups;
    return c;
}

static void
vdVmCallUnref(VdVmCall *c)
{
    if (!c || !g_atomic_int_dec_and_test(&c->ref))
        return;
    for (guint i = 0; i < c->n; i++)
        virDomainFree(c->doms[i]);
    g_free(c->doms);
    g_strfreev(c->ids);
    g_free(c);
}

static void
vdVmCallRun(VdVmCall *c)
{
    virDomainStatsRecordPtr *records = NULL;
    unsigned int flags = vdSampling.nowait ? VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT : 0;
    g_autoptr(GPtrArray) samples = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmSampleUnref);
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) changed = NULL;
    int n;

    n = virDomainListGetStats(c->doms, c->groups, &records, flags);
    if (n < 0)
        g_debug("bulk stats of %u domains failed: %s", c->n, virGetLastErrorMessage());
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        VdVmSample *s;

        if (virDomainGetUUIDString(records[i]->dom, uuid) < 0)
            continue;
        s = vdVmSampleParse(records[i]->params, records[i]->nparams, c->groups, c->start_us);
        if (c->groups & VIR_DOMAIN_STATS_BLOCK)
            vdVmSampleStatDisks(s);
        g_ptr_array_add(samples, s);
        g_ptr_array_add(ids, g_strdup(uuid));
    }
    if (records)
        virDomainStatsRecordListFree(records);

    g_mutex_lock(&vdSampling.lock);
    for (guint i = 0; vdSampling.vms && i < samples->len; i++) {
        VdVmEntry *e = g_hash_table_lookup(vdSampling.vms, g_ptr_array_index(ids, i));

        if (e)
            vdVmEntryStoreLocked(e, g_ptr_array_index(samples, i));
    }
    for (guint i = 0; vdSampling.vms && i < c->n; i++) {
        VdVmEntry *e = g_hash_table_lookup(vdSampling.vms, c->ids[i]);

        if (e && e->busy)
            e->busy--;
    }
    c->done = TRUE;
    g_ptr_array_remove_fast(vdSampling.outstanding, c); /* drops the list's reference */
    vdSampling.fig.calls_outstanding = vdSampling.outstanding->len;
    changed = vdVmSamplingEvaluateLocked(g_get_monotonic_time());
    g_cond_broadcast(&vdSampling.cond);
    g_mutex_unlock(&vdSampling.lock);
    vdVmSamplingPublish(changed);
    vdVmCallUnref(c); /* the job's reference */
}

/* Start a call on the pool (lock held): it covers @doms/@ids. */
static VdVmCall *
vdVmCallLaunchLocked(GPtrArray *doms, GPtrArray *ids, unsigned int groups, gint64 start_us)
{
    VdVmCall *c = vdVmCallNew(doms, ids, groups);

    c->start_us = start_us;
    for (guint i = 0; i < c->n; i++) {
        VdVmEntry *e = g_hash_table_lookup(vdSampling.vms, c->ids[i]);

        if (e)
            e->busy++;
    }
    g_atomic_int_inc(&c->ref); /* the outstanding list's */
    g_ptr_array_add(vdSampling.outstanding, c);
    vdSampling.fig.calls++;
    vdSampling.fig.calls_outstanding = vdSampling.outstanding->len;
    g_atomic_int_inc(&c->ref); /* the job's */
    g_thread_pool_push(vdSampling.pool, c, NULL);
    return c; /* the caller's reference */
}

/* ---- the tick --------------------------------------------------------------- */

/* TRUE when the QEMU monitor of @dom has been busy for at least @busy_ms
 * (or is unusable): the domain does not answer. */
static gboolean
vdVmDomainStuck(virDomainPtr dom, gint64 busy_ms)
{
    virDomainControlInfo info;

    if (virDomainGetControlInfo(dom, &info, 0) < 0)
        return FALSE; /* gone or libvirt down: the next tick knows */
    if (info.state == VIR_DOMAIN_CONTROL_ERROR)
        return TRUE;
    return info.state == VIR_DOMAIN_CONTROL_OCCUPIED && (gint64)info.stateTime >= busy_ms;
}

static void
vdVmSamplingMarkStuck(const char *id, gint64 now)
{
    VdVmEntry *e;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e) {
        if (!e->timed_out)
            g_warning("VM %s (%s): QEMU monitor does not answer; skipped for %" G_GINT64_FORMAT
                      " s", e->id, e->name, vdSampling.ttl_us / G_USEC_PER_SEC);
        e->timed_out = TRUE;
        e->skip_until_us = now + vdSampling.ttl_us;
    }
    g_mutex_unlock(&vdSampling.lock);
}

static void
vdVmSamplingFetchDev(virDomainPtr dom, const char *id)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GError) error = NULL;
    VdVmDevInfo *dev;
    VdVmEntry *e;

    if (!xml)
        return;
    dev = vdVmDevInfoParse(xml, &error);
    if (!dev) {
        g_warning("VM %s: cannot read its domain XML: %s", id, error->message);
        return;
    }
    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e) {
        vdVmDevInfoFree(e->dev);
        e->dev = dev;
        e->dev_stale = FALSE;
        dev = NULL;
    }
    g_mutex_unlock(&vdSampling.lock);
    vdVmDevInfoFree(dev);
}

/* Split @doms/@ids into @k calls of @groups (lock held); the new calls are
 * appended to @calls. */
static void
vdVmSamplingSplitLocked(GPtrArray *doms, GPtrArray *ids, guint k, unsigned int groups,
                        gint64 start_us, GPtrArray *calls)
{
    guint n = doms->len;

    for (guint part = 0, from = 0; part < k && from < n; part++) {
        guint to = (guint)(((guint64)n * (part + 1)) / k);
        g_autoptr(GPtrArray) d = g_ptr_array_new();
        g_autoptr(GPtrArray) i = g_ptr_array_new();

        for (guint j = from; j < to; j++) {
            g_ptr_array_add(d, g_ptr_array_index(doms, j));
            g_ptr_array_add(i, g_ptr_array_index(ids, j));
        }
        from = to;
        if (d->len)
            g_ptr_array_add(calls, vdVmCallLaunchLocked(d, i, groups, start_us));
    }
}

/* Wait (lock held) until every call of @calls is done or @deadline. */
static void
vdVmSamplingWaitLocked(GPtrArray *calls, gint64 deadline)
{
    for (;;) {
        gboolean all = TRUE;

        for (guint i = 0; i < calls->len && all; i++)
            all = ((VdVmCall *)g_ptr_array_index(calls, i))->done;
        if (all || vdSampling.stopping)
            return;
        if (!g_cond_wait_until(&vdSampling.cond, &vdSampling.lock, deadline))
            return;
    }
}

static guint
vdVmSamplingFreeThreadsLocked(void)
{
    guint used = 1 + vdSampling.outstanding->len; /* this tick + calls in libvirt */

    return used >= VD_VM_SAMPLING_MAX_THREADS ? 0 : VD_VM_SAMPLING_MAX_THREADS - used;
}

static void
vdVmSamplingTickRun(void)
{
    gint64 now = g_get_monotonic_time();
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = vdLibvirtGet(&error);
    virDomainPtr *list = NULL;
    int n = -1;
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) check = g_array_new(FALSE, TRUE, sizeof(gboolean));
    g_autoptr(GArray) skip = g_array_new(FALSE, TRUE, sizeof(gboolean));
    g_autoptr(GArray) need_dev = g_array_new(FALSE, TRUE, sizeof(gboolean));
    g_autoptr(GArray) need_block = g_array_new(FALSE, TRUE, sizeof(gboolean));
    g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmCallUnref);
    g_autoptr(GPtrArray) changed = NULL;
    gboolean block_tick = FALSE;
    gint64 busy_ms = vdSampling.call_timeout_us / 1000 / 2;

    if (conn)
        n = virConnectListAllDomains(conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        g_debug("VM sampling skipped: %s", conn ? virGetLastErrorMessage() : error->message);
        g_mutex_lock(&vdSampling.lock);
        goto done;
    }
    g_array_set_size(check, n);
    g_array_set_size(skip, n);
    g_array_set_size(need_dev, n);
    g_array_set_size(need_block, n);
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN] = "";

        virDomainGetUUIDString(list[i], uuid);
        g_ptr_array_add(ids, g_strdup(uuid));
    }

    g_mutex_lock(&vdSampling.lock);
    if (vdSampling.stopping)
        goto done;
    vdSampling.gen++;
    block_tick = now - vdSampling.last_block_us >=
                 vdSampling.block_interval_us - vdSampling.interval_us / 2;
    if (block_tick)
        vdSampling.last_block_us = now;
    for (int i = 0; i < n; i++) {
        const char *id = g_ptr_array_index(ids, i);
        VdVmEntry *e = g_hash_table_lookup(vdSampling.vms, id);
        int dom_id = (int)virDomainGetID(list[i]);

        if (!*id)
            continue;
        if (!e) {
            e = g_new0(VdVmEntry, 1);
            e->id = g_strdup(id);
            e->first_seen_us = now;
            e->published_ok = TRUE;
            e->dom_id = dom_id;
            g_hash_table_insert(vdSampling.vms, e->id, e);
        } else if (e->dom_id != dom_id) {
            /* Restarted with the same UUID: counters start again. */
            vdVmEntryResetLocked(e);
            e->dom_id = dom_id;
            e->first_seen_us = now;
        }
        if (g_strcmp0(e->name, virDomainGetName(list[i])) != 0) {
            g_free(e->name);
            e->name = g_strdup(virDomainGetName(list[i]));
        }
        e->seen_gen = vdSampling.gen;
        if (e->busy > 0 || (e->skip_until_us && now >= e->skip_until_us))
            g_array_index(check, gboolean, i) = TRUE;
        else if (e->skip_until_us > now)
            g_array_index(skip, gboolean, i) = TRUE;
        g_array_index(need_dev, gboolean, i) =
            !e->dev || e->dev->dom_id != dom_id || e->dev_stale;
        g_array_index(need_block, gboolean, i) = block_tick || !e->bwin[1];
    }
    {
        /* Domains no longer active leave the cache. */
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, vdSampling.vms);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            if (((VdVmEntry *)value)->seen_gen != vdSampling.gen)
                g_hash_table_iter_remove(&it);
        }
    }
    g_mutex_unlock(&vdSampling.lock);

    /* Domains covered by a call that is still in libvirt, or whose skip
     * time is over: ask only the ones whose monitor is free. */
    for (int i = 0; i < n; i++) {
        if (!g_array_index(check, gboolean, i))
            continue;
        if (vdVmDomainStuck(list[i], busy_ms)) {
            vdVmSamplingMarkStuck(g_ptr_array_index(ids, i), now);
            g_array_index(skip, gboolean, i) = TRUE;
        } else {
            g_mutex_lock(&vdSampling.lock);
            {
                VdVmEntry *e = g_hash_table_lookup(vdSampling.vms, g_ptr_array_index(ids, i));

                if (e)
                    e->skip_until_us = 0;
            }
            g_mutex_unlock(&vdSampling.lock);
        }
    }
    for (int i = 0; i < n; i++) {
        if (g_array_index(need_dev, gboolean, i) && !g_array_index(skip, gboolean, i))
            vdVmSamplingFetchDev(list[i], g_ptr_array_index(ids, i));
    }

    g_mutex_lock(&vdSampling.lock);
    if (vdSampling.stopping)
        goto done;
    {
        g_autoptr(GPtrArray) bd = g_ptr_array_new();
        g_autoptr(GPtrArray) bi = g_ptr_array_new();
        g_autoptr(GPtrArray) nd = g_ptr_array_new();
        g_autoptr(GPtrArray) ni = g_ptr_array_new();
        guint total, k, kb, kn;

        for (int i = 0; i < n; i++) {
            if (g_array_index(skip, gboolean, i) || !*(char *)g_ptr_array_index(ids, i))
                continue;
            g_ptr_array_add(g_array_index(need_block, gboolean, i) ? bd : nd, list[i]);
            g_ptr_array_add(g_array_index(need_block, gboolean, i) ? bi : ni,
                            g_ptr_array_index(ids, i));
        }
        total = bd->len + nd->len;
        k = MIN(vdSampling.max_calls, vdVmSamplingFreeThreadsLocked());
        k = MIN(k, MAX(1, (total + VD_VM_SAMPLING_MIN_PER_CALL - 1) / VD_VM_SAMPLING_MIN_PER_CALL));
        if (total && k == 0) {
            g_warning("VM sampling: all %d sampler threads wait on stuck calls; tick skipped",
                      VD_VM_SAMPLING_MAX_THREADS);
            goto done;
        }
        if (total && (k == 1 || !nd->len || !bd->len)) {
            /* One kind of call only: a lone new VM's block stats ride along. */
            unsigned int groups = VD_VM_SAMPLING_GROUPS | (bd->len ? VIR_DOMAIN_STATS_BLOCK : 0);

            for (guint i = 0; i < nd->len; i++) {
                g_ptr_array_add(bd, g_ptr_array_index(nd, i));
                g_ptr_array_add(bi, g_ptr_array_index(ni, i));
            }
            vdVmSamplingSplitLocked(bd, bi, k, groups, now, calls);
        } else if (total) {
            kb = CLAMP((guint)((guint64)k * bd->len / total), 1, k - 1);
            kn = k - kb;
            vdVmSamplingSplitLocked(bd, bi, kb, VD_VM_SAMPLING_GROUPS | VIR_DOMAIN_STATS_BLOCK,
                                    now, calls);
            vdVmSamplingSplitLocked(nd, ni, kn, VD_VM_SAMPLING_GROUPS, now, calls);
        }
    }
    vdVmSamplingWaitLocked(calls, now + vdSampling.call_timeout_us);

    {
        /* Calls still in libvirt: sample their responsive domains again now. */
        g_autoptr(GPtrArray) late = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmCallUnref);

        for (guint i = 0; i < calls->len; i++) {
            VdVmCall *c = g_ptr_array_index(calls, i);

            if (!c->done) {
                g_atomic_int_inc(&c->ref);
                g_ptr_array_add(late, c);
                vdSampling.fig.calls_stuck++;
            }
        }
        if (late->len && !vdSampling.stopping) {
            g_autoptr(GPtrArray) rd = g_ptr_array_new();
            g_autoptr(GPtrArray) ri = g_ptr_array_new();
            g_autoptr(GPtrArray) again = g_ptr_array_new_with_free_func(
                (GDestroyNotify)vdVmCallUnref);
            gint64 redo = g_get_monotonic_time();

            g_mutex_unlock(&vdSampling.lock);
            for (guint i = 0; i < late->len; i++) {
                VdVmCall *c = g_ptr_array_index(late, i);

                for (guint j = 0; j < c->n; j++) {
                    if (vdVmDomainStuck(c->doms[j], busy_ms)) {
                        vdVmSamplingMarkStuck(c->ids[j], redo);
                    } else {
                        g_ptr_array_add(rd, c->doms[j]);
                        g_ptr_array_add(ri, c->ids[j]);
                    }
                }
            }
            g_mutex_lock(&vdSampling.lock);
            if (rd->len && vdVmSamplingFreeThreadsLocked() > 0 && !vdSampling.stopping) {
                unsigned int groups = VD_VM_SAMPLING_GROUPS;

                for (guint i = 0; i < late->len; i++)
                    groups |= ((VdVmCall *)g_ptr_array_index(late, i))->groups;
                /* Not waited for: if it gets stuck too, the next tick
                 * checks its domains like any other outstanding call. */
                g_ptr_array_add(again, vdVmCallLaunchLocked(rd, ri, groups, redo));
            }
        }
    }

done:
    /* lock held */
    vdSampling.tick_running = FALSE;
    vdSampling.fig.ticks++;
    vdSampling.fig.last_tick_us = g_get_monotonic_time() - now;
    vdSampling.fig.tick_us_total += vdSampling.fig.last_tick_us;
    if (block_tick) {
        vdSampling.fig.block_ticks++;
        vdSampling.fig.block_tick_us_total += vdSampling.fig.last_tick_us;
    }
    vdSampling.fig.last_tick_end_mono = g_get_monotonic_time();
    vdSampling.fig.vms = vdSampling.vms ? g_hash_table_size(vdSampling.vms) : 0;
    changed = vdVmSamplingEvaluateLocked(g_get_monotonic_time());
    g_cond_broadcast(&vdSampling.cond);
    g_mutex_unlock(&vdSampling.lock);
    vdVmSamplingPublish(changed);
    for (int i = 0; i < n; i++)
        virDomainFree(list[i]);
    g_free(list);
}

static void
vdVmSamplingRun(gpointer data, gpointer user_data)
{
    if (data == &vdVmSamplingTickJob)
        vdVmSamplingTickRun();
    else
        vdVmCallRun(data);
}

/* Main loop: every interval. */
static gboolean
vdVmSamplingTimer(gpointer data)
{
    g_autoptr(GPtrArray) changed = NULL;
    gboolean start = FALSE;
    guint skipped_in_row = 0;

    g_mutex_lock(&vdSampling.lock);
    changed = vdVmSamplingEvaluateLocked(g_get_monotonic_time());
    if (vdSampling.tick_running) {
        vdSampling.fig.ticks_skipped++;
        skipped_in_row = ++vdSampling.skipped_in_row;
    } else {
        vdSampling.skipped_in_row = 0;
        vdSampling.tick_running = TRUE;
        start = TRUE;
    }
    g_mutex_unlock(&vdSampling.lock);
    for (guint i = 0; i < changed->len; i++)
        vdVmSamplingPublishOnMain(g_ptr_array_index(changed, i));
    if (start)
        g_thread_pool_push(vdSampling.pool, &vdVmSamplingTickJob, NULL);
    else if (skipped_in_row == 1)
        g_warning("VM sampling: the previous tick still runs; ticks are skipped until it ends");
    else
        g_debug("VM sampling: tick skipped (%u in a row)", skipped_in_row);
    return G_SOURCE_CONTINUE;
}

/* ---- start/stop -------------------------------------------------------------- */

static int
vdVmSamplingSeconds(const char *section, const char *key, double min, gint64 *out_us,
                    GError **error)
{
    double v = vdConfigGetDouble(section, key);

    if (!(v >= min && v <= VD_VM_SAMPLING_SECONDS_MAX)) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[%s] %s must be %g..%d seconds, not %s", section, key, min,
                    VD_VM_SAMPLING_SECONDS_MAX, vdConfigGetString(section, key));
        return -1;
    }
    *out_us = (gint64)(v * G_USEC_PER_SEC);
    return 0;
}

int
vdVmSamplingStart(GError **error)
{
    gint64 calls = vdConfigGetInt("sampling", "max_concurrent_calls");
    g_autoptr(GMainContext) ctx = NULL;

    if (vdSampling.pool)
        return 0;
    if (vdVmSamplingSeconds("vars", "vm_sample_interval", 0.1, &vdSampling.interval_us, error) <
            0 ||
        vdVmSamplingSeconds("vars", "vm_command_timeout", 0.1, &vdSampling.cmd_timeout_us,
                            error) < 0 ||
        vdVmSamplingSeconds("sampling", "stats_call_timeout", 0.05, &vdSampling.call_timeout_us,
                            error) < 0 ||
        vdVmSamplingSeconds("sampling", "unresponsive_ttl", 0.1, &vdSampling.ttl_us, error) < 0 ||
        vdVmSamplingSeconds("sampling", "block_sample_interval", 0.1,
                            &vdSampling.block_interval_us, error) < 0)
        return -1;
    if (calls < 1 || calls > VD_VM_SAMPLING_CALLS_MAX) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[sampling] max_concurrent_calls must be 1..%d, not %" G_GINT64_FORMAT,
                    VD_VM_SAMPLING_CALLS_MAX, calls);
        return -1;
    }
    vdSampling.max_calls = (guint)calls;
    vdSampling.nowait = vdConfigGetBool("vars", "nowait_domain_stats");
    vdSampling.pool = g_thread_pool_new(vdVmSamplingRun, NULL, VD_VM_SAMPLING_MAX_THREADS, FALSE,
                                        error);
    if (!vdSampling.pool)
        return -1;

    g_mutex_lock(&vdSampling.lock);
    vdSampling.vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, vdVmEntryFree);
    vdSampling.outstanding = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmCallUnref);
    vdSampling.stopping = FALSE;
    vdSampling.last_block_us = G_MININT64 / 2;
    /* The first sample at once, so stats exist one call after start. */
    vdSampling.tick_running = TRUE;
    g_mutex_unlock(&vdSampling.lock);
    g_thread_pool_push(vdSampling.pool, &vdVmSamplingTickJob, NULL);

    ctx = g_main_context_ref_thread_default();
    vdSampling.timer = g_timeout_source_new((guint)(vdSampling.interval_us / 1000));
    g_source_set_callback(vdSampling.timer, vdVmSamplingTimer, NULL, NULL);
    g_source_set_static_name(vdSampling.timer, "vm-sampling");
    g_source_attach(vdSampling.timer, ctx);
    g_info("VM sampling every %.1f s (%u concurrent calls, block stats every %.1f s, "
           "unresponsive after %.1f s)",
           vdSampling.interval_us / 1e6, vdSampling.max_calls,
           vdSampling.block_interval_us / 1e6, vdSampling.cmd_timeout_us / 1e6);
    return 0;
}

void
vdVmSamplingStop(void)
{
    gboolean busy;

    if (!vdSampling.pool)
        return;
    if (vdSampling.timer) {
        g_source_destroy(vdSampling.timer);
        g_clear_pointer(&vdSampling.timer, g_source_unref);
    }
    g_mutex_lock(&vdSampling.lock);
    vdSampling.stopping = TRUE;
    g_cond_broadcast(&vdSampling.cond);
    g_mutex_unlock(&vdSampling.lock);
    /* Queued jobs are dropped; running ones finish on their own (a call
     * stuck in libvirt may never), so do not wait for them. */
    g_thread_pool_free(vdSampling.pool, TRUE, FALSE);
    vdSampling.pool = NULL;

    g_mutex_lock(&vdSampling.lock);
    busy = vdSampling.tick_running || vdSampling.outstanding->len > 0;
    if (!busy) {
        g_clear_pointer(&vdSampling.vms, g_hash_table_unref);
        g_clear_pointer(&vdSampling.outstanding, g_ptr_array_unref);
    }
    g_mutex_unlock(&vdSampling.lock);
    /* When busy, the cache stays for the calls still running: they store
     * into it and leave; the process is exiting anyway. */
}

/* ---- readers ---------------------------------------------------------------- */

void
vdVmSamplingAddStats(const char *id, json_object *stats)
{
    VdVmEntry *e;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms && id ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e && e->win[1])
        vdVmStatsAdd(stats, e->win[0], e->win[1], e->bwin[0], e->bwin[1], e->dev);
    g_mutex_unlock(&vdSampling.lock);
}

gboolean
vdVmSamplingResponsive(const char *id)
{
    VdVmEntry *e;
    gboolean ok = TRUE;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms && id ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e)
        ok = vdVmEntryResponsiveLocked(e, g_get_monotonic_time());
    g_mutex_unlock(&vdSampling.lock);
    return ok;
}

void
vdVmSamplingInvalidate(const char *id)
{
    VdVmEntry *e;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms && id ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e)
        e->dev_stale = TRUE;
    g_mutex_unlock(&vdSampling.lock);
}

void
vdVmSamplingSnapFree(VdVmSamplingSnap *snap)
{
    if (!snap)
        return;
    g_free(snap->id);
    g_free(snap->name);
    vdVmSampleUnref(snap->first);
    vdVmSampleUnref(snap->last);
    vdVmSampleUnref(snap->bfirst);
    vdVmSampleUnref(snap->blast);
    g_free(snap);
}

VdVmSamplingSnap *
vdVmSamplingSnapGet(const char *id)
{
    VdVmSamplingSnap *snap = NULL;
    VdVmEntry *e;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms && id ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e) {
        snap = g_new0(VdVmSamplingSnap, 1);
        snap->id = g_strdup(e->id);
        snap->name = g_strdup(e->name);
        snap->first = vdVmSampleRef(e->win[0]);
        snap->last = vdVmSampleRef(e->win[1]);
        snap->bfirst = vdVmSampleRef(e->bwin[0]);
        snap->blast = vdVmSampleRef(e->bwin[1]);
        snap->responsive = vdVmEntryResponsiveLocked(e, g_get_monotonic_time());
        snap->last_seen_us = e->win[1] ? e->win[1]->mono_us : e->first_seen_us;
    }
    g_mutex_unlock(&vdSampling.lock);
    return snap;
}

void
vdVmSamplingGetFigures(VdVmSamplingFigures *out)
{
    g_mutex_lock(&vdSampling.lock);
    *out = vdSampling.fig;
    out->cache_bytes = 0;
    if (vdSampling.vms) {
        GHashTableIter it;
        gpointer value;
        GHashTable *seen = g_hash_table_new(NULL, NULL);

        out->vms = g_hash_table_size(vdSampling.vms);
        g_hash_table_iter_init(&it, vdSampling.vms);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            VdVmEntry *e = value;
            VdVmSample *all[4] = { e->win[0], e->win[1], e->bwin[0], e->bwin[1] };

            out->cache_bytes += sizeof(*e) + strlen(e->id) + 1 + (e->name ? strlen(e->name) : 0);
            for (guint i = 0; i < 4; i++) {
                /* a block sample is in both windows: count it once */
                if (all[i] && g_hash_table_add(seen, all[i]))
                    out->cache_bytes += vdVmSampleSize(all[i]);
            }
            if (e->dev)
                out->cache_bytes += vdVmDevInfoSize(e->dev);
        }
        g_hash_table_unref(seen);
    }
    g_mutex_unlock(&vdSampling.lock);
}
