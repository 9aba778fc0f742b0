/* vm.h - one VM as VDSM reports it: status, exit information, times,
 * display, and the metadata block that persists it.
 *
 * DESIGN: a VdVm belongs to the VM table (vm-table.h) and, like the table,
 * is only ever touched on the main loop: lifecycle events, start-up flows
 * and verbs all reach it through the main loop (vdMainCall from workers),
 * so it has no lock.  Nothing here blocks; libvirt calls happen on workers
 * that hand their results back, and domain XML is parsed on the worker
 * too (VdVmLive) before it reaches the VM.  The JSON builders produce VDSM's
 * dictionaries (status dict, VmStats, the VM_status event payload) from
 * the fields alone.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include "vm-metadata.h"
#include "vm-state.h"

typedef struct {
    char *type;     /* vnc, spice */
    int port;       /* -1 when not allocated */
    int tls_port;   /* -1 when none */
    char *address;  /* listen address, or NULL */
} VdVmDisplay;

typedef struct _VdVm VdVm;

struct _VdVm {
    char *id;
    char *name;
    gboolean external;           /* found in libvirt without ovirt-vm metadata */

    VdVmStatus status;           /* internal status (VDSM's lastStatus) */
    const char *pause_code;      /* static string when Paused, else NULL */
    VdVmGuestEvent guest_event;  /* what the guest does on top of Up */
    gint64 guest_event_us;       /* monotonic time the guest event started */
    VdVmIntent intent;           /* what we asked libvirt to do last */

    /* Staging: a start-up flow is building the VM.  Lifecycle events are
     * held in @held_events (pairs of ints: event, detail; -1 for a reboot
     * event) and replayed when the flow ends; verbs refuse to act. */
    gboolean staging;
    GArray *held_events;
    GPtrArray *staging_waiters;  /* VdVmWaiter*, signalled at staging end */
    gboolean destroy_requested;  /* VM.destroy arrived during staging */

    gboolean destroying;         /* VM.destroy is running */
    gboolean stale;              /* libvirt unreachable: last known state */

    int exit_code;
    int exit_reason;
    char *exit_message;

    double start_time;           /* wall-clock seconds (metadata startTime) */
    gint64 pid;                  /* QEMU's pid, 0 when unknown */
    gboolean acpi;
    GPtrArray *displays;         /* VdVmDisplay* */
    char *xml;                   /* last known domain XML */
    VdVmMetadata *md;            /* the persistent block as last written/read */
    gboolean md_writing;         /* a metadata write is in flight */
    gboolean md_dirty;           /* changed again while writing */

    /* Last status published in a VM_status event, to publish changes once. */
    VdVmStatus published_status;
    const char *published_pause_code;
    gboolean published;

    guint guest_timer;           /* fires when the reported guest window ends */
    guint shutdown_timer;        /* VM.shutdown's timeout step */
    gboolean shutdown_force;
};

/* A worker waiting for a VM to leave staging (see vdVmWaiterWait). */
typedef struct _VdVmWaiter VdVmWaiter;
VdVmWaiter *vdVmWaiterNew(void);
void vdVmWaiterFree(VdVmWaiter *waiter);
void vdVmWaiterSignal(VdVmWaiter *waiter);
/* Worker side: TRUE when signalled within @timeout_s. */
gboolean vdVmWaiterWait(VdVmWaiter *waiter, double timeout_s);
/* Main loop: signal @waiter (which gains a reference) when @vm leaves
 * staging or is freed. */
void vdVmAddStagingWaiter(VdVm *vm, VdVmWaiter *waiter);

VdVm *vdVmNew(const char *id, const char *name, VdVmStatus status);
void vdVmFree(VdVm *vm);

void vdVmDisplayFree(VdVmDisplay *display);

/* What a VM shows of its domain XML (the XML itself, name, ACPI, displays),
 * parsed on a worker so the main loop never parses XML. */
typedef struct {
    char *xml;
    char *name;
    gboolean acpi;
    GPtrArray *displays; /* VdVmDisplay* */
} VdVmLive;

/* Any thread; NULL (logged) when @xml does not parse. */
VdVmLive *vdVmLiveNew(const char *xml);
void vdVmLiveFree(VdVmLive *live);
/* Main loop: replace the VM's XML, name, ACPI flag and displays with
 * @live's (which keeps empty shells; free it as usual).  NULL: no-op. */
void vdVmSetLive(VdVm *vm, VdVmLive *live);

/* Set Down with exit information (message NULL: VDSM's text for the
 * reason), clearing pause code and guest event.  Records it in vm->md.
 * Returns FALSE when the VM was already Down (nothing changed). */
gboolean vdVmSetDown(VdVm *vm, int exit_code, int exit_reason, const char *message);

/* Reported status right now (see vdVmStateReported). */
VdVmStatus vdVmReportedStatus(VdVm *vm);

/* elapsedTime in seconds. */
gint64 vdVmElapsed(VdVm *vm);

/* VDSM's statusTime: event time in ms (monotonic), as a string. */
char *vdVmStatusTime(void);

/* {vmId, status, statusTime} (Host.getVMList). */
json_object *vdVmToShortStatus(VdVm *vm);
/* The full status dict (VM.create, VM.getInfo, Host.getVMFullList). */
json_object *vdVmToFullStatus(VdVm *vm);
/* VmStats (VM.getStats, Host.getAllVmStats). */
json_object *vdVmToStats(VdVm *vm);
/* The status details of a VM_status event (without the vmId wrapper). */
json_object *vdVmToEventDetails(VdVm *vm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmWaiter, vdVmWaiterFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdVmLive, vdVmLiveFree)
