/* vm-sampling.c - see vm-sampling.h for the threads and the cache.
 *
 * Functions ending in Locked run with vdSampling.lock held; *OnMain run
 * on the main loop; vdVmSamplingTickRun and vdVmCallRun run on the
 * sampler threads.  The lock is never held across a libvirt call.
 */
#include "vm-sampling.h"

#include "config.h"
#include "libvirt-conn.h"
#include "main-call.h"
#include "vd-error.h"
#include "vm-table.h"
#include "workers.h"

#include <errno.h>
#include <glib-unix.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* Longest accepted interval or timeout, seconds (one day). */
#define VD_VM_SAMPLING_SECONDS_MAX 86400
/* Largest accepted [sampling] max_concurrent_calls. */
#define VD_VM_SAMPLING_CALLS_MAX 8
/* Fewest domains worth a call of their own: with fewer, one more
 * concurrent call costs more (a thread hop, a round trip) than it saves. */
#define VD_VM_SAMPLING_MIN_PER_CALL 8
/* Shortest gap between two samples for "no CPU time in between" to mean
 * that a running VM's QEMU is not running. */
#define VD_VM_SAMPLING_FROZEN_MIN_US (G_USEC_PER_SEC / 2)
/* Consecutive such samples after which the VM is unresponsive even when
 * its monitor is free. */
#define VD_VM_SAMPLING_FROZEN_MAX 2
/* The active domains are listed again at least this often even when no
 * lifecycle event said the set changed.  Only a fallback: the VM layer
 * says so on every start and stop event and whenever its connection comes
 * back (events may have been lost while it was down), and a listing of
 * 100 domains costs about half a tick's CPU (it was every 60 s, every 4th
 * tick at the default interval). */
#define VD_VM_SAMPLING_RELIST_US (600 * G_USEC_PER_SEC)
/* Sampler threads that may stat() disk images at once.  A stat() blocks
 * for as long as the storage does (an unreachable NFS server: forever on a
 * hard mount), so it runs after the VMs' samples are stored, and no more
 * than this many threads can hang in it; the other VMs keep their last
 * sizes meanwhile. */
#define VD_VM_SAMPLING_SIZERS_MAX 2
/* Domain XMLs read per tick at most (new VMs, hot-plugged NICs). */
#define VD_VM_SAMPLING_XML_PER_TICK 16
/* How much longer libvirtd takes for a domain with the slow groups than
 * without (measured: 2.8x the wall time at N = 100, docs/benchmarks-stats.md):
 * a tick gives its block domains that many more calls. */
#define VD_VM_SAMPLING_BLOCK_WEIGHT 3

/* The groups VDSM's stats use (vdsm-facts §4.3), split by how often they
 * change: every tick the ones behind rates and balloon figures; on block
 * ticks also BLOCK (the most expensive group) and VCPU (only vcpu.current
 * is used, and it costs a QEMU round trip per VM). */
#define VD_VM_SAMPLING_GROUPS                                                                      \
    (VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |              \
     VIR_DOMAIN_STATS_INTERFACE)
#define VD_VM_SAMPLING_SLOW_GROUPS (VIR_DOMAIN_STATS_BLOCK | VIR_DOMAIN_STATS_VCPU)

/* The active domains as listed once, with what the sampler needs of each
 * read once: every public virDomain getter (and virDomainFree) formats the
 * UUID for libvirt's debug log whether or not it is enabled, which cost
 * more than parsing the stats when done per domain and tick.  Shared by
 * the tick and its calls; the domains are freed with the last reference. */
typedef struct {
    gint ref;
    int n;
    virDomainPtr *doms;     /* one reference each */
    char **ids;             /* UUID strings ("" when unreadable) */
    char **names;
    int *dom_ids;
    unsigned char (*uuids)[VIR_UUID_BUFLEN];
    virConnectPtr conn;     /* kept alive by the domains' references */
    guint serial;           /* distinct for each listing made */
    /* The tick's listing only: each domain's cache entry, found by the
     * first tick that used it, for the next ones (tick only, one at a
     * time; NULL until then).  Entries leave the cache only in a tick, and
     * only those its listing does not have, so these stay valid while it
     * is the tick's. */
    struct VdVmEntry **entries;
} VdVmListing;

typedef struct VdVmEntry VdVmEntry;

struct VdVmEntry {
    char *id;
    char *name;
    guint named_by;         /* serial of the listing @name was last compared with */
    int dom_id;             /* libvirt runtime id: a new run starts a new window */
    guint seen_gen;         /* last tick that listed it */
    gint64 first_seen_us;
    VdVmSample *win[2];     /* [0] older, [1] newer */
    VdVmSample *bwin[2];    /* the same for samples with block stats */
    /* Of win[1], kept here so that storing a sample and evaluating
     * monitorResponse do not read the previous sample (by then, after a
     * libvirt call, rarely in the CPU's cache): its time (0: none), and
     * its cpu.time when it has one and the VM was running. */
    gint64 newest_us;
    guint64 newest_cpu;
    gboolean newest_cpu_ok;
    VdVmDevInfo *dev;
    /* @dev is to be read again while they differ: a change bumps
     * dev_want, a read stores the dev_want it started from (a change
     * during the read is not lost). */
    guint dev_want, dev_have;
    VdVmDiskSizes *sizes;   /* the disks' images as last stat()ed, or NULL */
    gboolean sizing;        /* a sampler thread stat()s its disks right now */
    guint64 nics_known;     /* nic_sig of samples whose NICs @dev knows; 0: none checked */
    gint64 skip_until_us;   /* unresponsive: not asked before then; 0: asked */
    gboolean timed_out;     /* a call on it timed out; cleared when it answers */
    /* A VM-layer call on it timed out: the monitor is checked before the
     * VM is asked again, and until a check finds it free a sample does
     * not clear @timed_out (with NOWAIT a VM whose job is held answers
     * with what needs no QEMU). */
    gboolean check_monitor;
    guint frozen;           /* consecutive samples in which a running VM got no CPU */
    gboolean published_ok;  /* monitorResponse as last evaluated */
    guint busy;             /* outstanding calls that cover it, not declared stuck */
    /* Calls that hold a pointer to it (from their launch to the end of
     * their run), and whether it has left the cache meanwhile: it is freed
     * by the last of them then (vdVmEntryDropLocked). */
    guint pins;
    gboolean gone;
};

/* One tick's calls: the tick is complete (a full sample of all VMs) when
 * the last of them returns. */
typedef struct {
    gint ref;
    gint64 start_us;
    gboolean block;         /* asked for the slow groups */
    gboolean reask;         /* a stuck call's other domains, asked again: not a sample */
    gboolean armed;         /* in the deadline's list (a reference; under the lock) */
    gint64 due_us;          /* when the deadline looks at it (under the lock) */
    GPtrArray *calls;       /* VdVmCall* still in libvirt (a reference each; under the lock) */
} VdVmTick;

typedef struct {
    gint ref;
    virDomainPtr *doms;     /* NULL-terminated; @listing's */
    VdVmEntry **entries;    /* each domain's cache entry (pinned), or NULL */
    VdVmListing *listing;   /* a reference: it holds the domains, ids and names */
    const char **ids;       /* @listing's */
    const char **names;     /* @listing's (virDomainGetName of each domain) */
    guint n;
    guint cap;              /* domains the block has room for */
    unsigned int groups;
    gint64 start_us;
    gboolean done;          /* under the lock */
    gboolean stuck;         /* under the lock: declared stuck at a deadline */
    gboolean slow;          /* under the lock: late with every QEMU answering */
    guint check_from;       /* deadline thread: where the last check found the call */
    VdVmTick *tick;         /* the tick it belongs to (a reference), or NULL */
    /* The thread that runs it: what its domains answered, by place (in the
     * call's own block, with the arrays above: one allocation per call). */
    VdVmSample *samples[];
} VdVmCall;

/* What the sampler threads run. */
typedef enum {
    VD_VM_JOB_TICK,     /* data: VdVmTick* (a reference) */
    VD_VM_JOB_CALL,     /* data: VdVmCall* (a reference) */
    VD_VM_JOB_DEADLINE, /* data: VdVmTick* (a reference) */
} VdVmJobKind;

typedef struct {
    VdVmJobKind kind;
    gpointer data;
} VdVmJob;

/* A sampler connection, counted by the sampler itself: taking and dropping
 * a libvirt reference (virConnectRef/virConnectClose) around every use
 * cost more than the rest of the tick's set-up (each public libvirt call
 * resets the thread's error and passes the debug log's filters). */
typedef struct {
    gint ref;
    virConnectPtr conn; /* one libvirt reference, dropped with the last of ours */
} VdVmConn;

static VdVmConn *
vdVmConnRef(VdVmConn *c)
{
    g_atomic_int_inc(&c->ref);
    return c;
}

