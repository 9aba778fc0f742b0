#!/usr/bin/python3
"""guest-smoke.py - boot vdsm-c's tiny guest with virsh and time each step.

DESIGN: a stand-alone check of scripts/build-guest.sh and scripts/mkdom.py
against the real libvirtd (qemu:///system), without vdsmd: build (cached),
define, start, wait for qemu-ga's guest-ping, talk to the oVirt agent
responder through the real virtio-serial channel (the unix socket libvirt
created, read from the live XML), stop/start both agents from inside the
guest (guest-exec and the serial console), reboot through the oVirt agent,
ACPI shutdown, start again, power off through the oVirt agent, undefine.
One guest at a time; the domain name must start with "vdt" so a failed run
can be cleaned with `virsh destroy/undefine`.  Prints one line per step with
its duration; exits non-zero on the first failure (after cleaning up).

Usage: guest-smoke.py [--name vdt5-guest] [--type qemu|kvm] [--keep]
"""
import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
URI = os.environ.get('LIBVIRT_DEFAULT_URI', 'qemu:///system')


def virsh(*args, check=True, timeout=60):
    p = subprocess.run(['virsh', '-c', URI, *args], capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError('virsh %s: %s' % (' '.join(args), p.stderr.strip()))
    return p


def qga(name, cmd, args=None, timeout=5):
    msg = {'execute': cmd}
    if args is not None:
        msg['arguments'] = args
    p = virsh('qemu-agent-command', '--timeout', str(timeout), name, json.dumps(msg),
              check=False, timeout=timeout + 10)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)['return']


def guest_exec(name, argv):
    """Run argv in the guest through qemu-ga; return (exitcode, stdout)."""
    r = qga(name, 'guest-exec', {'path': argv[0], 'arg': argv[1:], 'capture-output': True})
    if r is None:
        raise RuntimeError('guest-exec failed')
    for _ in range(100):
        s = qga(name, 'guest-exec-status', {'pid': r['pid']})
        if s and s.get('exited'):
            out = base64.b64decode(s.get('out-data', '')).decode()
            return s.get('exitcode'), out
        time.sleep(0.1)
    raise RuntimeError('guest-exec did not finish')


def wait(what, pred, timeout, step=0.2):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        r = pred()
        if r:
            return r
        time.sleep(step)
    raise RuntimeError('timed out waiting for ' + what)


class Step:
    def __init__(self, label):
        self.label = label

    def __enter__(self):
        self.t0 = time.monotonic()
        return self

    def __exit__(self, et, ev, tb):
        dt = time.monotonic() - self.t0
        print('%-52s %7.2f s%s' % (self.label, dt, '' if et is None else '  FAILED: %s' % ev),
              flush=True)


