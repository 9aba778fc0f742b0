"""Fixtures and helpers for the VM system tests (tests/system/test_vm_*.py).

They drive the real vdsmd (conftest.py's vdsmd_factory) against the real
libvirtd and QEMU of this host.  Every domain they create is named
`vdt3-...`; the `vm_env` fixture destroys and undefines all of them before
and after each test, so a failed test leaves nothing behind.

Domain types: diskless domains with no OS start in a fraction of a second
under KVM, but on some hosts /dev/kvm cannot run a real guest kernel
(kvm_pvm, see /work/shared/reference/test-host.md), so:
  - `diskless_xml` uses `kvm` when a probe domain starts under it, else
    `qemu` (TCG), decided once per session;
  - `guest_xml` (the real tiny guest of scripts/build-guest.sh, for tests
    where the guest must react: ACPI shutdown, hibernation) is always TCG.
No domain gets a NIC: nothing here sends traffic outside loopback.
"""

import json
import os
import pathlib
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid

import pytest
import stomp

from conftest import REPO
from vdsmtest import EVENTS, PROMPT, RpcClient, wait_for

ALL_PREFIX = "vdt3-"
# This test session's domains: vdt3-p<pytest pid>-...  Several sessions may
# run at once on one host (developers, CI stages); each cleans its own and
# the leftovers of sessions that are gone, never a live session's.
PREFIX = "%sp%d-" % (ALL_PREFIX, os.getpid())
_SESSION_RE = re.compile(r"^vdt3-p(\d+)-")
VIRSH = ["virsh", "-q", "-c", "qemu:///system"]
EMULATOR = "/usr/bin/qemu-system-x86_64"
GUEST_DIR = pathlib.Path(os.environ.get("VDSM_GUEST_DIR", "/var/cache/vdsm-c/guest"))
CONSOLE_DIR = pathlib.Path("/var/log/vdsm-c/guest")
# Settings every VM test daemon gets: a short "Powering up" window so
# tests see Up quickly.
GUEST_WAIT = 2


# --- libvirt through virsh -------------------------------------------------