static void
vdVmConnUnref(VdVmConn *c)
{
    if (!c || !g_atomic_int_dec_and_test(&c->ref))
        return;
    virConnectClose(c->conn);
    g_free(c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmConn, vdVmConnUnref)

/* One of the sampler's connections (under the lock). */
typedef struct {
    VdVmConn *conn;
    gint doubt_seen; /* vdSampling.doubt when it was last found alive */
} VdVmConnSlot;

static struct {
    GMutex lock;
    /* Blocks of calls that ended, for the next calls (vdVmCallAlloc). */
    GMutex call_cache_lock;
    VdVmCall *call_cache[4];
    guint call_cache_len;
    GMutex open_lock;       /* held while a connection is opened (never with lock) */
    GHashTable *vms;        /* id -> VdVmEntry* */
    GPtrArray *outstanding; /* VdVmCall* (a reference each) still in libvirt */
    VdWorkers *pool;        /* the sampler threads */
    GMainContext *ctx;      /* the main loop's, for the timers */
    /* The sampler's own libvirt connections (see "Connections" below). */
    VdVmConnSlot sample_conn;
    VdVmConnSlot control_conn;
    gint doubt; /* atomic: bumped by every failed libvirt call of the sampler */
    /* The clock: a sampler thread that finished its job waits on
     * clock_cond until the next tick is due and runs it ("the clock"
     * below); the watchdog, a timerfd on the main loop, starts a tick
     * only when no thread did so within half an interval of its time. */
    GCond clock_cond;
    gboolean clock_held;    /* a sampler thread waits for the next tick */
    gint64 next_tick_us;    /* when the next tick is due (monotonic) */
    GSource *watchdog;
    int watchdog_fd;
    /* The deadline: one timerfd on the main loop for every tick whose
     * calls may still be in libvirt ("the deadline" below). */
    GSource *deadline;
    int deadline_fd;
    gint64 deadline_at;     /* programmed expiry (monotonic µs), 0: disarmed */
    GPtrArray *armed;       /* VdVmTick* (a reference each), under the lock */
    gboolean tick_running;
    /* The running tick's per-domain arrays (tick only), kept from tick to
     * tick: made afresh, they were among the first allocations after a
     * call had freed its records, which is when glibc's are slowest. */
    guint8 *tick_flags;
    guint *tick_order;
    guint tick_cap;
    guint skipped_in_row;
    gboolean stopping;
    guint gen;
    gint64 last_block_us;
    /* The active domains as last listed (tick only: one tick at a time),
     * reused while no lifecycle event changed domains_gen. */
    VdVmListing *listing;
    guint listed_gen;
    gint64 listed_us;
    gint domains_gen; /* atomic: bumped by vdVmSamplingDomainsChanged */
    /* The control connection's domains as last listed, for the checks
     * (any sampler thread; the pointer under the lock). */
    VdVmListing *ctl_listing;
    guint ctl_gen;
    gint64 ctl_us;
    VdVmSamplingFigures fig;
    /* Wall time per domain of the calls that returned lately (moving
     * average, microseconds; [1]: with the slow groups), for how long a
     * call may run before it is looked at (under the lock). */
    gint64 per_dom_us[2];
    /* configuration, fixed at start */
    gint64 interval_us, cmd_timeout_us, call_timeout_us, ttl_us, block_interval_us;
    guint max_calls;
    gboolean nowait;
    const char *name_prefix; /* [devel] sample_name_prefix, "" for all */
} vdSampling;

static void vdVmSamplingPush(VdVmJobKind kind, gpointer data);
static VdVmTick *vdVmSamplingClockWait(void);

/* ---- entries ------------------------------------------------------------ */

static void
vdVmEntryResetLocked(VdVmEntry *e)
{
    for (guint i = 0; i < 2; i++) {
        g_clear_pointer(&e->win[i], vdVmSampleUnref);
        g_clear_pointer(&e->bwin[i], vdVmSampleUnref);
    }
    e->newest_us = 0;
    e->newest_cpu_ok = FALSE;
    g_clear_pointer(&e->dev, vdVmDevInfoFree);
    g_clear_pointer(&e->sizes, vdVmDiskSizesUnref);
    e->nics_known = 0;
    e->timed_out = FALSE;
    e->check_monitor = FALSE;
    e->skip_until_us = 0;
    e->frozen = 0;
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

/* @e has left the cache (lock held): freed now, or by the last call that
 * holds it. */
static void
vdVmEntryDropLocked(VdVmEntry *e)
{
    if (e->pins)
        e->gone = TRUE;
    else
        vdVmEntryFree(e);
}

/* A call no longer holds @e (lock held). */
static void
vdVmEntryUnpinLocked(VdVmEntry *e)
{
    if (--e->pins == 0 && e->gone)
        vdVmEntryFree(e);
}

static gboolean
vdVmEntryResponsiveLocked(const VdVmEntry *e, gint64 now)
{
    gint64 seen;

    if (e->timed_out)
        return FALSE;
    seen = e->newest_us ? e->newest_us : e->first_seen_us;
    return now - seen <= vdSampling.cmd_timeout_us;
}

/* Re-evaluate @e's monitorResponse; when it changed, its id goes to
 * *@changed (made for the first change).  Returns the value. */
static gboolean
vdVmEntryEvaluateLocked(VdVmEntry *e, gint64 now, GPtrArray **changed)
{
    gboolean ok = vdVmEntryResponsiveLocked(e, now);

    if (ok != e->published_ok) {
        e->published_ok = ok;
        if (ok && vdSampling.fig.unresponsive > 0)
            vdSampling.fig.unresponsive--;
        else if (!ok)
            vdSampling.fig.unresponsive++;
        if (!*changed)
            *changed = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(*changed, g_strdup(e->id));
    }
    return ok;
}

/* Re-evaluate monitorResponse of every VM; returns the ids whose value
 * changed (NULL when none did). */
static GPtrArray *
vdVmSamplingEvaluateLocked(gint64 now)
{
    GPtrArray *changed = NULL;
    GHashTableIter it;
    gpointer value;
    guint unresponsive = 0;

    if (!vdSampling.vms)
        return NULL;
    g_hash_table_iter_init(&it, vdSampling.vms);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        if (!vdVmEntryEvaluateLocked(value, now, &changed))
            unresponsive++;
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
    for (guint i = 0; changed && i < changed->len; i++)
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

/* A running VM whose QEMU got no CPU time at all since the previous
 * sample (at least VD_VM_SAMPLING_FROZEN_MIN_US before) is not running:
 * stopped, or stuck in the kernel.  Its stats may still come back (with
 * NOWAIT, from whatever needs no QEMU) when another client holds its job. */
static gboolean
vdVmEntryFrozenLocked(const VdVmEntry *e, const VdVmSample *sample)
{
    return e->newest_us && e->newest_cpu_ok && (sample->have & VD_VM_HAVE_CPU) &&
           (sample->have & VD_VM_HAVE_STATE) && sample->state == VIR_DOMAIN_RUNNING &&
           sample->mono_us - e->newest_us >= VD_VM_SAMPLING_FROZEN_MIN_US &&
           sample->cpu_time == e->newest_cpu;
}

/* Whether @e's device info knows every NIC of @sample (hot-plugged ones
 * make it read the domain XML again). */
static gboolean
vdVmEntryNicsKnownLocked(VdVmEntry *e, const VdVmSample *sample)
{
    if (sample->nic_sig == e->nics_known)
        return TRUE; /* the same NICs as a sample checked before */
    for (guint i = 0; i < sample->n_nics; i++) {
        gboolean known = FALSE;

        for (guint j = 0; j < e->dev->nics->len && !known; j++) {
            const VdVmNicInfo *n = g_ptr_array_index(e->dev->nics, j);

            known = g_strcmp0(n->name, sample->nics[i].name) == 0;
        }
        if (!known)
            return FALSE;
    }
    e->nics_known = sample->nic_sig;
    return TRUE;
}

static void
vdVmEntryStoreLocked(VdVmEntry *e, VdVmSample *sample)
{
    if (e->newest_us && sample->mono_us <= e->newest_us) {
        /* Taken before the newest one: a call that was stuck.  It
         * returned, so the QEMU answered: whatever timed out is over. */
        vdSampling.fig.samples_dropped++;
        e->timed_out = FALSE;
        e->check_monitor = FALSE;
        e->skip_until_us = 0;
        return;
    }
    if (vdVmEntryFrozenLocked(e, sample)) {
        /* Not an answer from QEMU: the tick checks its monitor. */
        e->frozen++;
    } else {
        e->frozen = 0;
        if (!e->check_monitor)
            e->timed_out = FALSE;
        e->skip_until_us = 0;
    }
    vdVmWindowPushLocked(e->win, sample);
    e->newest_us = sample->mono_us;
    e->newest_cpu = sample->cpu_time;
    e->newest_cpu_ok = (sample->have & VD_VM_HAVE_CPU) != 0;
    vdSampling.fig.vm_samples++;
    if (sample->have & VD_VM_HAVE_BLOCK)
        vdVmWindowPushLocked(e->bwin, sample);
    if (e->dev && e->dev_want == e->dev_have && !vdVmEntryNicsKnownLocked(e, sample))
        e->dev_want++;
}

/* ---- connections ----------------------------------------------------------
 *
 * The sampler does not use the VM layer's connection: libvirtd serves at
 * most max_client_requests (5) calls of one connection at a time, so a
 * stats call stuck on a stopped QEMU, plus the concurrent calls of the next
 * ticks, would soon block every libvirt call of the daemon.  Instead:
 *   - the sample connection carries the tick's domain list, the bulk calls
 *     and the XML reads.  When one of its calls gets stuck it is dropped
 *     (the stuck call keeps it alive until it returns) and the next user
 *     opens a fresh one, so stuck calls never fill a connection that
 *     others use;
 *   - the control connection carries only virDomainGetControlInfo, which
 *     never waits on QEMU, so it never has a stuck call.
 * Either is reopened when libvirt closed it (libvirtd restarted).  Neither is
 * watched by libvirt's event loop (vdLibvirtOpenUnwatched): no keepalive
 * pings on these mostly idle connections and no wake-up of the event thread
 * around every call; a libvirtd that went away fails the next call, and
 * virConnectIsAlive, asked after any failed call, says so at the next use. */

/* A libvirt call of the sampler failed: the next use of each connection
 * asks virConnectIsAlive first.  Any thread. */
static void
vdVmSamplingDoubt(void)
{
    g_atomic_int_inc(&vdSampling.doubt);
}

/* A new reference to the connection of @slot, (re)opened when missing or
 * dead.  Whether it is dead is asked only after a sampler call failed
 * since the last time (virConnectIsAlive locks the connection's client,
 * which a call in progress holds: the largest part of the tick's set-up
 * in a profile).  Any sampler thread. */
static VdVmConn *
vdVmSamplingConnGet(VdVmConnSlot *slot, GError **error)
{
    VdVmConn *conn = NULL;
    virConnectPtr opened;
    gint doubt = g_atomic_int_get(&vdSampling.doubt);

    g_mutex_lock(&vdSampling.lock);
    if (slot->conn && slot->doubt_seen != doubt) {
        if (virConnectIsAlive(slot->conn->conn) != 1)
            g_clear_pointer(&slot->conn, vdVmConnUnref);
        else
            slot->doubt_seen = doubt;
    }
    if (slot->conn)
        conn = vdVmConnRef(slot->conn);
    g_mutex_unlock(&vdSampling.lock);
    if (conn)
        return conn;

    /* Opened outside the lock (libvirtd may be slow to answer), one at a
     * time: threads that need a connection while one is being opened wait
     * for it instead of opening their own. */
    g_mutex_lock(&vdSampling.open_lock);
    g_mutex_lock(&vdSampling.lock);
    if (slot->conn)
        conn = vdVmConnRef(slot->conn);
    g_mutex_unlock(&vdSampling.lock);
    if (!conn && (opened = vdLibvirtOpenUnwatched(error))) {
        conn = g_new0(VdVmConn, 1);
        conn->ref = 1;
        conn->conn = opened;
        g_mutex_lock(&vdSampling.lock);
        vdSampling.fig.connections++;
        if (!slot->conn && !vdSampling.stopping) {
            slot->conn = vdVmConnRef(conn);
            slot->doubt_seen = doubt;
        }
        g_mutex_unlock(&vdSampling.lock);
    }
    g_mutex_unlock(&vdSampling.open_lock);
    return conn;
}

/* A call on @conn is stuck: later calls go to a new sample connection. */
static void
vdVmSamplingConnTaint(virConnectPtr conn)
{
    g_mutex_lock(&vdSampling.lock);
    if (vdSampling.sample_conn.conn && vdSampling.sample_conn.conn->conn == conn) {
        g_debug("VM sampling: a call is stuck; the next calls use a new connection");
        g_clear_pointer(&vdSampling.sample_conn.conn, vdVmConnUnref);
    }
    g_mutex_unlock(&vdSampling.lock);
}

/* ---- ticks and calls ------------------------------------------------------ */

static VdVmTick *
vdVmTickNew(gint64 start_us)
{
    VdVmTick *t = g_new0(VdVmTick, 1);

    t->ref = 1;
    t->start_us = start_us;
    t->calls = g_ptr_array_new();
    return t;
}

static void vdVmCallUnref(VdVmCall *c);

static void
vdVmTickUnref(VdVmTick *t)
{
    if (!t || !g_atomic_int_dec_and_test(&t->ref))
        return;
    g_ptr_array_set_free_func(t->calls, (GDestroyNotify)vdVmCallUnref);
    g_ptr_array_unref(t->calls);
    g_free(t);
}

/* ---- the deadline ------------------------------------------------------------
 * One timerfd on the main loop stands for the deadlines of all ticks with
 * calls in libvirt: it is programmed for the earliest, from any thread,
 * and disarmed when the last of those ticks completes.  Programming a
 * timerfd does not wake the main loop (a GLib timeout attached or
 * destroyed from another thread would), so a tick whose calls all return
 * in time costs the main loop no wake-up at all; only a call still in
 * libvirt at its deadline does. */

/* Program the timerfd @fd to expire at @at (monotonic µs: CLOCK_MONOTONIC
 * is the timerfd's clock); @what names it in a warning. */
static void
vdVmSamplingTimerfdSet(int fd, gint64 at, const char *what)
{
    struct itimerspec its = { 0 };

    its.it_value.tv_sec = at / G_USEC_PER_SEC;
    its.it_value.tv_nsec = (at % G_USEC_PER_SEC) * 1000;
    if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        g_warning("VM sampling: cannot set the %s: %s", what, g_strerror(errno));
}

/* Program the timerfd for the earliest tick due, or disarm it (lock held). */
static void
vdVmSamplingDeadlineProgramLocked(void)
{
    gint64 at = 0;

    for (guint i = 0; vdSampling.armed && i < vdSampling.armed->len; i++) {
        const VdVmTick *t = g_ptr_array_index(vdSampling.armed, i);

        if (at == 0 || t->due_us < at)
            at = MAX(t->due_us, 1); /* an absolute 0 would disarm it */
    }
    if (!vdSampling.deadline || at == vdSampling.deadline_at)
        return;
    vdSampling.deadline_at = at;
    vdVmSamplingTimerfdSet(vdSampling.deadline_fd, at, "deadline timer");
}

/* Look at tick @t's calls still in libvirt in @delay_us (lock held, any
 * thread; the main loop is not woken before then). */
static void
vdVmSamplingArmDeadlineInLocked(VdVmTick *t, gint64 delay_us)
{
    if (!vdSampling.armed)
        return; /* stopped */
    t->due_us = g_get_monotonic_time() + MAX(delay_us, 1000);
    if (!t->armed) {
        t->armed = TRUE;
        g_atomic_int_inc(&t->ref);
        g_ptr_array_add(vdSampling.armed, t);
    }
    vdVmSamplingDeadlineProgramLocked();
}

/* The same in stats_call_timeout. */
static void
vdVmSamplingArmDeadlineLocked(VdVmTick *t)
{
    vdVmSamplingArmDeadlineInLocked(t, vdSampling.call_timeout_us);
}

/* Tick @t has no call in libvirt left (lock held): the deadline forgets
 * it.  The reference dropped is never the last (the caller holds one). */
static void
vdVmSamplingDisarmDeadlineLocked(VdVmTick *t)
{
    guint i;

    if (!t->armed)
        return;
    t->armed = FALSE;
    if (g_ptr_array_find(vdSampling.armed, t, &i))
        vdVmTickUnref(g_ptr_array_steal_index_fast(vdSampling.armed, i));
    vdVmSamplingDeadlineProgramLocked();
}

/* A tick's last call returned (lock held): a full sample is done. */
static void
vdVmTickCompleteLocked(VdVmTick *t)
{
    gint64 wall = g_get_monotonic_time() - t->start_us;

    vdVmSamplingDisarmDeadlineLocked(t);
    if (t->reask)
        return;
    vdSampling.fig.ticks++;
    vdSampling.fig.last_tick_us = wall;
    vdSampling.fig.tick_us_total += wall;
    vdSampling.fig.last_tick_end_mono = g_get_monotonic_time();
    if (t->block) {
        vdSampling.fig.block_ticks++;
        vdSampling.fig.block_tick_us_total += wall;
    }
}

/* The 16 bytes of a UUID string (libvirt's form, dashes optional);
 * FALSE (zeros) when it is not one. */
static gboolean
vdVmUuidParse(const char *str, unsigned char out[VIR_UUID_BUFLEN])
{
    guint k = 0;

    memset(out, 0, VIR_UUID_BUFLEN);
    for (const char *p = str; *p && k < 2 * VIR_UUID_BUFLEN; p++) {
        int v = g_ascii_xdigit_value(*p);

        if (*p == '-')
            continue;
        if (v < 0)
            return FALSE;
        out[k / 2] |= (unsigned char)(k % 2 ? v : v << 4);
        k++;
    }
    return k == 2 * VIR_UUID_BUFLEN;
}

static VdVmListing *
vdVmListingRef(VdVmListing *l)
{
    g_atomic_int_inc(&l->ref);
    return l;
}

static void
vdVmListingUnref(VdVmListing *l)
{
    if (!l || !g_atomic_int_dec_and_test(&l->ref))
        return;
    for (int i = 0; i < l->n; i++)
        virDomainFree(l->doms[i]);
    g_free(l->doms);
    g_strfreev(l->ids);
    g_strfreev(l->names);
    g_free(l->dom_ids);
    g_free(l->uuids);
    g_free(l->entries);
    g_free(l);
}

static gsize
vdVmCallBlockSize(guint n)
{
    /* the call, samples[n], doms[n + 1], ids[n + 1], names[n + 1], entries[n] */
    return sizeof(VdVmCall) + (5 * (gsize)n + 3) * sizeof(gpointer);
}

/* A call for @n domains: a kept block when one is large enough.  The
 * block is several KiB: made afresh, it was the first large request after
 * the previous call had freed its records, and glibc's malloc sorts all
 * those chunks on such a request (2% of the process in a profile). */
static VdVmCall *
vdVmCallAlloc(guint n)
{
    VdVmCall *c = NULL;
    guint cap = n;

    g_mutex_lock(&vdSampling.call_cache_lock);
    for (guint i = 0; i < vdSampling.call_cache_len; i++) {
        if (vdSampling.call_cache[i]->cap >= n) {
            c = vdSampling.call_cache[i];
            vdSampling.call_cache[i] = vdSampling.call_cache[--vdSampling.call_cache_len];
            break;
        }
    }
    g_mutex_unlock(&vdSampling.call_cache_lock);
    if (c) {
        cap = c->cap;
        memset(c, 0, vdVmCallBlockSize(cap));
    } else {
        /* room for a few more: the number of VMs grows by ones */
        cap = n + n / 8 + 4;
        c = g_malloc0(vdVmCallBlockSize(cap));
    }
    c->cap = cap;
    return c;
}

static void
vdVmCallRecycle(VdVmCall *c)
{
    g_mutex_lock(&vdSampling.call_cache_lock);
    if (vdSampling.call_cache_len < G_N_ELEMENTS(vdSampling.call_cache)) {
        vdSampling.call_cache[vdSampling.call_cache_len++] = c;
        c = NULL;
    }
    g_mutex_unlock(&vdSampling.call_cache_lock);
    g_free(c);
}

/* A call on the domains of @listing at the places @idx (@n of them): it
 * takes a reference to the listing and borrows its domains, ids and
 * names (no copy: building each call's arrays by growing them cost a
 * reallocation, and with it the sorting of the chunks libvirt had just
 * freed, in every tick).  Its entries are set by vdVmCallLaunchLocked. */
static VdVmCall *
vdVmCallNew(VdVmListing *listing, const guint *idx, guint n, unsigned int groups)
{
    VdVmCall *c = vdVmCallAlloc(n);
    guint cap = c->cap;

    c->ref = 1;
    c->n = n;
    c->listing = vdVmListingRef(listing);
    c->doms = (virDomainPtr *)(c->samples + cap);
    c->ids = (const char **)(c->doms + cap + 1);
    c->names = c->ids + cap + 1;
    c->entries = (VdVmEntry **)(c->names + cap + 1);
    for (guint i = 0; i < n; i++) {
        c->doms[i] = listing->doms[idx[i]];
        c->ids[i] = listing->ids[idx[i]];
        c->names[i] = listing->names[idx[i]];
    }
    c->doms[n] = NULL;
    c->ids[n] = c->names[n] = NULL;
    c->groups = groups;
    return c;
}

/* Still in libvirt, and no deadline declared it stuck (lock held): a
 * deadline has to look at it. */
static gboolean
vdVmCallLateLocked(const VdVmCall *c)
{
    return !c->done && !c->stuck;
}

static void
vdVmCallUnref(VdVmCall *c)
{
    if (!c || !g_atomic_int_dec_and_test(&c->ref))
        return;
    vdVmListingUnref(c->listing);
    vdVmTickUnref(c->tick);
    vdVmCallRecycle(c);
}

/* Which of @c's domains a returned record is (-1: none); @hint first:
 * libvirt returns the records in the order asked, leaving out the
 * domains that failed.  By name: a record is one of the domains asked
 * for (libvirtd looks them up by UUID), and active domains have distinct
 * names; virDomainGetUUID formats the UUID for libvirt's debug log on
 * every call (4% of the pool threads' CPU in a profile). */
static int
vdVmCallFind(const VdVmCall *c, const char *name, guint hint)
{
    for (guint k = 0; name && k < c->n; k++) {
        guint j = (hint + k) % c->n;

        if (g_strcmp0(c->names[j], name) == 0)
            return (int)j;
    }
    return -1;
}

/* The place of the domain with @uuid in @l, or -1. */
static int
vdVmListingFind(const VdVmListing *l, const unsigned char uuid[VIR_UUID_BUFLEN])
{
    for (int i = 0; i < l->n; i++) {
        if (memcmp(l->uuids[i], uuid, VIR_UUID_BUFLEN) == 0)
            return i;
    }
    return -1;
}

static VdVmListing *vdVmListingNew(virConnectPtr conn);

/* A reference to the listing of the control connection @conn, listed
 * again under the same rules as the tick's (a domain started or stopped,
 * the connection changed, VD_VM_SAMPLING_RELIST_US passed): a check then
 * costs one libvirt call, not a lookup by UUID as well.  NULL when libvirt
 * does not answer. */
static VdVmListing *
vdVmSamplingControlListing(virConnectPtr conn)
{
    guint gen = (guint)g_atomic_int_get(&vdSampling.domains_gen);
    gint64 now = g_get_monotonic_time();
    VdVmListing *l = NULL, *old;

    g_mutex_lock(&vdSampling.lock);
    if (vdSampling.ctl_listing && vdSampling.ctl_listing->conn == conn &&
        vdSampling.ctl_gen == gen && now - vdSampling.ctl_us < VD_VM_SAMPLING_RELIST_US)
        l = vdVmListingRef(vdSampling.ctl_listing);
    g_mutex_unlock(&vdSampling.lock);
    if (l)
        return l;
    if (!(l = vdVmListingNew(conn)))
        return NULL;
    g_mutex_lock(&vdSampling.lock);
    old = g_steal_pointer(&vdSampling.ctl_listing);
    if (!vdSampling.stopping) {
        vdSampling.ctl_listing = vdVmListingRef(l);
        vdSampling.ctl_gen = gen;
        vdSampling.ctl_us = now;
    }
    g_mutex_unlock(&vdSampling.lock);
    vdVmListingUnref(old);
    return l;
}

/* The state of the QEMU monitor of domain @id, as a late call sees it. */
typedef enum {
    VD_VM_MON_FREE,   /* free, or unknown (gone, libvirt down) */
    VD_VM_MON_BUSY,   /* in a command for less than the bound */
    VD_VM_MON_STUCK,  /* in a command for at least the bound, or unusable */
} VdVmMonitor;

static VdVmMonitor
vdVmDomainMonitor(const char *id, gint64 busy_ms)
{
    g_autoptr(VdVmConn) conn = vdVmSamplingConnGet(&vdSampling.control_conn, NULL);
    VdVmListing *l = conn ? vdVmSamplingControlListing(conn->conn) : NULL;
    g_autoptr(virDomain) dom = NULL;
    unsigned char uuid[VIR_UUID_BUFLEN];
    virDomainControlInfo info;
    int k = -1;
    int rc;

    if (l && vdVmUuidParse(id, uuid) && (k = vdVmListingFind(l, uuid)) >= 0)
        dom = l->doms[k];
    else if (conn) /* started since the listing */
        dom = virDomainLookupByUUIDString(conn->conn, id);
    rc = dom ? virDomainGetControlInfo(dom, &info, 0) : -1;
    if (rc < 0 && conn)
        vdVmSamplingDoubt(); /* gone, or the connection with it */
    if (dom) {
        g_mutex_lock(&vdSampling.lock);
        vdSampling.fig.monitor_checks++;
        g_mutex_unlock(&vdSampling.lock);
    }
    if (k >= 0)
        dom = NULL; /* the listing's */
    vdVmListingUnref(l);
    if (rc < 0)
        return VD_VM_MON_FREE; /* gone or libvirt down: the next tick knows */
    if (info.state == VIR_DOMAIN_CONTROL_ERROR)
        return VD_VM_MON_STUCK;
    if (info.state != VIR_DOMAIN_CONTROL_OCCUPIED)
        return VD_VM_MON_FREE;
    return (gint64)info.stateTime >= busy_ms ? VD_VM_MON_STUCK : VD_VM_MON_BUSY;
}

static void
vdVmSamplingMarkStuck(const char *id, gint64 now)
{
    VdVmEntry *e;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e) {
        if (!e->timed_out)
            g_warning("VM %s (%s): QEMU monitor does not answer; skipped for %.1f s", e->id,
                      e->name, vdSampling.ttl_us / 1e6);
        e->timed_out = TRUE;
        e->skip_until_us = now + vdSampling.ttl_us;
    }
    g_mutex_unlock(&vdSampling.lock);
}

/* Check a domain that may not answer (lock not held): in a call that is
 * still in libvirt, frozen, or at the end of its skip time.  Returns TRUE
 * when it is unresponsive and must not be asked now; @busy (may be NULL)
 * tells whether its monitor is in a command at all. */
static gboolean
vdVmSamplingCheck(const char *id, gint64 busy_ms, gint64 now, gboolean *busy)
{
    VdVmMonitor mon = vdVmDomainMonitor(id, busy_ms);
    gboolean stuck = mon == VD_VM_MON_STUCK;
    VdVmEntry *e;

    if (busy)
        *busy = mon != VD_VM_MON_FREE;
    if (stuck) {
        vdVmSamplingMarkStuck(id, now);
        return TRUE;
    }
    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e) {
        e->skip_until_us = 0;
        e->check_monitor = FALSE; /* not stuck: its next sample shows it answering */
        if (e->frozen >= VD_VM_SAMPLING_FROZEN_MAX && !e->timed_out) {
            /* No CPU time over several samples although its monitor is
             * free: not running.  Asked again every tick, it is "0" again
             * as soon as it runs. */
            g_warning("VM %s (%s): its QEMU got no CPU time in %u samples", e->id, e->name,
                      e->frozen);
            e->timed_out = TRUE;
        }
    }
    g_mutex_unlock(&vdSampling.lock);
    return FALSE;
}

gint64
vdVmSamplingPatience(guint n, gint64 per_dom_us, gint64 call_timeout_us, gint64 cmd_timeout_us)
{
    gint64 most = MAX(call_timeout_us, cmd_timeout_us / 2);
    gint64 expect;

    if (per_dom_us <= 0 || n == 0)
        return call_timeout_us;
    expect = per_dom_us > most / 2 / (gint64)n ? most : 2 * per_dom_us * (gint64)n;
    return CLAMP(expect, call_timeout_us, most);
}

static gint64
vdVmSamplingBusyMs(void)
{
    return vdSampling.call_timeout_us / 1000 / 2;
}

/* After call @c stored its samples and left the outstanding calls: the
 * truesize and apparentsize of the disks of its VMs still pinned, from
 * stat() of their images (VDSM's volume sizes).  A stat() may block for as
 * long as the storage does; here it holds only this thread (the VMs'
 * samples are stored, the call is not in the deadline's view any more),
 * at most VD_VM_SAMPLING_SIZERS_MAX threads do this at once, and a VM
 * whose disks another thread stat()s is left to that one, so hung
 * storage holds at most that many threads and the other VMs keep the
 * sizes they had.  @sizing: whether this thread may (counted in
 * fig.sizers by vdVmCallRun); when not, the VMs are only unpinned and
 * counted as skipped. */
static void
vdVmCallSizeDisks(VdVmCall *c, gboolean sizing)
{
    guint skipped = 0;

    for (guint i = 0; i < c->n; i++) {
        VdVmEntry *e = c->entries[i];
        VdVmDiskSizes *sizes, *old;

        if (!e)
            continue;
        g_mutex_lock(&vdSampling.lock);
        if (!sizing || e->sizing || e->gone) {
            skipped += sizing ? 0 : 1;
            c->entries[i] = NULL;
            vdVmEntryUnpinLocked(e);
            g_mutex_unlock(&vdSampling.lock);
            continue;
        }
        e->sizing = TRUE; /* pinned: it outlives this even when its VM goes */
        g_mutex_unlock(&vdSampling.lock);

        sizes = vdVmDiskSizesStat(c->samples[i]);

        g_mutex_lock(&vdSampling.lock);
        e->sizing = FALSE;
        old = e->sizes;
        e->sizes = sizes;
        c->entries[i] = NULL;
        vdVmEntryUnpinLocked(e);
        g_mutex_unlock(&vdSampling.lock);
        vdVmDiskSizesUnref(old);
    }
    g_mutex_lock(&vdSampling.lock);
    if (sizing)
        vdSampling.fig.sizers--;
    vdSampling.fig.sizings_skipped += skipped;
    g_mutex_unlock(&vdSampling.lock);
    for (guint i = 0; i < c->n; i++)
        g_clear_pointer(&c->samples[i], vdVmSampleUnref);
}

static void
vdVmCallRun(VdVmCall *c)
{
    virDomainStatsRecordPtr *records = NULL;
    unsigned int flags = vdSampling.nowait ? VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT : 0;
    VdVmSample **samples = c->samples; /* by place in the call */
    g_autoptr(GPtrArray) changed = NULL;
    g_autoptr(GArray) frozen = NULL; /* places; made for the first */
    guint hint = 0;
    gint64 start_us, took_us, now;
    gboolean kept = FALSE;   /* VMs kept pinned: their disks to stat() after storing */
    gboolean sizing;         /* this thread may (below) */
    int n;

    /* The call's own start, not its tick's: the samples' time, and what
     * its deadline counts from (a call that a thread starts late, after
     * its tick's set-up, is not late by that much). */
    start_us = g_get_monotonic_time();
    g_mutex_lock(&vdSampling.lock);
    c->start_us = start_us;
    g_mutex_unlock(&vdSampling.lock);
    n = virDomainListGetStats(c->doms, c->groups, &records, flags);
    took_us = g_get_monotonic_time() - start_us;
    if (n < 0) {
        g_debug("bulk stats of %u domains failed: %s", c->n, virGetLastErrorMessage());
        vdVmSamplingDoubt();
    }
    for (int i = 0; i < n; i++) {
        VdVmSample *s;
        int j;

        if ((j = vdVmCallFind(c, virDomainGetName(records[i]->dom), hint)) < 0)
            continue;
        hint = (guint)j + 1;
        s = vdVmSampleParse(records[i]->params, records[i]->nparams, c->groups, start_us);
        vdVmSampleUnref(samples[j]); /* a domain listed twice: the last record */
        samples[j] = s;
    }
    if (records)
        virDomainStatsRecordListFree(records);

    g_mutex_lock(&vdSampling.lock);
    now = g_get_monotonic_time();
    for (guint i = 0; i < c->n; i++) {
        VdVmEntry *e = c->entries[i];

        if (!e)
            continue;
        if (e->busy && !c->stuck) /* a stuck call released them */
            e->busy--;
        if (!e->gone) {
            if (samples[i])
                vdVmEntryStoreLocked(e, samples[i]);
            if (e->frozen > 0 && !e->timed_out) {
                if (!frozen)
                    frozen = g_array_new(FALSE, FALSE, sizeof(guint));
                g_array_append_val(frozen, i);
            }
            /* what it answered is all that changed (the clock evaluates
             * every VM at each due time) */
            vdVmEntryEvaluateLocked(e, now, &changed);
            if (samples[i] && samples[i]->n_disks && (samples[i]->have & VD_VM_HAVE_BLOCK) &&
                !e->sizing) {
                kept = TRUE; /* stays pinned for it */
                continue;
            }
        }
        c->entries[i] = NULL;
        vdVmEntryUnpinLocked(e);
    }
    c->done = TRUE;
    if (n > 0 && !c->stuck) {
        gint64 *avg = &vdSampling.per_dom_us[(c->groups & VD_VM_SAMPLING_SLOW_GROUPS) != 0];
        gint64 per = MAX(took_us / (gint64)c->n, 1);

        *avg = *avg ? (3 * *avg + per) / 4 : per;
    }
    if (c->tick) {
        /* The tick lists only the calls still in libvirt (all its
         * deadline looks at), and a call holds its tick: keeping the
         * returned ones would make a cycle that frees neither. */
        if (g_ptr_array_remove_fast(c->tick->calls, c)) {
            g_atomic_int_add(&c->ref, -1); /* the caller holds another */
            if (c->tick->calls->len == 0)
                vdVmTickCompleteLocked(c->tick);
        }
    }
    g_ptr_array_remove_fast(vdSampling.outstanding, c); /* drops the list's reference */
    /* it may stat() only while fewer than VD_VM_SAMPLING_SIZERS_MAX threads
     * do (the others may hang on their storage); it then counts as one */
    sizing = kept && vdSampling.fig.sizers < VD_VM_SAMPLING_SIZERS_MAX;
    if (sizing)
        vdSampling.fig.sizers++;
    vdSampling.fig.calls_outstanding = vdSampling.outstanding->len;
    g_mutex_unlock(&vdSampling.lock);
    if (!sizing) {
        for (guint i = 0; i < c->n; i++)
            g_clear_pointer(&samples[i], vdVmSampleUnref); /* the windows' now */
    }

    vdVmSamplingPublish(changed);

    /* A running VM that got no CPU: is its monitor stuck behind another
     * client's call (NOWAIT gave what needs no QEMU)? */
    for (guint i = 0; frozen && i < frozen->len; i++) {
        guint j = g_array_index(frozen, guint, i);

        vdVmSamplingCheck(c->ids[j], vdVmSamplingBusyMs(), g_get_monotonic_time(), NULL);
    }
    if (frozen) {
        g_autoptr(GPtrArray) marked = NULL;

        g_mutex_lock(&vdSampling.lock);
        marked = vdVmSamplingEvaluateLocked(g_get_monotonic_time());
        g_mutex_unlock(&vdSampling.lock);
        vdVmSamplingPublish(marked);
    }
    if (kept)
        vdVmCallSizeDisks(c, sizing);
}

/* Start a call on a sampler thread (lock held): it covers the domains of
 * @listing at the places @idx (@n) and belongs to @tick (may be NULL).
 * @by_place: the cache entry of each domain of @listing by place, when the
 * caller has them (NULL: looked up).  When @mine is given and still NULL,
 * the call (a reference) goes there instead, for the caller to run on its
 * own thread. */
static void
vdVmCallLaunchLocked(VdVmListing *listing, const guint *idx, guint n, VdVmEntry *const *by_place,
                     unsigned int groups, gint64 start_us, VdVmTick *tick, VdVmCall **mine)
{
    VdVmCall *c = vdVmCallNew(listing, idx, n, groups);

    c->start_us = start_us;
    for (guint i = 0; i < c->n; i++) {
        VdVmEntry *e = by_place ? by_place[idx[i]] : g_hash_table_lookup(vdSampling.vms, c->ids[i]);

        if (e) {
            e->busy++;
            e->pins++;
            c->entries[i] = e;
        }
    }
    if (tick) {
        g_atomic_int_inc(&tick->ref);
        c->tick = tick;
        g_atomic_int_inc(&c->ref);
        g_ptr_array_add(tick->calls, c);
    }
    g_ptr_array_add(vdSampling.outstanding, c); /* takes the creation reference */
    vdSampling.fig.calls++;
    vdSampling.fig.calls_outstanding = vdSampling.outstanding->len;
    g_atomic_int_inc(&c->ref);
    if (mine && !*mine)
        *mine = c; /* the caller runs it on its own thread */
    else
        vdVmSamplingPush(VD_VM_JOB_CALL, c);
}

static void
vdVmSamplingFetchDev(virDomainPtr dom, const char *id)
{
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    VdVmDevInfo *dev;
    VdVmEntry *e;
    guint want = 0;

    /* what is read is as new as the last change before the read */
    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e)
        want = e->dev_want;
    g_mutex_unlock(&vdSampling.lock);
    xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        vdVmSamplingDoubt();
        return;
    }
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
        e->dev_have = want;
        e->nics_known = 0;
        dev = NULL;
    }
    g_mutex_unlock(&vdSampling.lock);
    vdVmDevInfoFree(dev);
}