class Channel:
    """The host side of the ovirt-guest-agent.0 virtio-serial channel."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b''

    def send(self, msg):
        self.sock.sendall(json.dumps(msg).encode() + b'\n')

    def read_until(self, names, timeout):
        """Read messages until every name in @names was seen; return them all."""
        seen, want = [], set(names)
        end = time.monotonic() + timeout
        while want and time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            self.buf += data
            while b'\n' in self.buf:
                line, self.buf = self.buf.split(b'\n', 1)
                m = json.loads(line)
                seen.append(m)
                want.discard(m['__name__'])
        if want:
            raise RuntimeError('missing %s (got %s)' % (sorted(want), [m['__name__'] for m in seen]))
        return seen

    def close(self):
        self.sock.close()


def live_sources(name):
    xml = virsh('dumpxml', name).stdout
    chans = dict((t, p) for p, t in re.findall(
        r"<channel type='unix'>\s*<source mode='bind' path='([^']+)'/>\s*"
        r"<target type='virtio' name='([^']+)'", xml))
    pty = re.search(r"<serial type='pty'>\s*<source path='([^']+)'", xml).group(1)
    return chans, pty


class Console:
    """The serial console pty, held open for the whole run.

    QEMU's pty backend notices a connected slave only on a 1 s timer and
    reads nothing while it thinks the pty is disconnected, so a quick
    open-write-close loses the line.  While the pty is held open it must be
    drained, or the guest's console writes would stall.
    """

    def __init__(self, path):
        import threading
        import tty
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.out = bytearray()
        self.t = threading.Thread(target=self._drain, daemon=True)
        self.t.start()
        time.sleep(1.2)  # let QEMU see the connection

    def _drain(self):
        while True:
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            if not data:
                return
            self.out += data

    def run(self, line):
        os.write(self.fd, line.encode() + b'\r')

    def close(self):
        os.close(self.fd)


def state(name):
    return virsh('domstate', name, check=False).stdout.strip()


def cleanup(name):
    if state(name) not in ('', 'shut off'):
        virsh('destroy', name, check=False)
    virsh('undefine', name, check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--name', default='vdt5-guest')
    ap.add_argument('--type', default=os.environ.get('VDSM_DOMAIN_TYPE', 'qemu'))
    ap.add_argument('--memory', default='128')
    ap.add_argument('--keep', action='store_true', help='leave the guest running')
    a = ap.parse_args()
    if not a.name.startswith('vdt'):
        ap.error('the domain name must start with "vdt"')
    name = a.name
    cleanup(name)
    ok = False
    try:
        with Step('build-guest.sh (cached unless changed)'):
            subprocess.run([os.path.join(TOP, 'scripts', 'build-guest.sh')], check=True,
                           stdout=subprocess.DEVNULL)
        xml = subprocess.run([os.path.join(TOP, 'scripts', 'mkdom.py'), '--name', name,
                              '--uuid', str(uuid.uuid4()), '--memory', a.memory,
                              '--type', a.type], check=True, capture_output=True,
                             text=True).stdout
        with Step('virsh define'):
            virsh('define', '/dev/stdin') if False else subprocess.run(
                ['virsh', '-c', URI, 'define', '/dev/stdin'], input=xml, text=True,
                check=True, capture_output=True)
        t_start = time.monotonic()
        with Step('virsh start'):
            virsh('start', name)
        with Step('start -> qemu-ga guest-ping answers (from start)') as s:
            s.t0 = t_start
            wait('guest-ping', lambda: qga(name, 'guest-ping', timeout=1) is not None, 120)
        chans, pty = live_sources(name)
        try:
            with open('/run/libvirt/qemu/%s.pid' % name) as f:
                qpid = int(f.read())
            with open('/proc/%d/status' % qpid) as f:
                rss = [l.split()[1] for l in f if l.startswith('VmRSS:')][0]
            print('    qemu resident memory: %d MiB' % (int(rss) // 1024))
        except (OSError, ValueError, IndexError):
            pass
        con = Console(pty)
        with Step('oVirt channel: connect, refresh -> all reports'):
            ch = Channel(chans['ovirt-guest-agent.0'])
            ch.send({'__name__': 'refresh', 'apiVersion': 3})
            msgs = ch.read_until(['host-name', 'os-version', 'network-interfaces', 'applications',
                                  'active-user', 'disks-usage', 'heartbeat'], 30)
        byname = dict((m['__name__'], m) for m in msgs)
        assert byname['host-name']['name'] == name, byname['host-name']
        print('    reports:', ' '.join(sorted(byname)))
        print('    heartbeat:', json.dumps(byname['heartbeat']))
        print('    network-interfaces:', json.dumps(byname['network-interfaces']['interfaces']))
        with Step('oVirt: lock-screen, login, log-off (+ qemu-ga users)'):
            ch.send({'__name__': 'lock-screen'})
            ch.read_until(['session-lock'], 10)
            ch.send({'__name__': 'login', 'username': 'alice@example', 'password': 'secret'})
            m = ch.read_until(['session-logon', 'active-user'], 10)
            assert [x for x in m if x['__name__'] == 'active-user'][-1]['name'] == 'alice@example'
            users = qga(name, 'guest-get-users')
            assert [u['user'] for u in users] == ['alice@example'], users
            ch.send({'__name__': 'log-off'})
            ch.read_until(['session-logoff'], 10)
            assert qga(name, 'guest-get-users') == [], 'utmp not cleared'
        print('    qemu-ga guest-get-users while logged in:', json.dumps(users))
        with Step('oVirt: next heartbeat (period 5 s)'):
            ch.read_until(['heartbeat'], 12)
        with Step('guest-exec: read /run/ovirt-agent.log'):
            rc, out = guest_exec(name, ['/bin/cat', '/run/ovirt-agent.log'])
            assert rc == 0 and 'login username=alice@example' in out and 'secret' not in out, out
        print('    ' + out.strip().replace('\n', '\n    '))
        with Step('guest-exec agentctl stop ovirt -> channel silent'):
            rc, out = guest_exec(name, ['/usr/bin/agentctl', 'stop', 'ovirt'])
            assert rc == 0
            ch.send({'__name__': 'refresh', 'apiVersion': 3})
            try:
                ch.read_until(['host-name'], 6)
                raise AssertionError('responder still answers')
            except RuntimeError:
                pass
        with Step('console agentctl start ovirt -> refresh answered'):
            con.run('agentctl start ovirt')
            ch.close()
            ch = Channel(chans['ovirt-guest-agent.0'])
            ch.send({'__name__': 'refresh', 'apiVersion': 3})
            ch.read_until(['host-name', 'heartbeat'], 15)
        with Step('guest-exec agentctl stop qga -> guest-ping fails'):
            guest_exec(name, ['/usr/bin/agentctl', 'stop', 'qga'])
            wait('qga to stop', lambda: qga(name, 'guest-ping', timeout=1) is None, 10)
        with Step('console agentctl start qga -> guest-ping answers'):
            con.run('agentctl start qga')
            wait('guest-ping', lambda: qga(name, 'guest-ping', timeout=1) is not None, 20)
        with Step('oVirt shutdown reboot=True -> rebooted, agents back'):
            ch.close()
            ch = Channel(chans['ovirt-guest-agent.0'])
            ch.send({'__name__': 'shutdown', 'timeout': 0, 'message': 'bye', 'reboot': 'True'})
            ch.read_until(['session-shutdown'], 10)
            wait('qemu-ga to go away', lambda: qga(name, 'guest-ping', timeout=1) is None, 30)
            wait('guest-ping', lambda: qga(name, 'guest-ping', timeout=1) is not None, 60)
            rc, out = guest_exec(name, ['/bin/cat', '/proc/uptime'])
            assert float(out.split()[0]) < 30, out
            assert state(name) == 'running'
        ch.close()
        con.close()
        if a.keep:
            print('guest %s left running' % name)
            ok = True
            return 0
        with Step('virsh shutdown --mode acpi -> shut off'):
            virsh('shutdown', '--mode', 'acpi', name)
            wait('shut off', lambda: state(name) == 'shut off', 60)
            with open('/var/log/vdsm-c/guest/%s.console' % name, 'rb') as f:
                assert b'acpi: power button' in f.read(), 'acpid did not run the power action'
        with Step('virsh start again'):
            virsh('start', name)
        with Step('start -> oVirt agent heartbeat (from start)'):
            def connect():
                try:
                    return Channel(live_sources(name)[0]['ovirt-guest-agent.0'])
                except (OSError, KeyError):
                    return None
            ch = wait('channel', connect, 30)
            ch.read_until(['heartbeat'], 60)
        with Step('oVirt shutdown (poweroff) -> shut off'):
            ch.send({'__name__': 'shutdown', 'timeout': 0, 'message': 'bye', 'reboot': 'False'})
            ch.read_until(['session-shutdown'], 10)
            wait('shut off', lambda: state(name) == 'shut off', 60)
            ch.close()
        with Step('virsh undefine'):
            virsh('undefine', name)
        ok = True
        return 0
    finally:
        if not ok or not a.keep:
            cleanup(name)


if __name__ == '__main__':
    sys.exit(main())
