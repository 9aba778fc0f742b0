/* main-call.h - run a function on the main loop and wait for it.
 *
 * DESIGN: state that the main loop owns (the VM table) is never touched by
 * worker threads; a worker that needs to read or change it hands a small
 * function to the main loop with vdMainCall and blocks until it has run.
 * The function runs on the main loop between other sources, so it sees a
 * consistent table and needs no lock; it must be short and must never
 * block (no libvirt, no file I/O): everything slow stays on the worker,
 * before or after the call.  Called on the main loop itself, vdMainCall
 * runs the function directly (no deadlock).  The main context is the one
 * given to vdMainCallInit (the default context unless told otherwise).
 */
#pragma once

#include <glib.h>

typedef gpointer (*VdMainFunc)(gpointer data);

/* Remember @context (NULL: the global default context) as "the main loop".
 * Call once in main() before threads that use vdMainCall start. */
void vdMainCallInit(GMainContext *context);

/* Run @func(@data) on the main loop and return what it returned. */
gpointer vdMainCall(VdMainFunc func, gpointer data);

/* Queue @func(@data) on the main loop without waiting (from any thread);
 * @destroy, when not NULL, frees @data after the call. */
void vdMainPost(VdMainFunc func, gpointer data, GDestroyNotify destroy);

/* TRUE when the calling thread is running the main loop right now. */
gboolean vdMainCallOnMainLoop(void);
