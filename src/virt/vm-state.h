/* vm-state.h - VDSM's VM states, exit reasons and the transitions that
 * libvirt domain lifecycle events cause (vdsm-facts §3.1, §3.2, §3.4).
 *
 * DESIGN: pure functions over plain values, no I/O and no globals, so the
 * whole state machine is unit-tested without libvirt
 * (tests/unit/test-vm-state.c).  The VM object (vm.c) feeds it every
 * lifecycle event on the main loop and applies the transition it returns.
 *
 * Two layers, as in VDSM: the internal status (lastStatus) changes only on
 * lifecycle events and on the start-up flows' own steps; the reported
 * status adds what the guest is doing on top of an internal Up
 * ("Powering up" until the guest is seen or a timeout, "Powering down"
 * after an ACPI/guest power-down, "RebootInProgress" during a reboot).
 * What vdsm-c asked libvirt to do (destroy, shutdown, save, ...) is the
 * VM's intent; it decides the exit reason when the domain stops.
 */
#pragma once

#include <glib.h>

typedef enum {
    VD_VM_STATUS_WAIT_FOR_LAUNCH,
    VD_VM_STATUS_POWERING_UP,
    VD_VM_STATUS_UP,
    VD_VM_STATUS_PAUSED,
    VD_VM_STATUS_POWERING_DOWN,
    VD_VM_STATUS_REBOOT_IN_PROGRESS,
    VD_VM_STATUS_MIGRATION_SOURCE,
    VD_VM_STATUS_MIGRATION_DESTINATION,
    VD_VM_STATUS_SAVING_STATE,
    VD_VM_STATUS_RESTORING_STATE,
    VD_VM_STATUS_DOWN,
} VdVmStatus;

/* The wire string ("Restoring state", ...). */
const char *vdVmStatusName(VdVmStatus status);
/* Parse a wire string; FALSE when unknown. */
gboolean vdVmStatusFromName(const char *name, VdVmStatus *out);

typedef enum {
    VD_VM_EXIT_SUCCESS = 0,
    VD_VM_EXIT_GENERIC_ERROR = 1,
    VD_VM_EXIT_LOST_QEMU_CONNECTION = 2,
    VD_VM_EXIT_LIBVIRT_START_FAILED = 3,
    VD_VM_EXIT_MIGRATION_SUCCEEDED = 4,
    VD_VM_EXIT_SAVE_STATE_SUCCEEDED = 5,
    VD_VM_EXIT_ADMIN_SHUTDOWN = 6,
    VD_VM_EXIT_USER_SHUTDOWN = 7,
    VD_VM_EXIT_MIGRATION_FAILED = 8,
    VD_VM_EXIT_LIBVIRT_DOMAIN_MISSING = 9,
    VD_VM_EXIT_DESTROYED_ON_STARTUP = 10,
    VD_VM_EXIT_HOST_SHUTDOWN = 11,
    VD_VM_EXIT_POSTCOPY_MIGRATION_FAILED = 12,
    VD_VM_EXIT_DESTROYED_ON_REBOOT = 13,
    VD_VM_EXIT_DESTROYED_ON_PAUSE_TIMEOUT = 14,
} VdVmExitReason;

/* exitCode values. */
#define VD_VM_EXIT_CODE_NORMAL 0
#define VD_VM_EXIT_CODE_ERROR 1

/* VDSM's fixed English text for an exit reason. */
const char *vdVmExitReasonMessage(int reason);

/* What vdsm-c last asked libvirt to do with the domain. */
typedef enum {
    VD_VM_INTENT_NONE,
    VD_VM_INTENT_DESTROY,       /* VM.destroy: admin shutdown */
    VD_VM_INTENT_SHUTDOWN,      /* VM.shutdown: admin shutdown through the guest */
    VD_VM_INTENT_REBOOT,        /* VM.shutdown(reboot=true) */
    VD_VM_INTENT_SAVE,          /* VM.hibernate */
    VD_VM_INTENT_HOST_SHUTDOWN, /* the host is going down */
} VdVmIntent;

/* What the guest is doing on top of an internal Up. */
typedef enum {
    VD_VM_GUEST_NONE,
    VD_VM_GUEST_POWERING_UP,
    VD_VM_GUEST_POWERING_DOWN,
    VD_VM_GUEST_REBOOTING,
} VdVmGuestEvent;

/* The result of one lifecycle event. */
typedef struct {
    gboolean changed;       /* status (or pause code) changed */
    VdVmStatus status;      /* the new internal status */
    const char *pause_code; /* when status is Paused: NOERR, EIO, ... (static) */
    gboolean down;          /* the VM went Down: exit fields are valid */
    int exit_code;
    int exit_reason;
    gboolean guest_event_set; /* set the guest event below */
    VdVmGuestEvent guest_event;
} VdVmTransition;

/* Apply libvirt lifecycle event @event/@detail (virDomainEventType and its
 * detail enum, as ints) to a VM in internal status @status with @intent.
 * Fills @out and returns out->changed. */
gboolean vdVmStateOnLifecycle(VdVmStatus status, VdVmIntent intent, int event, int detail,
                              VdVmTransition *out);

/* The VIR_DOMAIN_EVENT_ID_REBOOT event (the guest reset itself). */
gboolean vdVmStateOnReboot(VdVmStatus status, VdVmTransition *out);

/* The reported status: @status unless it is Up and a guest event younger
 * than its window is set.  @age_s is the guest event's age in seconds;
 * @powerup_window_s is [vars] guest_wait_timeout. */
VdVmStatus vdVmStateReported(VdVmStatus status, VdVmGuestEvent guest, double age_s,
                             double powerup_window_s);
/* How long (s) a reported guest state lasts before Up shows again;
 * 0 for none. */
double vdVmStateGuestWindow(VdVmGuestEvent guest, double powerup_window_s);

/* libvirt's state (virDomainState) and reason at recovery time to the
 * internal status: running -> Up, paused -> Paused, shut off/crashed ->
 * Down.  Returns FALSE for states that have no VDSM meaning (pmsuspended
 * counts as Paused, nostate/blocked as Up). */
VdVmStatus vdVmStateFromLibvirt(int state, int reason, const char **pause_code);

/* Exit reason for a domain found shut off with @reason
 * (virDomainShutoffReason) and no saved exit information. */
void vdVmStateShutoffExit(int reason, int *exit_code, int *exit_reason);

/* Pause code for a paused domain's reason (virDomainPausedReason); IO
 * errors give "EIO" here, the caller refines ENOSPC from disk errors. */
const char *vdVmStatePauseCode(int paused_reason);

/* A status that accepts actions (pause, cont, ...): not Down, not being
 * created, restored, saved or migrated in. */
gboolean vdVmStatusIsRunning(VdVmStatus status);