/* Split the domains of @listing at the places @idx (@n of them) into @k
 * calls of @groups (lock held); the first goes to *@mine when that is
 * still NULL. */
static void
vdVmSamplingSplitLocked(VdVmListing *listing, const guint *idx, guint n, guint k,
                        VdVmEntry *const *by_place, unsigned int groups, gint64 start_us,
                        VdVmTick *tick, VdVmCall **mine)
{
    for (guint part = 0, from = 0; part < k && from < n; part++) {
        guint to = (guint)(((guint64)n * (part + 1)) / k);

        if (to > from)
            vdVmCallLaunchLocked(listing, idx + from, to - from, by_place, groups, start_us,
                                 tick, mine);
        from = to;
    }
}

static guint
vdVmSamplingFreeThreadsLocked(void)
{
    /* a tick or deadline + calls in libvirt + threads in stat() of disk images */
    guint used = 1 + vdSampling.outstanding->len + vdSampling.fig.sizers;

    return used >= VD_VM_SAMPLING_MAX_THREADS ? 0 : VD_VM_SAMPLING_MAX_THREADS - used;
}

/* How long call @c may run before its domains are checked (lock held). */
static gint64
vdVmCallPatienceLocked(const VdVmCall *c)
{
    gint64 per_dom_us = vdSampling.per_dom_us[(c->groups & VD_VM_SAMPLING_SLOW_GROUPS) != 0];

    return vdVmSamplingPatience(c->n, per_dom_us, vdSampling.call_timeout_us,
                                vdSampling.cmd_timeout_us);
}

