/* vm-access.c - see vm-access.h. */
#include "vm-access.h"

#include "main-call.h"
#include "vd-error.h"
#include "vm-sampling.h"
#include "vm-table.h"

#include <libvirt/virterror.h>

typedef struct {
    const char *id;
    VdVmAccess access;
    VdVmStatus status;
    int code;
    const char *why;
} VdVmCheckCall;

static gpointer
vdVmCheckOnMain(gpointer data)
{
    VdVmCheckCall *c = data;
    VdVm *vm = vdVmTableLookup(c->id);

    if (!vm) {
        c->code = VD_ERR_NO_SUCH_VM;
        return NULL;
    }
    c->status = vm->status;
    if (c->access == VD_VM_ACCESS_ANY)
        return NULL;
    if (vm->staging) {
        c->code = VD_ERR_UNEXPECTED;
        c->why = "the VM is being started (staging); try again when it is Up";
    } else if (vm->destroying) {
        c->code = VD_ERR_UNEXPECTED;
        c->why = "the VM is being destroyed";
    } else if (c->access == VD_VM_ACCESS_RUNNING && vm->status == VD_VM_STATUS_DOWN) {
        c->code = VD_ERR_VM_IS_DOWN;
    } else if (c->access == VD_VM_ACCESS_RUNNING && !vdVmStatusIsRunning(vm->status)) {
        c->code = VD_ERR_UNEXPECTED;
        c->why = vdVmStatusName(vm->status);
    }
    return NULL;
}

int
vdVmCheck(const char *id, VdVmAccess access, VdVmStatus *status_out, GError **error)
{
    VdVmCheckCall c = {.id = id, .access = access};

    vdMainCall(vdVmCheckOnMain, &c);
    if (c.code == VD_ERR_NO_SUCH_VM || c.code == VD_ERR_VM_IS_DOWN) {
        vdErrorSetCode(error, c.code, "{'vmId': '%s'}", id);
        return -1;
    }
    if (c.code) {
        vdErrorSetCode(error, c.code, "{'vmId': '%s', 'reason': '%s'}", id, c.why);
        return -1;
    }
    if (status_out)
        *status_out = c.status;
    return 0;
}

void
vdVmSetLibvirtError(GError **error, const char *id, int code, const char *what)
{
    if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
        vdErrorSetCode(error, VD_ERR_NO_SUCH_VM, "{'vmId': '%s'}", id);
        return;
    }
    if (virGetLastErrorCode() == VIR_ERR_OPERATION_TIMEOUT)
        vdVmSamplingNoteTimeout(id); /* monitorResponse "-1" (vdsm-facts §4) */
    vdLibvirtSetError(error, code, what);
}

virDomainPtr
vdVmLookupDomain(const char *id, int fail_code, GError **error)
{
    g_autoptr(virConnect) conn = vdLibvirtGet(error);
    virDomainPtr dom;

    if (!conn)
        return NULL;
    dom = virDomainLookupByUUIDString(conn, id);
    if (!dom)
        vdVmSetLibvirtError(error, id, fail_code, "cannot find the libvirt domain");
    return dom;
}

virDomainPtr
vdVmAccessDomain(const char *id, VdVmAccess access, int fail_code, GError **error)
{
    if (vdVmCheck(id, access, NULL, error) < 0)
        return NULL;
    return vdVmLookupDomain(id, fail_code, error);
}
