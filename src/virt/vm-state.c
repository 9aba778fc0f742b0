/* vm-state.c - see vm-state.h.  libvirt's headers are used for their enum
 * constants only; nothing here calls libvirt. */
#include "vm-state.h"

#include <libvirt/libvirt.h>
#include <string.h>

/* VDSM reports "Powering down" / "RebootInProgress" for at most this long
 * after the power-down started (vm.py: 300 s). */
#define VD_VM_GUEST_POWERDOWN_WINDOW 300.0

static const char *const vdVmStatusNames[] = {
    [VD_VM_STATUS_WAIT_FOR_LAUNCH] = "WaitForLaunch",
    [VD_VM_STATUS_POWERING_UP] = "Powering up",
    [VD_VM_STATUS_UP] = "Up",
    [VD_VM_STATUS_PAUSED] = "Paused",
    [VD_VM_STATUS_POWERING_DOWN] = "Powering down",
    [VD_VM_STATUS_REBOOT_IN_PROGRESS] = "RebootInProgress",
    [VD_VM_STATUS_MIGRATION_SOURCE] = "Migration Source",
    [VD_VM_STATUS_MIGRATION_DESTINATION] = "Migration Destination",
    [VD_VM_STATUS_SAVING_STATE] = "Saving State",
    [VD_VM_STATUS_RESTORING_STATE] = "Restoring state",
    [VD_VM_STATUS_DOWN] = "Down",
};

const char *
vdVmStatusName(VdVmStatus status)
{
    if ((guint)status >= G_N_ELEMENTS(vdVmStatusNames))
        return "Unknown";
    return vdVmStatusNames[status];
}

gboolean
vdVmStatusFromName(const char *name, VdVmStatus *out)
{
    for (guint i = 0; name && i < G_N_ELEMENTS(vdVmStatusNames); i++) {
        if (g_str_equal(vdVmStatusNames[i], name)) {
            *out = (VdVmStatus)i;
            return TRUE;
        }
    }
    return FALSE;
}

/* vmexitreason.exitReasons, spelling included. */
static const char *const vdVmExitMessages[] = {
    [VD_VM_EXIT_SUCCESS] = "VM terminated succesfully",
    [VD_VM_EXIT_GENERIC_ERROR] = "VM terminated with error",
    [VD_VM_EXIT_LOST_QEMU_CONNECTION] = "Lost connection with qemu process",
    [VD_VM_EXIT_LIBVIRT_START_FAILED] = "failed to start libvirt vm",
    [VD_VM_EXIT_MIGRATION_SUCCEEDED] = "Migration succeeded",
    [VD_VM_EXIT_SAVE_STATE_SUCCEEDED] = "SaveState succeeded",
    [VD_VM_EXIT_ADMIN_SHUTDOWN] = "Admin shut down from the engine",
    [VD_VM_EXIT_USER_SHUTDOWN] = "User shut down from within the guest",
    [VD_VM_EXIT_MIGRATION_FAILED] = "VM failed to migrate",
    [VD_VM_EXIT_LIBVIRT_DOMAIN_MISSING] = "Failed to find the libvirt domain",
    [VD_VM_EXIT_DESTROYED_ON_STARTUP] = "VM destroyed during the startup",
    [VD_VM_EXIT_HOST_SHUTDOWN] = "VM has been terminated on the host",
    [VD_VM_EXIT_POSTCOPY_MIGRATION_FAILED] = "Migration failed in post-copy",
    [VD_VM_EXIT_DESTROYED_ON_REBOOT] = "Down as a part of the reboot process",
    [VD_VM_EXIT_DESTROYED_ON_PAUSE_TIMEOUT] = "Down because paused for too long",
};

const char *
vdVmExitReasonMessage(int reason)
{
    if (reason < 0 || (guint)reason >= G_N_ELEMENTS(vdVmExitMessages))
        return "VM terminated";
    return vdVmExitMessages[reason];
}

gboolean
vdVmStatusIsRunning(VdVmStatus status)
{
    switch (status) {
    case VD_VM_STATUS_POWERING_UP:
    case VD_VM_STATUS_UP:
    case VD_VM_STATUS_PAUSED:
    case VD_VM_STATUS_POWERING_DOWN:
    case VD_VM_STATUS_REBOOT_IN_PROGRESS:
        return TRUE;
    default:
        return FALSE;
    }
}

static const char *
vdVmStateSuspendedCode(int detail)
{
    switch (detail) {
    case VIR_DOMAIN_EVENT_SUSPENDED_IOERROR:
        return "EIO";
    case VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY:
        return "POSTCOPY";
    case VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG:
    case VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR:
    case VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED:
        return "EOTHER";
    default:
        return "NOERR";
    }
}

static void
vdVmStateDown(VdVmTransition *out, int code, int reason)
{
    out->changed = TRUE;
    out->status = VD_VM_STATUS_DOWN;
    out->pause_code = NULL;
    out->down = TRUE;
    out->exit_code = code;
    out->exit_reason = reason;
    out->guest_event_set = TRUE;
    out->guest_event = VD_VM_GUEST_NONE;
}