/* Whether one of tick @t's calls is in libvirt past its patience (lock
 * held, main loop, at its deadline); if none is yet, the deadline looks
 * again when the patience of the next one ends. */
static gboolean
vdVmSamplingDeadlineLateLocked(VdVmTick *t, gint64 now)
{
    gint64 wait = G_MAXINT64;

    for (guint i = 0; i < t->calls->len; i++) {
        const VdVmCall *c = g_ptr_array_index(t->calls, i);
        gint64 left;

        if (!vdVmCallLateLocked(c))
            continue;
        left = c->start_us + vdVmCallPatienceLocked(c) - now;
        if (left <= 0)
            return TRUE;
        wait = MIN(wait, left);
    }
    if (wait != G_MAXINT64 && !vdSampling.stopping)
        vdVmSamplingArmDeadlineInLocked(t, wait);
    return FALSE;
}

/* Main loop: the deadline timerfd expired, stats_call_timeout after a tick
 * with calls still in libvirt started them, again every
 * stats_call_timeout while a slow call runs, and when the patience of a
 * call still in libvirt ends.  A sampler thread checks the late ones. */
static gboolean
vdVmSamplingDeadlineFire(gint fd, G_GNUC_UNUSED GIOCondition cond, G_GNUC_UNUSED gpointer data)
{
    g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmTickUnref);
    g_autoptr(GPtrArray) late = g_ptr_array_new();
    guint64 expired;
    gint64 now;

    /* Read under the lock that programming it takes: a timerfd programmed
     * again after it expired has nothing to read and stays armed. */
    g_mutex_lock(&vdSampling.lock);
    if (read(fd, &expired, sizeof(expired)) == sizeof(expired))
        vdSampling.deadline_at = 0; /* expired: disarmed until programmed again */
    else if (errno != EAGAIN)
        g_warning("VM sampling: cannot read the deadline timer: %s", g_strerror(errno));
    now = g_get_monotonic_time();
    for (guint i = 0; vdSampling.armed && i < vdSampling.armed->len;) {
        VdVmTick *t = g_ptr_array_index(vdSampling.armed, i);

        if (t->due_us > now) {
            i++;
            continue;
        }
        t->armed = FALSE;
        g_ptr_array_add(due, g_ptr_array_steal_index_fast(vdSampling.armed, i));
    }
    for (guint i = 0; i < due->len; i++) {
        VdVmTick *t = g_ptr_array_index(due, i);

        if (vdVmSamplingDeadlineLateLocked(t, now))
            g_ptr_array_add(late, t);
    }
    vdVmSamplingDeadlineProgramLocked();
    g_mutex_unlock(&vdSampling.lock);
    for (guint i = 0; i < late->len && vdSampling.pool && !vdSampling.stopping; i++) {
        VdVmTick *t = g_ptr_array_index(late, i);

        g_atomic_int_inc(&t->ref);
        vdVmSamplingPush(VD_VM_JOB_DEADLINE, t);
    }
    return G_SOURCE_CONTINUE;
}

