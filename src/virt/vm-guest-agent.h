/* vm-guest-agent.h - the oVirt guest agent protocol on each VM's
 * `ovirt-guest-agent.0` virtio-serial channel.
 *
 * DESIGN: main loop only.  One GLib fd watch per connected channel socket
 * (no thread per VM): newline-delimited JSON, `__name__` holds the message
 * name, at most VD_GA_MAX_MESSAGE bytes per message (a longer one is
 * discarded up to the next newline).  `refresh` is sent on every connect;
 * heartbeats and reports are kept per VM as VDSM's getStats fields.  The
 * agent is responsive for [vars] guest_agent_responsive_timeout (VDSM:
 * 120 s) after its last message.  A closed channel is reconnected every
 * VD_GA_RECONNECT_S while the VM is attached.  The first heartbeat ends a
 * VM's "Powering up" window.
 *
 * Channels are found by the qemu-ga poller thread (vm-qga.c), which reads
 * each newly running domain's XML once and posts vdVmGuestAgentAttach (and
 * vdVmGuestAgentDetach when the domain stops running) to the main loop.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#define VD_GA_MAX_MESSAGE (1024 * 1024)
#define VD_GA_RECONNECT_S 2

/* Any thread, pure: the host-side socket path of the ovirt-guest-agent.0
 * (or legacy com.redhat.rhevm.vdsm) channel in @xml, or NULL. */
char *vdVmGuestAgentPathFromXml(const char *xml);

/* Main loop.  Connect (and keep connecting) VM @id's channel at @path;
 * re-attaching with another path replaces the channel. */
void vdVmGuestAgentAttach(const char *id, const char *path);
void vdVmGuestAgentDetach(const char *id);

/* Main loop. */
gboolean vdVmGuestAgentResponsive(const char *id);

/* Main loop: queue message @name with arguments @args (stolen; NULL for
 * none).  -1 with VD_ERR_GUEST_AGENT_NONRESPONSIVE (19) when the agent is
 * not responsive. */
int vdVmGuestAgentSend(const char *id, const char *name, json_object *args, GError **error);
/* The same from a worker (through vdMainCall). */
int vdVmGuestAgentSendSync(const char *id, const char *name, json_object *args, GError **error);

/* Main loop: add the agent's fields to @stats (fields already present
 * win: call it before the qemu-ga fields are merged). */
void vdVmGuestAgentFillStats(const char *id, json_object *stats);

/* Main loop: the guest fields of both agents (qemu-ga wins), for VM.getStats
 * and Host.getAllVmStats. */
void vdVmGuestFillStats(const char *id, json_object *stats);
