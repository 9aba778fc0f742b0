/* test-vm-state.c - the VM state machine (vm-state.h): wire names, exit
 * messages, what each libvirt lifecycle event does in each state and with
 * each intent, the reported status on top of Up, and the mapping of
 * libvirt states found at recovery. */
#include <glib.h>
#include <libvirt/libvirt.h>

#include "vm-state.h"

static void
test_names(void)
{
    static const char *const expect[] = {
        "WaitForLaunch",
        "Powering up",
        "Up",
        "Paused",
        "Powering down",
        "RebootInProgress",
        "Migration Source",
        "Migration Destination",
        "Saving State",
        "Restoring state",
        "Down",
    };
    VdVmStatus s;

    for (guint i = 0; i < G_N_ELEMENTS(expect); i++) {
        g_assert_cmpstr(vdVmStatusName((VdVmStatus)i), ==, expect[i]);
        g_assert_true(vdVmStatusFromName(expect[i], &s));
        g_assert_cmpint(s, ==, (int)i);
    }
    g_assert_false(vdVmStatusFromName("Restoring State", &s)); /* lower-case s on the wire */
    g_assert_cmpstr(vdVmExitReasonMessage(6), ==, "Admin shut down from the engine");
    g_assert_cmpstr(vdVmExitReasonMessage(7), ==, "User shut down from within the guest");
    g_assert_cmpstr(vdVmExitReasonMessage(5), ==, "SaveState succeeded");
    g_assert_cmpstr(vdVmExitReasonMessage(3), ==, "failed to start libvirt vm");
    g_assert_cmpstr(vdVmExitReasonMessage(99), ==, "VM terminated");
}

/* Apply one event; return the transition. */
static VdVmTransition
ev(VdVmStatus status, VdVmIntent intent, int event, int detail)
{
    VdVmTransition t;

    vdVmStateOnLifecycle(status, intent, event, detail, &t);
    return t;
}

static void
test_start_and_pause(void)
{
    VdVmTransition t;

    t = ev(VD_VM_STATUS_WAIT_FOR_LAUNCH, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STARTED,
           VIR_DOMAIN_EVENT_STARTED_BOOTED);
    g_assert_true(t.changed);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_UP);
    g_assert_true(t.guest_event_set);
    g_assert_cmpint(t.guest_event, ==, VD_VM_GUEST_POWERING_UP);

    t = ev(VD_VM_STATUS_RESTORING_STATE, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STARTED,
           VIR_DOMAIN_EVENT_STARTED_RESTORED);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_UP);

    /* A second STARTED does nothing to a running VM. */
    t = ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STARTED, 0);
    g_assert_false(t.changed);

    t = ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_PAUSED);
    g_assert_cmpstr(t.pause_code, ==, "NOERR");
    t = ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_SUSPENDED_IOERROR);
    g_assert_cmpstr(t.pause_code, ==, "EIO");
    t = ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY);
    g_assert_cmpstr(t.pause_code, ==, "POSTCOPY");
    t = ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG);
    g_assert_cmpstr(t.pause_code, ==, "EOTHER");
    /* launchPaused: started, then suspended while still WaitForLaunch. */
    t = ev(VD_VM_STATUS_WAIT_FOR_LAUNCH, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_PAUSED);

    t = ev(VD_VM_STATUS_PAUSED, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_RESUMED,
           VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
    g_assert_true(t.changed);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_UP);
    g_assert_null(t.pause_code);
    g_assert_false(t.guest_event_set); /* resuming is not booting */

    /* Saving/migrating: libvirt's pause and resume are part of the job. */
    t = ev(VD_VM_STATUS_SAVING_STATE, VD_VM_INTENT_SAVE, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    g_assert_false(t.changed);
    t = ev(VD_VM_STATUS_SAVING_STATE, VD_VM_INTENT_SAVE, VIR_DOMAIN_EVENT_RESUMED, 0);
    g_assert_false(t.changed);
    t = ev(VD_VM_STATUS_MIGRATION_SOURCE, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED);
    g_assert_false(t.changed);

    /* The destination becomes Up on RESUMED(MIGRATED), not on STARTED. */
    t = ev(VD_VM_STATUS_MIGRATION_DESTINATION, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STARTED,
           VIR_DOMAIN_EVENT_STARTED_MIGRATED);
    g_assert_false(t.changed);
    t = ev(VD_VM_STATUS_MIGRATION_DESTINATION, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_RESUMED,
           VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_UP);
    g_assert_cmpint(t.guest_event, ==, VD_VM_GUEST_NONE);
}