/* Pool: tick @t's calls still in libvirt past their patience (at least
 * stats_call_timeout after they started), and every stats_call_timeout
 * after that while one is.  Each domain of such a late call is checked.
 * A late call with a domain whose monitor does not answer is *stuck*:
 * those domains are unresponsive, the call's connection takes no new
 * calls, and its other domains are asked again at once by one new call
 * (listed on the fresh connection), which gets a deadline of its own.  A
 * late call whose domains all answer is *slow* (a loaded host, not a
 * stuck QEMU): asking them again would only add to libvirtd's load, so it
 * is left to finish.
 * After vm_command_timeout a slow call counts as stuck anyway (libvirtd
 * itself does not answer) and its connection takes no new calls. */
static void
vdVmSamplingDeadlineRun(VdVmTick *t)
{
    g_autoptr(GPtrArray) late = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmCallUnref);
    g_autoptr(GPtrArray) again = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GArray) ri = g_array_new(FALSE, FALSE, sizeof(guint)); /* places in @listing */
    g_autoptr(GPtrArray) changed = NULL;
    g_autoptr(VdVmConn) conn = NULL;
    VdVmListing *listing = NULL;
    unsigned int groups = 0;
    gint64 now = g_get_monotonic_time();
    gboolean overdue = now - t->start_us >= vdSampling.cmd_timeout_us;
    gboolean slow = FALSE;
    gint64 busy_ms = vdVmSamplingBusyMs();

    g_mutex_lock(&vdSampling.lock);
    for (guint i = 0; i < t->calls->len; i++) {
        VdVmCall *c = g_ptr_array_index(t->calls, i);

        if (!vdVmCallLateLocked(c))
            continue;
        if (now - c->start_us < vdVmCallPatienceLocked(c)) {
            slow = TRUE; /* not yet: the deadline looks again */
            continue;
        }
        g_atomic_int_inc(&c->ref);
        g_ptr_array_add(late, c);
    }
    g_mutex_unlock(&vdSampling.lock);
    if (vdSampling.stopping)
        return;

    for (guint i = 0; i < late->len; i++) {
        VdVmCall *c = g_ptr_array_index(late, i);
        g_autoptr(GPtrArray) answering = g_ptr_array_new();
        gboolean stuck = FALSE, done;

        /* libvirtd asks a call's domains one after another, in order:
         * the first one whose monitor is in a command is where the call
         * is (earlier domains answered, later ones are not reached yet),
         * so the checks stop there and the next look starts there. */
        for (guint j = 0; j < c->n; j++) {
            gboolean busy = FALSE;

            if (!stuck && j >= c->check_from &&
                vdVmSamplingCheck(c->ids[j], busy_ms, now, &busy)) {
                stuck = TRUE;
                c->check_from = j;
                continue;
            }
            g_ptr_array_add(answering, (gpointer)c->ids[j]);
            if (busy && !stuck) {
                c->check_from = j;
                break; /* slow: left to finish */
            }
        }
        g_mutex_lock(&vdSampling.lock);
        done = c->done; /* returned while it was checked */
        if (!done && (stuck || overdue)) {
            /* its domains are no longer in flight: the unresponsive ones
             * are skipped, the others asked again (below, and by the ticks) */
            c->stuck = TRUE;
            vdSampling.fig.calls_stuck++;
            for (guint j = 0; j < c->n; j++) {
                VdVmEntry *e = c->entries[j]; /* pinned until the call is done */

                if (e && e->busy)
                    e->busy--;
            }
        } else if (!done && !c->slow) {
            c->slow = TRUE;
            vdSampling.fig.calls_slow++;
        }
        g_mutex_unlock(&vdSampling.lock);
        if (done)
            continue;
        if (!stuck && !overdue) {
            slow = TRUE;
            g_debug("VM sampling: a call on %u domains is slow; every QEMU answers", c->n);
            continue;
        }
        if (c->n)
            vdVmSamplingConnTaint(virDomainGetConnect(c->doms[0]));
        if (!stuck)
            continue; /* nothing identified: asking again would not help */
        groups |= c->groups;
        for (guint j = 0; j < answering->len; j++)
            g_ptr_array_add(again, g_strdup(g_ptr_array_index(answering, j)));
    }

    if (again->len && (conn = vdVmSamplingConnGet(&vdSampling.sample_conn, NULL)))
        listing = vdVmListingNew(conn->conn); /* one call, not a lookup per domain */
    for (guint i = 0; listing && i < again->len; i++) {
        unsigned char uuid[VIR_UUID_BUFLEN];
        int k;

        /* the call needs domains of the connection it goes to */
        if (vdVmUuidParse(g_ptr_array_index(again, i), uuid) &&
            (k = vdVmListingFind(listing, uuid)) >= 0) {
            guint place = (guint)k;

            g_array_append_val(ri, place);
        }
    }
    g_mutex_lock(&vdSampling.lock);
    if (ri->len && !vdSampling.stopping && vdVmSamplingFreeThreadsLocked() > 0) {
        /* with a deadline of its own: one of them may get stuck in turn */
        gint64 start = g_get_monotonic_time();
        VdVmTick *again_tick = vdVmTickNew(start);

        again_tick->reask = TRUE;
        vdVmCallLaunchLocked(listing, (const guint *)(gpointer)ri->data, ri->len, NULL, groups,
                             start, again_tick, NULL);
        vdVmSamplingArmDeadlineLocked(again_tick);
        vdVmTickUnref(again_tick);
    }
    if (slow && !vdSampling.stopping)
        vdVmSamplingArmDeadlineLocked(t);
    changed = vdVmSamplingEvaluateLocked(g_get_monotonic_time());
    g_mutex_unlock(&vdSampling.lock);
    vdVmSamplingPublish(changed);
    vdVmListingUnref(listing);
}

