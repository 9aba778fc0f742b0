/* vm-qga.h - qemu-guest-agent information, through libvirt, cached per VM.
 *
 * DESIGN: one poller thread of its own (never the main loop, never the rpc
 * or VM job workers) with its own private libvirt connection.  Every
 * QGA_POLL_PERIOD_S it lists the running domains and, for each, asks
 * libvirt for what is due (VDSM's periods, vdsm-facts §6.2) with a 1 s
 * agent response timeout.  A dead or absent agent costs that VM's slot one
 * timeout and backs it off; it never delays verbs, stats or other threads.
 * Results go into a cache (id -> JSON object of VDSM getStats fields)
 * under one mutex; vdVmQgaFillStats copies them into a stats dict without
 * any libvirt call, so it is safe on the main loop.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

/* Start the poller (idempotent; any thread). */
void vdVmQgaStart(void);
/* Stop and join the poller (at exit). */
void vdVmQgaStop(void);

/* Copy the cached guest fields of VM @id into @stats (guestFQDN,
 * guestName, guestOsInfo, guestTimezone, netIfaces, guestIPs, disksUsage,
 * appsList, guestCPUCount, username, session).  Never blocks.  Starts the
 * poller on first use if nobody did. */
void vdVmQgaFillStats(const char *id, json_object *stats);

/* Forget VM @id's cache (it went Down). */
void vdVmQgaForget(const char *id);

/* Freeze or thaw the guest file systems (VM.freeze / VM.thaw), on a
 * worker.  Returns the number of file systems, or -1 with @error. */
int vdVmQgaFsFreeze(const char *id, gboolean thaw, GError **error);
