/* vm-staging.h - the staging area shared by the start-up flows.
 *
 * DESIGN: a flow (creation, restore, later the migration destination)
 * first enters its VM in the table with staging set: the VM is listed and
 * reported (WaitForLaunch, Restoring state, ...) but vm-access refuses
 * every verb that would act on it, and libvirt events for it are held.
 * The flow then works on a creation worker, and leaves staging exactly
 * once: vdVmStagingSucceed applies the outcome the flow knows for sure
 * (the domain runs, or runs paused) and replays the held events;
 * vdVmStagingFail sets Down with the reason and libvirt's error text.  A
 * VM.destroy that arrives meanwhile only sets destroy_requested and waits;
 * the flow sees it at its next step (vdVmStagingAborted), cleans up and
 * fails with "destroyed during the startup".  All functions are called on
 * worker threads and reach the table through vdMainCall.
 */
#pragma once

#include <json-c/json.h>

#include "vm-metadata.h"
#include "vm-state.h"

typedef struct {
    const char *id;
    const char *name;
    const char *xml;        /* the domain XML as given */
    VdVmStatus status;      /* WaitForLaunch, Restoring state, Migration Destination */
    double start_time;      /* wall-clock seconds */
    const VdVmMetadata *md; /* the block the flow will write (copied) */
} VdVmStagingEntry;

/* Enter a new VM; returns its full status dict (VM.create's answer), or
 * NULL with error 4 when the id is taken. */
json_object *vdVmStagingEnter(const VdVmStagingEntry *entry, GError **error);

/* TRUE when VM.destroy asked for this VM while it was staging. */
gboolean vdVmStagingAborted(const char *id);

/* The domain runs (paused when @paused); @live_xml and @pid describe it. */
void vdVmStagingSucceed(const char *id, const char *live_xml, gint64 pid, gboolean paused);

/* The flow failed: Down with @exit_code/@exit_reason and @message. */
void vdVmStagingFail(const char *id, int exit_code, int exit_reason, const char *message);