static void
vdVmSamplingListedClear(void)
{
    g_clear_pointer(&vdSampling.listing, vdVmListingUnref);
}

/* A listing of @conn's active domains, those whose name starts with
 * [devel] sample_name_prefix; NULL on error. */
static VdVmListing *
vdVmListingNew(virConnectPtr conn)
{
    static gint listings_made;
    virDomainPtr *list = NULL;
    VdVmListing *l;
    int n = virConnectListAllDomains(conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    int kept = 0;

    if (n < 0) {
        vdVmSamplingDoubt();
        return NULL;
    }
    l = g_new0(VdVmListing, 1);
    l->ref = 1;
    l->conn = conn;
    l->serial = (guint)g_atomic_int_add(&listings_made, 1) + 1;
    l->doms = g_new0(virDomainPtr, n + 1);
    l->ids = g_new0(char *, n + 1);
    l->names = g_new0(char *, n + 1);
    l->dom_ids = g_new0(int, MAX(n, 1));
    l->uuids = g_malloc0_n(MAX(n, 1), VIR_UUID_BUFLEN);
    for (int i = 0; i < n; i++) {
        const char *name = virDomainGetName(list[i]);
        char uuid[VIR_UUID_STRING_BUFLEN] = "";

        if (!name || (*vdSampling.name_prefix && !g_str_has_prefix(name, vdSampling.name_prefix))) {
            virDomainFree(list[i]);
            continue;
        }
        virDomainGetUUIDString(list[i], uuid);
        l->doms[kept] = list[i];
        l->ids[kept] = g_strdup(uuid);
        l->names[kept] = g_strdup(name);
        l->dom_ids[kept] = (int)virDomainGetID(list[i]);
        vdVmUuidParse(uuid, l->uuids[kept]);
        kept++;
    }
    l->n = kept;
    g_free(list);
    return l;
}

/* Tick: the active domains of @conn (a reference to the listing).  A
 * listing (virConnectListAllDomains, which locks every domain object in
 * libvirtd) only when a lifecycle event started or stopped a domain since
 * the last one, the connection changed, or VD_VM_SAMPLING_RELIST_US
 * passed; otherwise the last listing again. */
static VdVmListing *
vdVmSamplingListDomains(virConnectPtr conn, gint64 now)
{
    guint gen = (guint)g_atomic_int_get(&vdSampling.domains_gen);

    if (!vdSampling.listing || vdSampling.listing->conn != conn || vdSampling.listed_gen != gen ||
        now - vdSampling.listed_us >= VD_VM_SAMPLING_RELIST_US) {
        VdVmListing *l = vdVmListingNew(conn);

        if (!l)
            return NULL;
        vdVmSamplingListedClear();
        vdSampling.listing = l;
        vdSampling.listed_gen = gen;
        vdSampling.listed_us = now;
        g_mutex_lock(&vdSampling.lock);
        vdSampling.fig.listings++;
        g_mutex_unlock(&vdSampling.lock);
    }
    return vdVmListingRef(vdSampling.listing);
}

void
vdVmSamplingDomainsChanged(void)
{
    g_atomic_int_inc(&vdSampling.domains_gen);
}

/* What a tick found out about each domain of its listing. */
enum {
    VD_VM_TICK_CHECK = 1 << 0,      /* in a call, frozen or at the end of its skip time */
    VD_VM_TICK_SKIP = 1 << 1,       /* not asked this tick */
    VD_VM_TICK_NEED_DEV = 1 << 2,   /* its domain XML is to be read */
    VD_VM_TICK_NEED_BLOCK = 1 << 3, /* asked for the slow groups */
};

/* Tick @tick (made and armed by vdVmSamplingDueLocked; the job's
 * reference); returns one of its calls (a reference) for the calling
 * thread to run once the tick is over, or NULL: a hand-off to another
 * thread fewer per tick. */
static VdVmCall *
vdVmSamplingTickRun(VdVmTick *tick)
{
    gint64 now = g_get_monotonic_time();
    VdVmCall *mine = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VdVmConn) conn = vdVmSamplingConnGet(&vdSampling.sample_conn, &error);
    VdVmListing *listing = NULL;
    virDomainPtr *list = NULL;
    char **idv = NULL;
    int n = 0;
    guint8 *flags = NULL; /* VD_VM_TICK_* of each domain of the listing */
    guint *order = NULL;  /* places in the listing: block domains first */
    VdVmEntry **entries = NULL; /* the listing's (see VdVmListing) */
    guint seen = 0;
    g_autoptr(GPtrArray) changed = NULL;
    gboolean block_tick = FALSE, stagger;
    guint phases, phase;
    gint64 busy_ms = vdVmSamplingBusyMs();
    guint in_flight = 0;

    if (conn)
        listing = vdVmSamplingListDomains(conn->conn, now);
    g_mutex_lock(&vdSampling.lock);
    vdSampling.fig.list_us_total += g_get_monotonic_time() - now;
    g_mutex_unlock(&vdSampling.lock);
    if (!listing) {
        g_debug("VM sampling skipped: %s", conn ? virGetLastErrorMessage() : error->message);
        g_mutex_lock(&vdSampling.lock);
        goto done;
    }
    n = listing->n;
    list = listing->doms;
    idv = listing->ids;
    if ((guint)n > vdSampling.tick_cap) {
        vdSampling.tick_cap = (guint)n + n / 4;
        vdSampling.tick_flags = g_realloc(vdSampling.tick_flags, vdSampling.tick_cap);
        vdSampling.tick_order =
            g_realloc_n(vdSampling.tick_order, vdSampling.tick_cap, sizeof(guint));
    }
    flags = vdSampling.tick_flags;
    order = vdSampling.tick_order;
    if (!listing->entries)
        listing->entries = g_new0(VdVmEntry *, MAX(n, 1));
    entries = listing->entries;
    if (n)
        memset(flags, 0, (gsize)n);

    g_mutex_lock(&vdSampling.lock);
    if (vdSampling.stopping)
        goto done;
    vdSampling.gen++;
    /* Block stats every block_sample_interval.  With enough domains for
     * concurrent calls each tick asks a 1/phases share of them (by their
     * place in the listing), so that no tick is much slower than the
     * others and libvirtd's load stays even; a domain that missed its
     * turn (the listing changed) is asked at the next tick.  With fewer,
     * all of them every phases-th tick. */
    phases = (guint)MAX(1, (vdSampling.block_interval_us + vdSampling.interval_us / 2) /
                               MAX(vdSampling.interval_us, 1));
    phase = vdSampling.gen % phases;
    stagger = phases > 1 && vdSampling.max_calls > 1 && n >= 2 * VD_VM_SAMPLING_MIN_PER_CALL;
    block_tick = now - vdSampling.last_block_us >=
                 vdSampling.block_interval_us - vdSampling.interval_us / 2;
    if (block_tick)
        vdSampling.last_block_us = now;
    for (int i = 0; i < n; i++) {
        const char *id = idv[i];
        VdVmEntry *e;
        int dom_id = listing->dom_ids[i];

        if (!*id)
            continue;
        if (!(e = entries[i]))
            e = entries[i] = g_hash_table_lookup(vdSampling.vms, id);
        if (!e) {
            e = g_new0(VdVmEntry, 1);
            e->id = g_strdup(id);
            e->first_seen_us = now;
            e->published_ok = TRUE;
            e->dom_id = dom_id;
            g_hash_table_insert(vdSampling.vms, e->id, e);
            listing->entries[i] = e;
        } else if (e->dom_id != dom_id) {
            /* Restarted with the same UUID: counters start again. */
            vdVmEntryResetLocked(e);
            e->dom_id = dom_id;
            e->first_seen_us = now;
        }
        if (e->named_by != listing->serial) {
            /* renamed (while shut off) */
            if (g_strcmp0(e->name, listing->names[i]) != 0) {
                g_free(e->name);
                e->name = g_strdup(listing->names[i]);
            }
            e->named_by = listing->serial;
        }
        if (e->seen_gen != vdSampling.gen) {
            e->seen_gen = vdSampling.gen;
            seen++;
        }
        if (e->busy > 0) {
            /* In flight: a call that is not stuck covers it and will
             * answer for it (asking it again would only add load; the
             * deadline finds out if that call gets stuck). */
            flags[i] |= VD_VM_TICK_SKIP;
            in_flight++;
        } else if (e->frozen > 0 || e->check_monitor ||
                   (e->skip_until_us && now >= e->skip_until_us))
            flags[i] |= VD_VM_TICK_CHECK;
        else if (e->skip_until_us > now)
            flags[i] |= VD_VM_TICK_SKIP;
        if (!e->dev || e->dev->dom_id != dom_id || e->dev_want != e->dev_have)
            flags[i] |= VD_VM_TICK_NEED_DEV;
        if (!e->bwin[1] ||
            (stagger ? (guint)i % phases == phase ||
                           now - e->bwin[1]->mono_us >=
                               vdSampling.block_interval_us + vdSampling.interval_us / 2
                     : block_tick))
            flags[i] |= VD_VM_TICK_NEED_BLOCK;
    }
    if (seen != g_hash_table_size(vdSampling.vms)) {
        /* Domains no longer active leave the cache. */
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, vdSampling.vms);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            if (((VdVmEntry *)value)->seen_gen != vdSampling.gen) {
                g_hash_table_iter_steal(&it);
                vdVmEntryDropLocked(value);
            }
        }
    }
    g_mutex_unlock(&vdSampling.lock);

    /* Domains still in a call, frozen, or at the end of their skip time:
     * ask only the ones whose monitor is free. */
    for (int i = 0; i < n; i++) {
        if ((flags[i] & VD_VM_TICK_CHECK) && vdVmSamplingCheck(idv[i], busy_ms, now, NULL))
            flags[i] |= VD_VM_TICK_SKIP;
    }

    g_mutex_lock(&vdSampling.lock);
    if (vdSampling.stopping)
        goto done;
    {
        guint nb = 0, nn = 0; /* block and other domains to ask, in @order */
        guint total, k, kb, kn;

        for (int i = 0; i < n; i++) {
            if (!(flags[i] & VD_VM_TICK_SKIP) && *idv[i] && (flags[i] & VD_VM_TICK_NEED_BLOCK))
                order[nb++] = (guint)i;
        }
        for (int i = 0; i < n; i++) {
            if (!(flags[i] & VD_VM_TICK_SKIP) && *idv[i] && !(flags[i] & VD_VM_TICK_NEED_BLOCK))
                order[nb + nn++] = (guint)i;
        }
        total = nb + nn;
        k = MIN(vdSampling.max_calls, vdVmSamplingFreeThreadsLocked());
        k = MIN(k, MAX(1, (total + VD_VM_SAMPLING_MIN_PER_CALL - 1) / VD_VM_SAMPLING_MIN_PER_CALL));
        if (!total && in_flight) {
            /* every VM still in the previous calls: as VDSM, no new sample */
            vdSampling.fig.ticks_skipped++;
            g_debug("VM sampling: all %u VMs are still in the previous calls; tick skipped",
                    in_flight);
            goto done;
        }
        if (total && k == 0) {
            g_warning("VM sampling: all %d sampler threads wait on stuck calls; tick skipped",
                      VD_VM_SAMPLING_MAX_THREADS);
            goto done;
        }
        /* A partial tick (VMs in flight: a slow host) gives its block VMs a
         * call of their own rather than the slow groups to every VM. */
        if (in_flight && k == 1 && nb && nn && vdSampling.max_calls > 1 &&
            vdVmSamplingFreeThreadsLocked() > 1)
            k = 2;
        /* With one call, the others' slow groups ride along (below).  A
         * block tick asks every VM: none may be in flight. */
        tick->block = !in_flight && nb > 0 && (nn == 0 || k == 1);
        vdSampling.fig.block_vm_samples += nb > 0 && k == 1 ? total : nb;
        if (total && (k == 1 || !nn || !nb)) {
            /* One kind of call only: a lone new VM's slow groups ride along. */
            unsigned int groups = VD_VM_SAMPLING_GROUPS | (nb ? VD_VM_SAMPLING_SLOW_GROUPS : 0);

            vdVmSamplingSplitLocked(listing, order, total, k, entries, groups, now, tick, &mine);
        } else if (total) {
            /* Calls in proportion to the work: a block domain weighs more. */
            guint64 wb = (guint64)nb * VD_VM_SAMPLING_BLOCK_WEIGHT;

            kb = CLAMP((guint)((k * wb + (wb + nn) / 2) / (wb + nn)), 1, k - 1);
            kn = k - kb;
            vdVmSamplingSplitLocked(listing, order, nb, kb, entries,
                                    VD_VM_SAMPLING_GROUPS | VD_VM_SAMPLING_SLOW_GROUPS, now, tick,
                                    &mine);
            vdVmSamplingSplitLocked(listing, order + nb, nn, kn, entries, VD_VM_SAMPLING_GROUPS,
                                    now, tick, &mine);
        }
        if (tick->calls->len == 0) {
            vdVmTickCompleteLocked(tick); /* nothing to ask */
        } else {
            /* Check the calls once stats_call_timeout has passed; the
             * tick itself does not wait, so the next one starts on time.
             * It was armed when the tick was made, unless that deadline
             * has passed already (a slow start). */
            if (!tick->armed)
                vdVmSamplingArmDeadlineLocked(tick);
        }
    }
    g_mutex_unlock(&vdSampling.lock);

    /* While the calls run: the domain XML of new (or changed) domains, a
     * bounded number per tick so that a host full of new VMs does not
     * delay the next tick; samples do not need it, only the NIC MACs,
     * cputune and balloon fields of getStats do. */
    for (int i = 0, fetched = 0; i < n && fetched < VD_VM_SAMPLING_XML_PER_TICK; i++) {
        if ((flags[i] & (VD_VM_TICK_NEED_DEV | VD_VM_TICK_SKIP)) == VD_VM_TICK_NEED_DEV) {
            vdVmSamplingFetchDev(list[i], idv[i]);
            fetched++;
        }
    }
    g_mutex_lock(&vdSampling.lock);