static void
vdVmStateStopped(VdVmStatus status, VdVmIntent intent, int detail, VdVmTransition *out)
{
    gboolean admin = intent == VD_VM_INTENT_DESTROY || intent == VD_VM_INTENT_SHUTDOWN ||
                     intent == VD_VM_INTENT_REBOOT;

    if (intent == VD_VM_INTENT_HOST_SHUTDOWN && (detail == VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN ||
                                                 detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED)) {
        vdVmStateDown(out, VD_VM_EXIT_CODE_NORMAL, VD_VM_EXIT_HOST_SHUTDOWN);
        return;
    }
    switch (detail) {
    case VIR_DOMAIN_EVENT_STOPPED_SAVED:
        if (intent == VD_VM_INTENT_SAVE || status == VD_VM_STATUS_SAVING_STATE)
            vdVmStateDown(out, VD_VM_EXIT_CODE_NORMAL, VD_VM_EXIT_SAVE_STATE_SUCCEEDED);
        else
            vdVmStateDown(out, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LOST_QEMU_CONNECTION);
        return;
    case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
        if (status == VD_VM_STATUS_MIGRATION_SOURCE)
            vdVmStateDown(out, VD_VM_EXIT_CODE_NORMAL, VD_VM_EXIT_MIGRATION_SUCCEEDED);
        else
            vdVmStateDown(out, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LOST_QEMU_CONNECTION);
        return;
    case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
        /* The guest powered off: on our request an admin shutdown,
         * otherwise the user shut it down from within. */
        vdVmStateDown(out, VD_VM_EXIT_CODE_NORMAL,
                      admin ? VD_VM_EXIT_ADMIN_SHUTDOWN : VD_VM_EXIT_USER_SHUTDOWN);
        return;
    case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
        if (admin)
            vdVmStateDown(out, VD_VM_EXIT_CODE_NORMAL, VD_VM_EXIT_ADMIN_SHUTDOWN);
        else
            vdVmStateDown(out, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LOST_QEMU_CONNECTION);
        return;
    case VIR_DOMAIN_EVENT_STOPPED_FAILED:
        if (status == VD_VM_STATUS_WAIT_FOR_LAUNCH || status == VD_VM_STATUS_RESTORING_STATE)
            vdVmStateDown(out, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LIBVIRT_START_FAILED);
        else
            vdVmStateDown(out, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LOST_QEMU_CONNECTION);
        return;
    default: /* CRASHED, FROM_SNAPSHOT, anything newer */
        vdVmStateDown(out, VD_VM_EXIT_CODE_ERROR, VD_VM_EXIT_LOST_QEMU_CONNECTION);
        return;
    }
}

gboolean
vdVmStateOnLifecycle(VdVmStatus status, VdVmIntent intent, int event, int detail,
                     VdVmTransition *out)
{
    memset(out, 0, sizeof(*out));
    out->status = status;

    if (status == VD_VM_STATUS_DOWN)
        return FALSE; /* Down is final for a VM object; VM.destroy removes it */

    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
        if (status == VD_VM_STATUS_WAIT_FOR_LAUNCH || status == VD_VM_STATUS_RESTORING_STATE) {
            out->changed = TRUE;
            out->status = VD_VM_STATUS_UP;
            out->guest_event_set = TRUE;
            out->guest_event = VD_VM_GUEST_POWERING_UP;
        }
        /* Migration Destination stays until RESUMED (the migration issue). */
        break;

    case VIR_DOMAIN_EVENT_SUSPENDED:
        if (status == VD_VM_STATUS_SAVING_STATE || status == VD_VM_STATUS_MIGRATION_SOURCE)
            break; /* libvirt pauses the guest while saving/migrating it */
        out->pause_code = vdVmStateSuspendedCode(detail);
        out->status = VD_VM_STATUS_PAUSED;
        out->changed = TRUE;
        break;

    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        if (status == VD_VM_STATUS_SAVING_STATE || status == VD_VM_STATUS_MIGRATION_SOURCE)
            break;
        out->pause_code = "NOERR";
        out->status = VD_VM_STATUS_PAUSED;
        out->changed = TRUE;
        break;

    case VIR_DOMAIN_EVENT_RESUMED:
        if (status == VD_VM_STATUS_SAVING_STATE || status == VD_VM_STATUS_MIGRATION_SOURCE)
            break; /* a failed save/migration resumes: its flow decides */
        if (status == VD_VM_STATUS_UP)
            break;
        if (status != VD_VM_STATUS_PAUSED) {
            out->guest_event_set = TRUE;
            out->guest_event = status == VD_VM_STATUS_MIGRATION_DESTINATION
                                   ? VD_VM_GUEST_NONE
                                   : VD_VM_GUEST_POWERING_UP;
        }
        out->status = VD_VM_STATUS_UP;
        out->changed = TRUE;
        break;

    case VIR_DOMAIN_EVENT_STOPPED:
        vdVmStateStopped(status, intent, detail, out);
        break;

    case VIR_DOMAIN_EVENT_SHUTDOWN:
        /* The guest started powering down (on an ACPI request or by
         * itself).  SHUTDOWN_HOST is QEMU killed by a signal (a destroy):
         * STOPPED follows at once. */
        if (status == VD_VM_STATUS_UP && detail == VIR_DOMAIN_EVENT_SHUTDOWN_GUEST) {
            out->guest_event_set = TRUE;
            out->guest_event =
                intent == VD_VM_INTENT_REBOOT ? VD_VM_GUEST_REBOOTING : VD_VM_GUEST_POWERING_DOWN;
            out->changed = TRUE;
        }
        break;

    default: /* DEFINED, UNDEFINED, CRASHED (STOPPED follows) */
        break;
    }
    return out->changed;
}