static void
assert_down(VdVmTransition t, int code, int reason)
{
    g_assert_true(t.changed);
    g_assert_true(t.down);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_DOWN);
    g_assert_cmpint(t.exit_code, ==, code);
    g_assert_cmpint(t.exit_reason, ==, reason);
}

static void
test_stop(void)
{
    /* Guest powered off by itself: user shutdown. */
    assert_down(ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
                0, VD_VM_EXIT_USER_SHUTDOWN);
    /* ... on our VM.shutdown request: admin shutdown. */
    assert_down(ev(VD_VM_STATUS_UP, VD_VM_INTENT_SHUTDOWN, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
                0, VD_VM_EXIT_ADMIN_SHUTDOWN);
    /* VM.destroy. */
    assert_down(ev(VD_VM_STATUS_PAUSED, VD_VM_INTENT_DESTROY, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
                0, VD_VM_EXIT_ADMIN_SHUTDOWN);
    /* Destroyed behind our back, or QEMU crashed: lost qemu connection. */
    assert_down(ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
                1, VD_VM_EXIT_LOST_QEMU_CONNECTION);
    assert_down(ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_CRASHED),
                1, VD_VM_EXIT_LOST_QEMU_CONNECTION);
    /* Hibernation. */
    assert_down(ev(VD_VM_STATUS_SAVING_STATE, VD_VM_INTENT_SAVE, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_SAVED),
                0, VD_VM_EXIT_SAVE_STATE_SUCCEEDED);
    /* Migration source. */
    assert_down(ev(VD_VM_STATUS_MIGRATION_SOURCE, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_MIGRATED),
                0, VD_VM_EXIT_MIGRATION_SUCCEEDED);
    /* Failed to start. */
    assert_down(ev(VD_VM_STATUS_WAIT_FOR_LAUNCH, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_FAILED),
                1, VD_VM_EXIT_LIBVIRT_START_FAILED);
    /* Host shutdown. */
    assert_down(ev(VD_VM_STATUS_UP, VD_VM_INTENT_HOST_SHUTDOWN, VIR_DOMAIN_EVENT_STOPPED,
                   VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
                0, VD_VM_EXIT_HOST_SHUTDOWN);

    /* Down is final: nothing moves a Down VM. */
    for (int event = 0; event <= VIR_DOMAIN_EVENT_CRASHED; event++) {
        VdVmTransition t = ev(VD_VM_STATUS_DOWN, VD_VM_INTENT_NONE, event, 0);

        g_assert_false(t.changed);
        g_assert_cmpint(t.status, ==, VD_VM_STATUS_DOWN);
    }
}

static void
test_guest_events(void)
{
    VdVmTransition t;

    t = ev(VD_VM_STATUS_UP, VD_VM_INTENT_NONE, VIR_DOMAIN_EVENT_SHUTDOWN,
           VIR_DOMAIN_EVENT_SHUTDOWN_GUEST);
    g_assert_true(t.guest_event_set);
    g_assert_cmpint(t.guest_event, ==, VD_VM_GUEST_POWERING_DOWN);
    g_assert_cmpint(t.status, ==, VD_VM_STATUS_UP);
    t = ev(VD_VM_STATUS_UP, VD_VM_INTENT_REBOOT, VIR_DOMAIN_EVENT_SHUTDOWN,
           VIR_DOMAIN_EVENT_SHUTDOWN_GUEST);
    g_assert_cmpint(t.guest_event, ==, VD_VM_GUEST_REBOOTING);

    g_assert_true(vdVmStateOnReboot(VD_VM_STATUS_UP, &t));
    g_assert_cmpint(t.guest_event, ==, VD_VM_GUEST_POWERING_UP);
    g_assert_false(vdVmStateOnReboot(VD_VM_STATUS_DOWN, &t));

    /* Reported status over an internal Up. */
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_UP, VD_VM_GUEST_POWERING_UP, 59, 60), ==,
                    VD_VM_STATUS_POWERING_UP);
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_UP, VD_VM_GUEST_POWERING_UP, 60, 60), ==,
                    VD_VM_STATUS_UP);
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_UP, VD_VM_GUEST_POWERING_DOWN, 299, 60), ==,
                    VD_VM_STATUS_POWERING_DOWN);
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_UP, VD_VM_GUEST_POWERING_DOWN, 301, 60), ==,
                    VD_VM_STATUS_UP);
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_UP, VD_VM_GUEST_REBOOTING, 1, 60), ==,
                    VD_VM_STATUS_REBOOT_IN_PROGRESS);
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_UP, VD_VM_GUEST_NONE, 0, 60), ==,
                    VD_VM_STATUS_UP);
    /* Only Up is dressed up. */
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_PAUSED, VD_VM_GUEST_POWERING_UP, 1, 60), ==,
                    VD_VM_STATUS_PAUSED);
    g_assert_cmpint(vdVmStateReported(VD_VM_STATUS_DOWN, VD_VM_GUEST_POWERING_DOWN, 1, 60), ==,
                    VD_VM_STATUS_DOWN);
}