done:
    /* lock held */
    vdSampling.tick_running = FALSE;
    vdSampling.fig.vms = vdSampling.vms ? g_hash_table_size(vdSampling.vms) : 0;
    changed = vdVmSamplingEvaluateLocked(g_get_monotonic_time());
    g_mutex_unlock(&vdSampling.lock);
    vdVmSamplingPublish(changed);
    vdVmTickUnref(tick);
    vdVmListingUnref(listing);
    return mine;
}

/* CPU time of the calling thread, microseconds. */
static gint64
vdVmSamplingThreadCpu(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (gint64)ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void
vdVmSamplingAddCpu(gint64 since)
{
    gint64 used = vdVmSamplingThreadCpu() - since;

    g_mutex_lock(&vdSampling.lock);
    vdSampling.fig.cpu_us_total += MAX(used, 0);
    g_mutex_unlock(&vdSampling.lock);
}

/* A sampler thread after a job: all its CPU time since it last counted
 * (since it started, the first time) goes to the sampler's, waits for the
 * clock and for jobs included: the pool runs nothing else.  One read of
 * the thread's clock per job (a system call, not the vDSO's: two per job
 * were 1.7% of the process in a profile). */
static void
vdVmSamplingAddThreadCpu(void)
{
    static __thread gint64 counted;
    gint64 now = vdVmSamplingThreadCpu();
    gint64 used = now - counted;

    counted = now;
    g_mutex_lock(&vdSampling.lock);
    vdSampling.fig.cpu_us_total += MAX(used, 0);
    g_mutex_unlock(&vdSampling.lock);
}

/* Run tick @tick (a reference), then the call it left to this thread:
 * the tick is over (the next may start) before its own call runs. */
static void
vdVmSamplingTickAndCall(VdVmTick *tick)
{
    VdVmCall *c = vdVmSamplingTickRun(tick);

    if (c) {
        vdVmCallRun(c);
        vdVmCallUnref(c);
    }
}

static void
vdVmSamplingRun(gpointer data, gpointer user_data)
{
    VdVmJob *job = data;
    VdVmTick *tick;

    switch (job->kind) {
    case VD_VM_JOB_TICK:
        vdVmSamplingTickAndCall(job->data);
        break;
    case VD_VM_JOB_CALL:
        vdVmCallRun(job->data);
        vdVmCallUnref(job->data);
        break;
    case VD_VM_JOB_DEADLINE:
        vdVmSamplingDeadlineRun(job->data);
        vdVmTickUnref(job->data);
        break;
    }
    g_free(job);
    vdVmSamplingAddThreadCpu();
    /* then the clock, unless another thread holds it */
    while ((tick = vdVmSamplingClockWait())) {
        vdVmSamplingTickAndCall(tick);
        vdVmSamplingAddThreadCpu();
    }
}

static void
vdVmSamplingPush(VdVmJobKind kind, gpointer data)
{
    VdVmJob *job;

    if (!vdSampling.pool)
        return; /* stopping: the process exits, the reference is left */
    job = g_new0(VdVmJob, 1);
    job->kind = kind;
    job->data = data;
    vdWorkersPush(vdSampling.pool, job);
}

/* ---- the clock -------------------------------------------------------------
 *
 * Ticks are started by the sampler threads themselves: a thread that
 * finished its job and finds no other thread holding the clock waits until
 * the next tick is due and runs it (and then one of its calls, as any
 * tick's thread).  So a tick wakes one thread, not the main loop and then
 * a thread (the main loop's wake-up was 5-7% of vdsmd's CPU per sample at
 * N = 100: docs/benchmarks-stats.md).  The thread gives the clock up when
 * it starts the tick; the first thread to finish a job afterwards takes it
 * (usually the tick's other call's, or its own).  When every thread is
 * busy at the due time (calls stuck on stopped QEMUs), no thread holds the
 * clock: the watchdog, a timerfd on the main loop programmed by whoever
 * starts a tick (programming a timerfd wakes no one), fires half an
 * interval after the due time and starts the tick from the main loop, on
 * a new thread if none is free; that thread takes the clock after it. */

/* Half an interval (at least 50 ms): how late a tick may be before the
 * watchdog starts it. */
static gint64
vdVmSamplingWatchdogSlack(void)
{
    return MAX(vdSampling.interval_us / 2, 50000);
}

/* Lock held: program the watchdog for the next tick. */
static void
vdVmSamplingWatchdogProgramLocked(void)
{
    if (vdSampling.watchdog) /* else stopped */
        vdVmSamplingTimerfdSet(vdSampling.watchdog_fd,
                               vdSampling.next_tick_us + vdVmSamplingWatchdogSlack(),
                               "tick watchdog");
}

/* Lock held, the next tick due at @now: the next one is scheduled, and a
 * tick is made (tick_running set, its deadline armed) unless the previous
 * one still runs.  Returns the tick (a reference), or NULL with
 * *@skipped_in_row set. */
static VdVmTick *
vdVmSamplingDueLocked(gint64 now, guint *skipped_in_row)
{
    VdVmTick *t;

    vdSampling.next_tick_us += vdSampling.interval_us;
    if (vdSampling.next_tick_us <= now) /* fell behind: no burst of ticks */
        vdSampling.next_tick_us = now + vdSampling.interval_us;
    vdVmSamplingWatchdogProgramLocked();
    if (vdSampling.tick_running) {
        vdSampling.fig.ticks_skipped++;
        *skipped_in_row = ++vdSampling.skipped_in_row;
        return NULL;
    }
    vdSampling.skipped_in_row = 0;
    vdSampling.tick_running = TRUE;
    t = vdVmTickNew(now);
    vdVmSamplingArmDeadlineLocked(t);
    return t;
}

static void
vdVmSamplingSkipped(guint skipped_in_row)
{
    if (skipped_in_row == 1)
        g_warning("VM sampling: the previous tick still runs; ticks are skipped until it ends");
    else if (skipped_in_row > 1)
        g_debug("VM sampling: tick skipped (%u in a row)", skipped_in_row);
}

/* A sampler thread after its job: hold the clock unless another thread
 * does, and when the next tick is due return it (a reference) for this
 * thread to run; NULL when another thread holds the clock or sampling
 * stops.  monitorResponse is evaluated at every due time, as VDSM's
 * periodic check does. */
static VdVmTick *
vdVmSamplingClockWait(void)
{
    VdVmTick *t = NULL;

    g_mutex_lock(&vdSampling.lock);
    /* With every thread busy, a job may wait in the queue: this thread
     * takes it instead of the clock (the watchdog starts the next tick if
     * no other thread holds the clock by then). */
    if (vdSampling.clock_held || vdSampling.stopping || !vdSampling.watchdog ||
        !vdSampling.pool || vdWorkersQueued(vdSampling.pool) > 0) {
        g_mutex_unlock(&vdSampling.lock);
        return NULL;
    }
    vdSampling.clock_held = TRUE;
    while (!vdSampling.stopping && !t) {
        gint64 now = g_get_monotonic_time();
        g_autoptr(GPtrArray) changed = NULL;
        guint skipped_in_row = 0;

        if (now < vdSampling.next_tick_us) {
            g_cond_wait_until(&vdSampling.clock_cond, &vdSampling.lock, vdSampling.next_tick_us);
            continue;
        }
        t = vdVmSamplingDueLocked(now, &skipped_in_row);
        if (!t) /* else the tick evaluates at its end */
            changed = vdVmSamplingEvaluateLocked(now);
        g_mutex_unlock(&vdSampling.lock);
        vdVmSamplingPublish(changed);
        vdVmSamplingSkipped(skipped_in_row);
        g_mutex_lock(&vdSampling.lock);
    }
    vdSampling.clock_held = FALSE;
    g_mutex_unlock(&vdSampling.lock);
    return t;
}

/* Main loop: the watchdog expired, half an interval after a tick was due.
 * When no thread started that tick (all busy), start it here. */
static gboolean
vdVmSamplingWatchdogFire(gint fd, G_GNUC_UNUSED GIOCondition cond, G_GNUC_UNUSED gpointer data)
{
    gint64 cpu0 = vdVmSamplingThreadCpu();
    g_autoptr(GPtrArray) changed = NULL;
    guint skipped_in_row = 0;
    VdVmTick *t = NULL;
    guint64 expired;
    gint64 now;

    g_mutex_lock(&vdSampling.lock);
    if (read(fd, &expired, sizeof(expired)) < 0 && errno != EAGAIN)
        g_warning("VM sampling: cannot read the tick watchdog: %s", g_strerror(errno));
    now = g_get_monotonic_time();
    if (vdSampling.stopping || now < vdSampling.next_tick_us + vdVmSamplingWatchdogSlack()) {
        /* a thread started the tick meanwhile (and programmed it again) */
        g_mutex_unlock(&vdSampling.lock);
        return G_SOURCE_CONTINUE;
    }
    vdSampling.fig.ticks_late++;
    t = vdVmSamplingDueLocked(now, &skipped_in_row);
    if (t)
        vdVmSamplingPush(VD_VM_JOB_TICK, t); /* it evaluates at its end */
    else
        changed = vdVmSamplingEvaluateLocked(now);
    g_mutex_unlock(&vdSampling.lock);
    vdVmSamplingPublish(changed);
    vdVmSamplingSkipped(skipped_in_row);
    vdVmSamplingAddCpu(cpu0);
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
vdVmSamplingConfigure(GError **error)
{
    const char *calls_str = vdConfigGetString("sampling", "max_concurrent_calls");
    gint64 calls = 0;

    if (vdSampling.pool)
        return 0;
    if (vdVmSamplingSeconds("vars", "vm_sample_interval", 0.1, &vdSampling.interval_us, error) <
            0 ||
        vdVmSamplingSeconds("vars", "vm_command_timeout", 0.1, &vdSampling.cmd_timeout_us, error) <
            0 ||
        vdVmSamplingSeconds("sampling", "stats_call_timeout", 0.05, &vdSampling.call_timeout_us,
                            error) < 0 ||
        vdVmSamplingSeconds("sampling", "unresponsive_ttl", 0.1, &vdSampling.ttl_us, error) < 0 ||
        vdVmSamplingSeconds("sampling", "block_sample_interval", 0.1, &vdSampling.block_interval_us,
                            error) < 0)
        return -1;
    if (!g_ascii_string_to_signed(calls_str, 10, 0, VD_VM_SAMPLING_CALLS_MAX, &calls, NULL)) {
        g_set_error(error, VD_ERROR, VD_ERR_INVALID_CONFIGURATION,
                    "[sampling] max_concurrent_calls must be 1..%d (0: by the CPUs), not '%s'",
                    VD_VM_SAMPLING_CALLS_MAX, calls_str);
        return -1;
    }
    /* More concurrent calls overlap more of libvirtd's waits on the QEMUs,
     * but every call costs client CPU, and past the number of CPUs they
     * only compete (docs/benchmarks-stats.md: on 2 cores, 2 calls took
     * less wall time and half the CPU of 4 on a loaded host). */
    if (calls == 0)
        calls = CLAMP(g_get_num_processors(), 2, 4);
    vdSampling.max_calls = (guint)calls;
    vdSampling.nowait = vdConfigGetBool("vars", "nowait_domain_stats");
    vdSampling.name_prefix = vdConfigGetString("devel", "sample_name_prefix");
    return 0;
}

/* A non-blocking timerfd watched on the main loop by a source named
 * @name that calls @func; -1 with @error. */
static int
vdVmSamplingTimerfdNew(GSource **source, GUnixFDSourceFunc func, const char *name,
                       GError **error)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

    if (fd < 0) {
        g_set_error(error, VD_ERROR, VD_ERR_INTERNAL, "VM sampling: timerfd_create: %s",
                    g_strerror(errno));
        return -1;
    }
    *source = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(*source, G_SOURCE_FUNC(func), NULL, NULL);
    g_source_set_static_name(*source, name);
    g_source_attach(*source, vdSampling.ctx);
    return fd;
}

int
vdVmSamplingStart(GError **error)
{
    if (vdSampling.pool)
        return 0;
    if (vdVmSamplingConfigure(error) < 0)
        return -1;
    g_info("VM sampling: up to %u concurrent stats calls", vdSampling.max_calls);
    vdSampling.ctx = g_main_context_ref_thread_default();
    vdSampling.deadline_fd = vdVmSamplingTimerfdNew(&vdSampling.deadline, vdVmSamplingDeadlineFire,
                                                    "vm-sampling-deadline", error);
    if (vdSampling.deadline_fd < 0) {
        g_clear_pointer(&vdSampling.ctx, g_main_context_unref);
        return -1;
    }
    vdSampling.watchdog_fd = vdVmSamplingTimerfdNew(&vdSampling.watchdog, vdVmSamplingWatchdogFire,
                                                    "vm-sampling-watchdog", error);
    if (vdSampling.watchdog_fd < 0) {
        g_source_destroy(vdSampling.deadline);
        g_clear_pointer(&vdSampling.deadline, g_source_unref);
        close(vdSampling.deadline_fd);
        vdSampling.deadline_fd = -1;
        g_clear_pointer(&vdSampling.ctx, g_main_context_unref);
        return -1;
    }
    /* Idle threads wait for the next tick without waking (GThreadPool's
     * wake after half a second cost a wake-up per job: workers.h); one
     * idle for a minute ends. */
    vdSampling.pool = vdWorkersNew("vd-sampler", vdVmSamplingRun, NULL,
                                   VD_VM_SAMPLING_MAX_THREADS, 60, g_free);
    g_mutex_lock(&vdSampling.lock);
    vdVmSamplingListedClear(); /* its entries were the old cache's */
    /* entries leave it with the lock held (ticks, stop): a call or a
     * disk stat() that pins one frees it */
    vdSampling.vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify)vdVmEntryDropLocked);
    vdSampling.outstanding = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmCallUnref);
    vdSampling.armed = g_ptr_array_new_with_free_func((GDestroyNotify)vdVmTickUnref);
    vdSampling.deadline_at = 0;
    vdSampling.stopping = FALSE;
    vdSampling.last_block_us = G_MININT64 / 2;
    vdSampling.clock_held = FALSE;
    vdSampling.skipped_in_row = 0;
    /* The first sample at once, so stats exist one call after start; its
     * thread then holds the clock. */
    {
        gint64 now = g_get_monotonic_time();
        guint skipped_in_row = 0;

        vdSampling.next_tick_us = now;
        vdSampling.tick_running = FALSE;
        vdVmSamplingPush(VD_VM_JOB_TICK, vdVmSamplingDueLocked(now, &skipped_in_row));
    }
    g_mutex_unlock(&vdSampling.lock);
    g_info("VM sampling every %.1f s (%u concurrent calls, block stats every %.1f s, "
           "unresponsive after %.1f s)",
           vdSampling.interval_us / 1e6, vdSampling.max_calls, vdSampling.block_interval_us / 1e6,
           vdSampling.cmd_timeout_us / 1e6);
    return 0;
}

