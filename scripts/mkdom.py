#!/usr/bin/python3
"""mkdom.py - print a libvirt domain XML for vdsm-c's tiny guest.

DESIGN: a pure text generator (no libvirt calls), so tests and the README
can pipe it to `virsh define /dev/stdin` or load it.  The guest is booted
directly from the kernel and initrd that scripts/build-guest.sh caches
(default /var/cache/vdsm-c/guest, or $VDSM_GUEST_DIR).  The domain type is
TCG (`qemu`) unless --type kvm is given: on some hosts /dev/kvm cannot run a
stock Debian kernel (see docs/guest.md).  It has both agent channels
(org.qemu.guest_agent.0 and ovirt-guest-agent.0; libvirt picks the socket
paths unless --*-socket is given), ACPI, a serial console on a pty logged to
a file, no NIC unless asked for (and the guest never configures one), and
an optional qcow2 disk.  Its one side effect: it creates the default
console log directory.

Usage: mkdom.py --name NAME [--uuid UUID] [--memory MIB] [--vcpus N]
                [--type qemu|kvm] [--guest-dir DIR] [--console-log FILE]
                [--disk FILE.qcow2] [--nic-bridge BRIDGE]
                [--qga-socket PATH] [--ovirt-socket PATH] [--cmdline EXTRA]
"""
import argparse
import os
import sys
import uuid as uuidlib
from xml.sax.saxutils import escape, quoteattr

MIN_MEMORY_MIB = 96  # 80 boots under TCG; keep a margin (docs/guest.md)


def build(a):
    guest = os.path.abspath(a.guest_dir)
    log = a.console_log or os.path.join('/var/log/vdsm-c/guest', a.name + '.console')
    # no_timer_check: on a loaded host a TCG guest's kernel can stall in its
    # IO-APIC timer check ("MP-BIOS bug: 8254 timer not connected"; seen
    # with 1 of 100 bench guests booting at load 130)
    cmdline = 'console=ttyS0 quiet panic=-1 no_timer_check vdsmc.hostname=%s' % a.hostname
    if a.cmdline:
        cmdline += ' ' + a.cmdline
    features = '<acpi/>'
    if a.type == 'qemu':
        features += "<tcg><tb-cache unit='MiB'>32</tb-cache></tcg>"

    def chan(name, path):
        src = "<source mode='bind' path=%s/>" % quoteattr(path) if path else ''
        return ("    <channel type='unix'>%s<target type='virtio' name='%s'/></channel>\n"
                % (src, name))

    x = "<domain type='%s'>\n" % a.type
    x += '  <name>%s</name>\n' % escape(a.name)
    x += '  <uuid>%s</uuid>\n' % a.uuid
    x += "  <memory unit='MiB'>%d</memory>\n" % a.memory
    x += "  <currentMemory unit='MiB'>%d</currentMemory>\n" % a.memory
    x += '  <vcpu>%d</vcpu>\n' % a.vcpus
    x += ("  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n"
          "    <kernel>%s</kernel>\n    <initrd>%s</initrd>\n"
          "    <cmdline>%s</cmdline>\n  </os>\n"
          % (escape(os.path.join(guest, 'vmlinuz')), escape(os.path.join(guest, 'initrd.img')),
             escape(cmdline)))
    x += '  <features>%s</features>\n' % features
    x += ('  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n'
          '  <on_crash>destroy</on_crash>\n')
    x += '  <devices>\n'
    if a.disk:
        x += ("    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
              "<source file=%s/><target dev='vda' bus='virtio'/></disk>\n"
              % quoteattr(os.path.abspath(a.disk)))
    if a.nic_bridge:
        x += ("    <interface type='bridge'><source bridge=%s/><model type='virtio'/>"
              "</interface>\n" % quoteattr(a.nic_bridge))
    x += ("    <serial type='pty'><log file=%s append='off'/><target port='0'/></serial>\n"
          "    <console type='pty'><target type='serial' port='0'/></console>\n"
          % quoteattr(log))
    x += chan('org.qemu.guest_agent.0', a.qga_socket)
    x += chan('ovirt-guest-agent.0', a.ovirt_socket)
    x += "    <video><model type='none'/></video>\n"
    x += "    <memballoon model='virtio'/>\n"
    x += '  </devices>\n</domain>\n'
    return x


def main(argv):
    p = argparse.ArgumentParser(description='Print a domain XML for the vdsm-c tiny guest.')
    p.add_argument('--name', required=True)
    p.add_argument('--uuid', default=None, help='default: a random UUID')
    p.add_argument('--memory', type=int, default=128, help='MiB, at least %d' % MIN_MEMORY_MIB)
    p.add_argument('--vcpus', type=int, default=1)
    p.add_argument('--type', choices=('qemu', 'kvm'), default=os.environ.get('VDSM_DOMAIN_TYPE', 'qemu'),
                   help='qemu = TCG (default; $VDSM_DOMAIN_TYPE overrides)')
    p.add_argument('--guest-dir', default=os.environ.get('VDSM_GUEST_DIR', '/var/cache/vdsm-c/guest'))
    p.add_argument('--console-log', default=None,
                   help='serial console log (default /var/log/vdsm-c/guest/NAME.console)')
    p.add_argument('--disk', default=None, help='an existing qcow2 image, attached as vda')
    p.add_argument('--nic-bridge', default=None,
                   help='add a virtio NIC on this bridge (the guest leaves it unconfigured)')
    p.add_argument('--qga-socket', default=None)
    p.add_argument('--ovirt-socket', default=None)
    p.add_argument('--hostname', default=None, help='guest host name (default: NAME)')
    p.add_argument('--cmdline', default=None, help='extra kernel command line')
    a = p.parse_args(argv)
    if a.memory < MIN_MEMORY_MIB:
        p.error('--memory must be at least %d MiB' % MIN_MEMORY_MIB)
    a.uuid = str(uuidlib.UUID(a.uuid)) if a.uuid else str(uuidlib.uuid4())
    a.hostname = a.hostname or a.name
    if not all(c.isalnum() or c in '-.' for c in a.hostname):
        p.error('--hostname may hold letters, digits, "-" and "." only')
    if not a.console_log:
        # The one side effect: virtlogd does not create the log's directory.
        os.makedirs('/var/log/vdsm-c/guest', exist_ok=True)
    sys.stdout.write(build(a))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