static void
test_recovery_mapping(void)
{
    const char *code = NULL;
    int exit_code, reason;

    g_assert_cmpint(vdVmStateFromLibvirt(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED, &code), ==,
                    VD_VM_STATUS_UP);
    g_assert_null(code);
    g_assert_cmpint(vdVmStateFromLibvirt(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER, &code), ==,
                    VD_VM_STATUS_PAUSED);
    g_assert_cmpstr(code, ==, "NOERR");
    g_assert_cmpint(vdVmStateFromLibvirt(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_IOERROR, &code), ==,
                    VD_VM_STATUS_PAUSED);
    g_assert_cmpstr(code, ==, "EIO");
    g_assert_cmpint(vdVmStateFromLibvirt(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_SAVE, &code), ==,
                    VD_VM_STATUS_SAVING_STATE);
    g_assert_cmpint(vdVmStateFromLibvirt(VIR_DOMAIN_SHUTOFF, 0, &code), ==, VD_VM_STATUS_DOWN);
    g_assert_cmpint(vdVmStateFromLibvirt(VIR_DOMAIN_CRASHED, 0, &code), ==, VD_VM_STATUS_DOWN);
    g_assert_cmpint(vdVmStateFromLibvirt(VIR_DOMAIN_PMSUSPENDED, 0, &code), ==,
                    VD_VM_STATUS_PAUSED);

    vdVmStateShutoffExit(VIR_DOMAIN_SHUTOFF_SHUTDOWN, &exit_code, &reason);
    g_assert_cmpint(exit_code, ==, 0);
    g_assert_cmpint(reason, ==, VD_VM_EXIT_USER_SHUTDOWN);
    vdVmStateShutoffExit(VIR_DOMAIN_SHUTOFF_SAVED, &exit_code, &reason);
    g_assert_cmpint(reason, ==, VD_VM_EXIT_SAVE_STATE_SUCCEEDED);
    vdVmStateShutoffExit(VIR_DOMAIN_SHUTOFF_CRASHED, &exit_code, &reason);
    g_assert_cmpint(exit_code, ==, 1);
    g_assert_cmpint(reason, ==, VD_VM_EXIT_LOST_QEMU_CONNECTION);
    vdVmStateShutoffExit(VIR_DOMAIN_SHUTOFF_FAILED, &exit_code, &reason);
    g_assert_cmpint(reason, ==, VD_VM_EXIT_LIBVIRT_START_FAILED);

    g_assert_true(vdVmStatusIsRunning(VD_VM_STATUS_PAUSED));
    g_assert_false(vdVmStatusIsRunning(VD_VM_STATUS_DOWN));
    g_assert_false(vdVmStatusIsRunning(VD_VM_STATUS_WAIT_FOR_LAUNCH));
    g_assert_false(vdVmStatusIsRunning(VD_VM_STATUS_SAVING_STATE));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vm-state/names", test_names);
    g_test_add_func("/vm-state/start-and-pause", test_start_and_pause);
    g_test_add_func("/vm-state/stop", test_stop);
    g_test_add_func("/vm-state/guest-events", test_guest_events);
    g_test_add_func("/vm-state/recovery-mapping", test_recovery_mapping);
    return g_test_run();
}