gboolean
vdVmStateOnReboot(VdVmStatus status, VdVmTransition *out)
{
    memset(out, 0, sizeof(*out));
    out->status = status;
    if (status != VD_VM_STATUS_UP)
        return FALSE;
    /* The guest is booting again. */
    out->guest_event_set = TRUE;
    out->guest_event = VD_VM_GUEST_POWERING_UP;
    out->changed = TRUE;
    return TRUE;
}

double
vdVmStateGuestWindow(VdVmGuestEvent guest, double powerup_window_s)
{
    switch (guest) {
    case VD_VM_GUEST_POWERING_UP:
        return powerup_window_s;
    case VD_VM_GUEST_POWERING_DOWN:
    case VD_VM_GUEST_REBOOTING:
        return VD_VM_GUEST_POWERDOWN_WINDOW;
    default:
        return 0;
    }
}

VdVmStatus
vdVmStateReported(VdVmStatus status, VdVmGuestEvent guest, double age_s, double powerup_window_s)
{
    if (status != VD_VM_STATUS_UP || age_s >= vdVmStateGuestWindow(guest, powerup_window_s))
        return status;
    switch (guest) {
    case VD_VM_GUEST_POWERING_UP:
        return VD_VM_STATUS_POWERING_UP;
    case VD_VM_GUEST_POWERING_DOWN:
        return VD_VM_STATUS_POWERING_DOWN;
    case VD_VM_GUEST_REBOOTING:
        return VD_VM_STATUS_REBOOT_IN_PROGRESS;
    default:
        return status;
    }
}

const char *
vdVmStatePauseCode(int paused_reason)
{
    switch (paused_reason) {
    case VIR_DOMAIN_PAUSED_IOERROR:
        return "EIO";
    case VIR_DOMAIN_PAUSED_POSTCOPY:
        return "POSTCOPY";
    case VIR_DOMAIN_PAUSED_WATCHDOG:
    case VIR_DOMAIN_PAUSED_POSTCOPY_FAILED:
        return "EOTHER";
    default:
        return "NOERR";
    }
}

VdVmStatus
vdVmStateFromLibvirt(int state, int reason, const char **pause_code)
{
    *pause_code = NULL;
    switch (state) {
    case VIR_DOMAIN_PAUSED:
        if (reason == VIR_DOMAIN_PAUSED_SAVE)
            return VD_VM_STATUS_SAVING_STATE;
        *pause_code = vdVmStatePauseCode(reason);
        return VD_VM_STATUS_PAUSED;
    case VIR_DOMAIN_PMSUSPENDED:
        *pause_code = "NOERR";
        return VD_VM_STATUS_PAUSED;
    case VIR_DOMAIN_SHUTOFF:
    case VIR_DOMAIN_CRASHED:
        return VD_VM_STATUS_DOWN;
    default: /* RUNNING, BLOCKED, SHUTDOWN (still running), NOSTATE */
        return VD_VM_STATUS_UP;
    }
}

void
vdVmStateShutoffExit(int reason, int *exit_code, int *exit_reason)
{
    *exit_code = VD_VM_EXIT_CODE_NORMAL;
    switch (reason) {
    case VIR_DOMAIN_SHUTOFF_SHUTDOWN:
        *exit_reason = VD_VM_EXIT_USER_SHUTDOWN;
        break;
    case VIR_DOMAIN_SHUTOFF_DESTROYED:
        *exit_reason = VD_VM_EXIT_ADMIN_SHUTDOWN;
        break;
    case VIR_DOMAIN_SHUTOFF_SAVED:
        *exit_reason = VD_VM_EXIT_SAVE_STATE_SUCCEEDED;
        break;
    case VIR_DOMAIN_SHUTOFF_MIGRATED:
        *exit_reason = VD_VM_EXIT_MIGRATION_SUCCEEDED;
        break;
    case VIR_DOMAIN_SHUTOFF_FAILED:
        *exit_code = VD_VM_EXIT_CODE_ERROR;
        *exit_reason = VD_VM_EXIT_LIBVIRT_START_FAILED;
        break;
    default: /* CRASHED, UNKNOWN, FROM_SNAPSHOT, DAEMON */
        *exit_code = VD_VM_EXIT_CODE_ERROR;
        *exit_reason = VD_VM_EXIT_LOST_QEMU_CONNECTION;
        break;
    }
}
