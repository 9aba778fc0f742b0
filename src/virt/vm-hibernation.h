/* vm-hibernation.h - VM.hibernate, and where hibernation images live.
 *
 * DESIGN: until storage domains exist, a hibernation "volume" is a file in
 * [vars] hibernation_dir (default /var/lib/vdsm/hibernation).  The handle
 * (VM.hibernate's hibernationVolHandle, VM.create's hiberVolHandle) is:
 *   - a plain file name ("web1.mem"): <hibernation_dir>/web1.mem;
 *   - an absolute path inside hibernation_dir;
 *   - VDSM's six comma-separated UUIDs (sdUUID, spUUID, memory-dump imgUUID,
 *     volUUID, memory-conf imgUUID, volUUID): <hibernation_dir>/<the
 *     memory-dump volUUID>.
 * Anything else (.., another directory) is refused.  libvirtd writes and
 * reads the file itself; the image stays after a restore (like VDSM's
 * volumes, the caller deletes it).
 * VM.hibernate checks on the rpc worker, sets "Saving State" on the main
 * loop and returns; the save runs on the job pool.  Its STOPPED(SAVED)
 * event makes the VM Down with exitReason 5; a failed save puts the VM
 * back in the state libvirt reports, with an event.
 */
#pragma once

#include <glib.h>

/* The image path for @handle; NULL with error 91 (invalid parameter) for
 * a handle of another form, 16 when the directory is missing. */
char *vdVmHibernationPath(const char *handle, GError **error);

/* VM.hibernate(vmID, hibernationVolHandle). */
int vdVmHibernate(const char *id, const char *handle, GError **error);
