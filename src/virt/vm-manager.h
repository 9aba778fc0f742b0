/* vm-manager.h - starts and runs the VM layer: libvirt events in, worker
 * pools, recovery at start-up, resynchronisation after a reconnect.
 *
 * DESIGN: threads and who owns what.
 *   - The main loop owns the VM table (vm-table.h) and every VdVm.
 *   - libvirt's default event loop runs in one dedicated thread
 *     (libvirt-conn.c); the domain lifecycle/reboot callbacks only copy
 *     (uuid, event, detail) and post it to the main loop (vdMainPost), so
 *     events reach the table in libvirt's order.
 *   - Start-up flows (create, restore) run on the creation pool, at most
 *     [vars] max_concurrent_vm_creations at a time; everything else that
 *     blocks in the background (metadata writes, the forced step of a
 *     shutdown, hibernation) runs on the job pool.  Verbs run on the rpc
 *     workers.  All of them read and change VMs only through vdMainCall.
 *   - Recovery runs once on its own thread at start-up; until it has
 *     adopted every domain the ready callback is not called, so the rpc
 *     gate stays closed (code 99).  Events for domains not adopted yet
 *     are held and replayed after adoption.
 *   - When libvirtd goes away every VM is marked stale (last known state,
 *     monitorResponse -1); after the reconnect the domain events are
 *     registered again and each VM is compared with libvirt's state once.
 */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

/* Called on the main loop once recovery has finished. */
typedef void (*VdVmReadyFunc)(gpointer data);

/* Check the layer's configuration (main thread, before vdsmd binds its
 * port).  -1 with @error for invalid configuration. */
int vdVmManagerConfigure(GError **error);
/* Start the layer (main thread, main loop not yet running is fine).
 * Returns -1 only for invalid configuration; libvirt being down is not an
 * error (recovery retries). */
int vdVmManagerStart(VdVmReadyFunc ready, gpointer data, GError **error);
/* Stop pools and the libvirt event thread (main thread, at exit). */
void vdVmManagerStop(void);

/* TRUE once recovery has finished. */
gboolean vdVmManagerReady(void);

typedef void (*VdVmJobFunc)(gpointer data);

/* Run @func(@data) on the job pool; @destroy frees @data afterwards. */
void vdVmManagerRunJob(VdVmJobFunc func, gpointer data, GDestroyNotify destroy);
/* Run a start-up flow on the creation pool. */
void vdVmManagerRunCreation(VdVmJobFunc func, gpointer data, GDestroyNotify destroy);

/* Creation pool threads: this thread's own libvirt connection (a new
 * reference), opened on first use and again after it died.  Each creation
 * thread has one, as the floor of docs/benchmarks-vm.md has: with one
 * shared connection libvirtd would serve at most 5 of their calls at a
 * time.  They carry no events; the daemon's connection does. */
virConnectPtr vdVmManagerCreationConnection(GError **error);

/* Creations queued or running (for tests and logs). */
guint vdVmManagerCreationsInFlight(void);

/* Main loop: adopt the domain @id that appeared without us creating it
 * (an event for an unknown VM), on the job pool. */
void vdVmManagerAdopt(const char *id);