def virsh(*args, check=True, timeout=60):
    proc = subprocess.run(VIRSH + list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("virsh %s failed: %s" % (" ".join(args), proc.stderr.strip()))
    return proc.stdout.strip()


def domain_names():
    out = virsh("list", "--all", "--name", check=False)
    return [n for n in out.splitlines() if n.strip()]


def domain_state(name):
    proc = subprocess.run(VIRSH + ["domstate", name], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def domain_id(name):
    """libvirt's runtime id: it changes when the domain is restarted."""
    return virsh("domid", name, check=False)


def qemu_pid(name):
    try:
        return int(pathlib.Path("/run/libvirt/qemu/%s.pid" % name).read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _ours_or_orphaned(name):
    """Domains this session may remove: its own, and vdt3- domains whose
    session is gone (or that belong to no session: benches, manual runs)."""
    if not name.startswith(ALL_PREFIX):
        return False
    if name.startswith(PREFIX):
        return True
    m = _SESSION_RE.match(name)
    return not (m and _pid_alive(int(m.group(1))))


def cleanup_domains(prefix=None):
    names = [n for n in domain_names()
             if (n.startswith(prefix) if prefix else _ours_or_orphaned(n))]
    procs = [subprocess.Popen(VIRSH + ["destroy", n], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for n in names]
    for p in procs:
        p.wait(60)
    for n in names:
        subprocess.run(VIRSH + ["undefine", "--nvram", n], capture_output=True)
        subprocess.run(VIRSH + ["undefine", n], capture_output=True)


def libvirtd_pid():
    try:
        pid = int(pathlib.Path("/run/libvirtd.pid").read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def ensure_libvirtd():
    """Start libvirtd when it is not running, and wait until it answers."""
    if libvirtd_pid() is None:
        # Another test session may be starting it at this very moment: its
        # pid file lock makes ours fail, and that is fine.
        subprocess.run(["libvirtd", "-d"], capture_output=True)
    wait_for(lambda: subprocess.run(VIRSH + ["version"], capture_output=True).returncode == 0,
             30, interval=0.1, what="libvirtd to answer")


# --- domain XML -------------------------------------------------------------

_DOMAIN_TYPE = None


def domain_type():
    """kvm when a diskless probe domain runs under it here, else qemu."""
    global _DOMAIN_TYPE
    if _DOMAIN_TYPE is None:
        _DOMAIN_TYPE = "qemu"
        if os.path.exists("/dev/kvm"):
            name = PREFIX + "probe-kvm"
            xml = diskless_xml(name, str(uuid.uuid4()), dom_type="kvm")
            path = "/tmp/%s.xml" % name
            pathlib.Path(path).write_text(xml)
            proc = subprocess.run(VIRSH + ["create", path], capture_output=True, text=True)
            if proc.returncode == 0:
                time.sleep(0.3)
                if domain_state(name) == "running":
                    _DOMAIN_TYPE = "kvm"
                subprocess.run(VIRSH + ["destroy", name], capture_output=True)
            os.unlink(path)
    return _DOMAIN_TYPE


def diskless_xml(name, vm_id, dom_type=None, memory_mib=64, emulator=EMULATOR, disk=None,
                 cdrom=None, graphics="vnc", machine="pc", acpi=True, balloon=True,
                 extra_devices=""):
    """A domain with no OS and no disk (starts in ~0.3 s under KVM).  Its
    graphics carry an expired password, as the engine sends them: QEMU
    then accepts tickets later (VM.setTicket)."""
    assert name.startswith(PREFIX)
    dom_type = dom_type or domain_type()
    devices = ["<emulator>%s</emulator>" % emulator]
    if disk:
        devices.append("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                       "<source file='%s'/><target dev='vda' bus='virtio'/></disk>" % disk)
    if cdrom is not None:
        src = "<source file='%s'/>" % cdrom if cdrom else ""
        devices.append("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>%s"
                       "<target dev='hdc' bus='ide'/><readonly/></disk>" % src)
    if graphics:
        devices.append("<graphics type='%s' autoport='yes' listen='127.0.0.1' passwd='x' "
                       "passwdValidTo='1970-01-01T00:00:01'/>" % graphics)
    devices.append("<video><model type='none'/></video>")
    devices.append("<memballoon model='%s'/>" % ("virtio" if balloon else "none"))
    devices.append(extra_devices)
    tcg = "<tcg><tb-cache unit='MiB'>16</tb-cache></tcg>" if dom_type == "qemu" else ""
    return """<domain type='%s'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>%d</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='%s'>hvm</type></os>
  <features>%s%s</features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    %s
  </devices>
</domain>
""" % (dom_type, name, vm_id, memory_mib, machine, "<acpi/>" if acpi else "", tcg,
       "\n    ".join(d for d in devices if d))


def build_guest():
    """The tiny real guest (kernel + initramfs), built once and cached."""
    proc = subprocess.run(["bash", str(REPO / "scripts" / "build-guest.sh")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, "build-guest.sh failed:\n%s%s" % (proc.stdout, proc.stderr)
    assert (GUEST_DIR / "vmlinuz").exists() and (GUEST_DIR / "initrd.img").exists()
    return GUEST_DIR


def guest_xml(name, vm_id, memory_mib=128):
    """The tiny real guest under TCG, with ACPI, qemu-ga and a VNC display."""
    assert name.startswith(PREFIX)
    proc = subprocess.run(["/usr/bin/python3", str(REPO / "scripts" / "mkdom.py"),
                           "--name", name, "--uuid", vm_id, "--memory", str(memory_mib),
                           "--type", "qemu", "--guest-dir", str(GUEST_DIR)],
                          capture_output=True, text=True, check=True)
    xml = proc.stdout
    # A display for the ticket verbs; the guest itself needs none.
    return xml.replace("</devices>", "  <graphics type='vnc' autoport='yes' "
                       "listen='127.0.0.1' passwd='x' passwdValidTo='1970-01-01T00:00:01'/>\n"
                       "  </devices>", 1)


def console_log(name):
    return CONSOLE_DIR / ("%s.console" % name)


def wait_guest_ready(name, timeout=120):
    """Wait for the guest's boot marker on its serial console."""
    path = console_log(name)

    def ready():
        try:
            return "VDSM-C-GUEST-READY" in path.read_text(errors="replace")
        except OSError:
            return False
    wait_for(ready, timeout, interval=0.5, what="guest %s to boot" % name)


def agent_command(name, command, timeout=10):
    return json.loads(virsh("qemu-agent-command", name, json.dumps(command),
                            "--timeout", str(timeout), timeout=timeout + 10))


# --- the API -----------------------------------------------------------------

class VdsmError(Exception):
    def __init__(self, code, message):
        super().__init__("%d: %s" % (code, message))
        self.code = code
        self.message = message


class Api:
    """JSON-RPC over STOMP to one vdsmd (vdsmtest's RpcClient), with VDSM
    errors raised as VdsmError."""

    def __init__(self, daemon, timeout=30):
        self.daemon = daemon
        self.timeout = timeout
        self.client = daemon.rpc()

    def call(self, method, params=None, timeout=None):
        resp = self.client.call(method, params or {}, timeout=timeout or self.timeout)
        if "error" in resp:
            raise VdsmError(resp["error"]["code"], resp["error"]["message"])
        return resp["result"]

    def error(self, method, params=None):
        """The VdsmError a call must fail with."""
        with pytest.raises(VdsmError) as info:
            self.call(method, params)
        return info.value

    def create(self, xml, **vm_params):
        vm_id = re.search(r"<uuid>([^<]+)</uuid>", xml).group(1)
        vm_params["xml"] = xml
        return self.call("VM.create", {"vmID": vm_id, "vmParams": vm_params})

    def stats(self, vm_id):
        result = self.call("VM.getStats", {"vmID": vm_id})
        assert isinstance(result, list) and len(result) == 1, result
        return result[0]

    def status(self, vm_id):
        return self.stats(vm_id)["status"]

    def wait_status(self, vm_id, status, timeout=60):
        last = {}

        def check():
            last["stats"] = self.stats(vm_id)
            return last["stats"]["status"] == status
        try:
            wait_for(check, timeout, interval=0.1, what="VM %s to be %s" % (vm_id, status))
        except AssertionError as e:
            raise AssertionError("%s; last stats %r" % (e, last.get("stats")))
        return last["stats"]

    def destroy(self, vm_id, **kw):
        return self.call("VM.destroy", dict(vmID=vm_id, **kw))

    def vm_ids(self):
        return [v["vmId"] for v in self.call("Host.getVMList")]

    def close(self):
        self.client.close()


# --- events through python3-stomp ----------------------------------------------

class EventWatcher(stomp.ConnectionListener):
    """A python3-stomp subscriber of jms.queue.events that keeps every
    |virt|VM_status| event in arrival order."""

    def __init__(self, daemon):
        self.events = []  # (vm_id, details, notify_time)
        self.cond = threading.Condition()
        self.conn = stomp.Connection12([(daemon.host, daemon.port)], heartbeats=(0, 0),
                                       reconnect_attempts_max=1, auto_decode=True)
        if daemon.ssl:
            self.conn.set_ssl(for_hosts=[(daemon.host, daemon.port)], key_file=daemon.store.key,
                              cert_file=daemon.store.cert, ca_certs=daemon.store.ca)
        self.conn.set_listener("events", self)
        self.conn.connect(wait=True, with_connect_command=True)
        # The subscription must be in place before anything the test does
        # on its other connections: wait for its RECEIPT.
        self.receipts = set()
        receipt = "events-%s" % uuid.uuid4().hex[:8]
        self.conn.subscribe(destination=EVENTS, id=str(uuid.uuid4()), ack="auto",
                            headers={"receipt": receipt})
        with self.cond:
            assert self.cond.wait_for(lambda: receipt in self.receipts, PROMPT), \
                "no RECEIPT for the events subscription"

    def on_receipt(self, frame):
        with self.cond:
            self.receipts.add(frame.headers.get("receipt-id"))
            self.cond.notify_all()

    def on_message(self, frame):
        body = json.loads(frame.body)
        method = body.get("method", "")
        if not method.startswith("|virt|VM_status|"):
            return
        vm_id = method.rsplit("|", 1)[1]
        params = body["params"]
        with self.cond:
            self.events.append((vm_id, params[vm_id], params["notify_time"]))
            self.cond.notify_all()

    def of(self, vm_id):
        with self.cond:
            return [d for i, d, _ in self.events if i == vm_id]

    def statuses(self, vm_id):
        return [d["status"] for d in self.of(vm_id)]

    def wait(self, vm_id, status, timeout=60):
        """Wait for an event with this status; return its details."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, d, _ in self.events:
                    if i == vm_id and d["status"] == status:
                        return d
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no %s event for %s within %d s; got %r"
                                         % (status, vm_id, timeout, self.statuses(vm_id)))
                self.cond.wait(remaining)

    def close(self):
        try:
            self.conn.disconnect()
        except Exception:
            pass


# --- the daemon ---------------------------------------------------------------

def vm_overrides(workdir, extra=None, run_dir=None):
    """Settings for a VM test daemon.  Pass the same @run_dir to a daemon
    that replaces a killed one: it is the agent tag in the VMs' metadata
    (vm-metadata.h), which decides who may write it."""
    hib = pathlib.Path(workdir) / "hibernation"
    hib.mkdir(exist_ok=True)
    os.chmod(hib, 0o777)
    over = {"vars": {"guest_wait_timeout": str(GUEST_WAIT), "hibernation_dir": str(hib)}}
    if run_dir:
        pathlib.Path(run_dir).mkdir(exist_ok=True)
        os.chmod(run_dir, 0o777)
        over["vars"]["run_dir"] = str(run_dir)
    for section, values in (extra or {}).items():
        over.setdefault(section, {}).update(values)
    return over


def kill9(daemon):
    """kill -9 a vdsmd and make the factory's teardown forget it."""
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(10)
    daemon.proc = None


def new_id():
    return str(uuid.uuid4())


@pytest.fixture
def vm_env(workdir):
    """No vdt3- domains before or after the test; libvirtd running after."""
    ensure_libvirtd()
    cleanup_domains()
    domain_type()  # probe before any daemon runs: it would adopt the probe
    yield workdir
    ensure_libvirtd()
    cleanup_domains()


@pytest.fixture
def vm_daemon(request, vm_env, vdsmd_factory):
    """vdsmd (plain TCP) set up for VM tests; @pytest.mark.vdsm_config adds
    settings."""
    marker = request.node.get_closest_marker("vdsm_config")
    return vdsmd_factory(ssl=False, overrides=vm_overrides(vm_env, marker.args[0] if marker
                                                           else None))


@pytest.fixture
def api(vm_daemon):
    client = Api(vm_daemon)
    wait_for(lambda: _ready(client), 60, interval=0.1, what="vdsmd to finish recovery")
    yield client
    client.close()


def _ready(client):
    try:
        client.call("Host.ping2")
        return True
    except VdsmError as e:
        if e.code == 99:
            return False
        raise


@pytest.fixture
def events(vm_daemon, api):
    watcher = EventWatcher(vm_daemon)
    yield watcher
    watcher.close()


@pytest.fixture(scope="session")
def tiny_guest():
    return build_guest()


@pytest.fixture
def slow_emulator(workdir):
    """An emulator that waits 3 s before it execs QEMU: a creation that
    stays in staging long enough to act on it.  While a domain start (not a
    capabilities probe) waits, it keeps a file in SLOW_INFLIGHT_DIR, so a
    test can count the starts running at once."""
    path = pathlib.Path(workdir) / "slow-qemu"
    inflight = slow_inflight_dir(workdir)
    inflight.mkdir(exist_ok=True)
    os.chmod(inflight, 0o777)
    path.write_text("#!/bin/sh\n"
                    "case \"$*\" in\n"
                    "*guest=*) m=%s/$$; : >\"$m\"; sleep 3; rm -f \"$m\" ;;\n"
                    "*) sleep 3 ;;\n"
                    "esac\n"
                    "exec %s \"$@\"\n" % (inflight, EMULATOR))
    os.chmod(path, 0o755)
    return str(path)


def slow_inflight_dir(workdir):
    return pathlib.Path(workdir) / "slow-qemu-inflight"


def make_file(path, size=1 << 20):
    with open(path, "wb") as f:
        f.truncate(size)
    os.chmod(path, 0o644)
    return str(path)


def which(name):
    return shutil.which(name)
