/* vm-migration-dest.h - start-up flow 4: the destination of an incoming
 * live migration (a stub until the migration issue fills it).
 *
 * DESIGN: its place is fixed now so the other flows need not change:
 *   - entry: VM.migrationCreate(vmID, params, incomingLimit), and VM.create
 *     with vmParams.migrationDest, both routed here by the api layer;
 *   - admission: a non-blocking take of the incoming-migration semaphore
 *     ([vars] max_incoming_migrations), else error 82 (migrateLimit);
 *   - staging: the VM enters the staging area (vm-staging.h) in status
 *     "Migration Destination", listed but refusing verbs, its libvirt
 *     events held;
 *   - work (creation pool): prepare devices, then wait for libvirt's
 *     RESUMED(MIGRATED) event (or SUSPENDED(PAUSED) for a paused guest)
 *     for at most [vars] migration_destination_timeout; the state machine
 *     already maps Migration Destination + RESUMED to Up;
 *   - leaving staging: vdVmStagingSucceed, or vdVmStagingFail with
 *     exitReason 8 (migration failed) and no domain left behind.
 * Until then the entry point answers 44 (method not implemented).
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* TRUE when vmParams asks for this flow (migrationDest). */
gboolean vdVmMigrationDestRequested(json_object *vm_params);

json_object *vdVmMigrationDestCreate(const char *vm_id, json_object *params, GError **error);