void
vdVmSamplingStop(void)
{
    VdWorkers *pool;
    gboolean busy;

    if (!vdSampling.pool)
        return;
    g_mutex_lock(&vdSampling.lock);
    if (vdSampling.watchdog) {
        /* under the lock: a sampler thread may be programming it */
        g_source_destroy(vdSampling.watchdog);
        g_clear_pointer(&vdSampling.watchdog, g_source_unref);
        close(vdSampling.watchdog_fd);
        vdSampling.watchdog_fd = -1;
    }
    g_cond_broadcast(&vdSampling.clock_cond); /* the thread holding the clock leaves */
    if (vdSampling.deadline) {
        /* under the lock: a sampler thread may be programming it */
        g_source_destroy(vdSampling.deadline);
        g_clear_pointer(&vdSampling.deadline, g_source_unref);
        close(vdSampling.deadline_fd);
        vdSampling.deadline_fd = -1;
    }
    vdSampling.stopping = TRUE;
    pool = g_steal_pointer(&vdSampling.pool);
    g_mutex_unlock(&vdSampling.lock);
    /* Queued jobs are dropped; running ones finish on their own (a call
     * stuck in libvirt may never), so do not wait for them. */
    vdWorkersFree(pool);

    g_mutex_lock(&vdSampling.lock);
    busy = vdSampling.tick_running || vdSampling.outstanding->len > 0 || vdSampling.fig.sizers > 0;
    if (!busy) {
        vdVmSamplingListedClear();
        g_clear_pointer(&vdSampling.ctl_listing, vdVmListingUnref);
        g_clear_pointer(&vdSampling.vms, g_hash_table_unref);
        g_clear_pointer(&vdSampling.outstanding, g_ptr_array_unref);
        g_clear_pointer(&vdSampling.armed, g_ptr_array_unref);
        g_clear_pointer(&vdSampling.ctx, g_main_context_unref);
        g_clear_pointer(&vdSampling.tick_flags, g_free);
        g_clear_pointer(&vdSampling.tick_order, g_free);
        vdSampling.tick_cap = 0;
        g_mutex_lock(&vdSampling.call_cache_lock);
        while (vdSampling.call_cache_len > 0)
            g_free(vdSampling.call_cache[--vdSampling.call_cache_len]);
        g_mutex_unlock(&vdSampling.call_cache_lock);
    }
    g_clear_pointer(&vdSampling.sample_conn.conn, vdVmConnUnref);
    g_clear_pointer(&vdSampling.control_conn.conn, vdVmConnUnref);
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
        vdVmStatsAdd(stats, e->win[0], e->win[1], e->bwin[0], e->bwin[1], e->dev, e->sizes);
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
vdVmSamplingNoteTimeout(const char *id)
{
    g_autoptr(GPtrArray) changed = NULL;
    VdVmEntry *e;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms && id ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e) {
        g_warning("VM %s (%s): a libvirt call timed out; unresponsive until it answers", e->id,
                  e->name);
        e->timed_out = TRUE;
        e->check_monitor = TRUE;
        changed = vdVmSamplingEvaluateLocked(g_get_monotonic_time());
    }
    g_mutex_unlock(&vdSampling.lock);
    if (changed)
        vdVmSamplingPublish(changed);
}

void
vdVmSamplingInvalidate(const char *id)
{
    VdVmEntry *e;

    g_mutex_lock(&vdSampling.lock);
    e = vdSampling.vms && id ? g_hash_table_lookup(vdSampling.vms, id) : NULL;
    if (e)
        e->dev_want++;
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
    vdVmDiskSizesUnref(snap->sizes);
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
        snap->sizes = vdVmDiskSizesRef(e->sizes);
        snap->responsive = vdVmEntryResponsiveLocked(e, g_get_monotonic_time());
        snap->last_seen_us = e->newest_us ? e->newest_us : e->first_seen_us;
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
            out->cache_bytes += vdVmDiskSizesSize(e->sizes);
        }
        g_hash_table_unref(seen);
    }
    g_mutex_unlock(&vdSampling.lock);
}
