"""Fixtures that run the real vdsmd binary.

Each test gets its own vdsmd (VDSM_BUILD_DIR, default <repo>/build) on a
free port with a temporary config file, using a throwaway trust store that
scripts/make-certs.sh creates once per session.  The daemon is started as
root and drops to user vdsm by itself, so every file it reads lives in a
world-readable temporary directory.  After the test it gets SIGTERM; the
test fails if vdsmd exited by itself, did not exit 0, or printed a
sanitizer report, and a failing test shows the tail of vdsmd's log.

start() returns once the port accepts connections and the ready gate has
opened (requests no longer get 99), unless the config holds the gate with
[devel] recovery_delay or the caller passes wait_ready=False.

VDSM_TEST_VALGRIND=1 runs every vdsmd of the factory under valgrind's
memcheck; a daemon that lost memory (definitely or indirectly lost blocks
at exit) fails its test with valgrind's first loss records.

Per-test settings: @pytest.mark.vdsm_config({"rpc": {"worker_threads": 1}})
for the `vdsmd`/`vdsmd_plain`/`any_vdsmd` fixtures, or call
vdsmd_factory(ssl=..., overrides=..., wait_ready=...) directly.
"""

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from vdsmtest import PROMPT, RpcClient, StompConn, client_context

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("VDSM_BUILD_DIR", REPO / "build")).resolve()
VDSMD = BUILD / "src" / "vdsmd"
VDSM_CLIENT = BUILD / "tools" / "vdsm-client"
MAKE_CERTS = REPO / "scripts" / "make-certs.sh"
VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
UNDER_VALGRIND = os.environ.get("VDSM_TEST_VALGRIND") == "1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 120.0 if UNDER_VALGRIND else 15.0
LOG_TAIL_LINES = 150
# Patterns in vdsmd's output that fail the test even when it exited 0:
# sanitizer reports and GLib's g_return_if_fail() criticals.
BAD_LOG_PATTERNS = (r"AddressSanitizer", r"LeakSanitizer", r"runtime error:",
                    r"assertion '.*' failed")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "vdsm_config(overrides): vdsm.conf settings {section: {key: value}} "
        "for the vdsmd, vdsmd_plain and any_vdsmd fixtures")
    config.addinivalue_line(
        "markers", "timing: asserts a latency or freshness bound; run in the normal stage, "
        "left out of the sanitizer stage where instrumentation slows vdsmd several times")
    config.addinivalue_line(
        "markers", "memory: asserts a bound on vdsmd's RSS, or no loss under valgrind; run in "
        "the normal stage, left out of the sanitizer stage where ASan keeps freed memory in "
        "quarantine (and its binary does not run under valgrind)")
    # stomp.py 8 builds its TLS context with a deprecated constant.
    config.addinivalue_line("filterwarnings",
                            "ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")


class TrustStore:
    """A directory in VDSM's layout (keys/vdsmkey.pem, certs/...)."""

    def __init__(self, path):
        self.dir = pathlib.Path(path)
        self.key = str(self.dir / "keys" / "vdsmkey.pem")
        self.cert = str(self.dir / "certs" / "vdsmcert.pem")
        self.ca = str(self.dir / "certs" / "cacert.pem")


def make_trust_store(path):
    proc = subprocess.run(["bash", str(MAKE_CERTS), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, "make-certs.sh failed:\n%s%s" % (proc.stdout, proc.stderr)
    return TrustStore(path)


def free_port():
    """A port free on both IPv6 (dual stack) and IPv4 at this moment."""
    try:
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
    except OSError:
        s = socket.socket(socket.AF_INET)
        s.bind(("0.0.0.0", 0))
    with s:
        return s.getsockname()[1]


def describe_status(rc):
    if rc < 0:
        try:
            return "signal %s" % signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return "exit status %d" % rc


class Vdsmd:
    """One vdsmd process with its own config, run dir and log."""

    def __init__(self, workdir, store, ssl=True, overrides=None, valgrind=UNDER_VALGRIND):
        self.valgrind_log = None
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="vdsmd-", dir=workdir))
        os.chmod(self.dir, 0o755)
        self.run_dir = self.dir / "run"
        self.run_dir.mkdir()
        try:
            shutil.chown(self.run_dir, "vdsm", "kvm")
        except (LookupError, PermissionError):
            os.chmod(self.run_dir, 0o777)
        self.store = store
        self.ssl = ssl
        self.host = "127.0.0.1"
        self.port = free_port()
        self.config = {
            "vars": {
                "ssl": "true" if ssl else "false",
                "trust_store_path": str(store.dir),
                "run_dir": str(self.run_dir),
            },
            "addresses": {"management_port": str(self.port)},
        }
        for section, values in (overrides or {}).items():
            self.config.setdefault(section, {}).update({k: str(v) for k, v in values.items()})
        if "management_port" in self.config["addresses"]:
            self.port = int(self.config["addresses"]["management_port"])
        self.config_path = self.dir / "vdsm.conf"
        with open(self.config_path, "w") as f:
            for section, values in self.config.items():
                f.write("[%s]\n" % section)
                for k, v in values.items():
                    f.write("%s = %s\n" % (k, v))
                f.write("\n")
        os.chmod(self.config_path, 0o644)
        self.log_path = self.dir / "vdsmd.log"
        if valgrind:
            self.valgrind_log = self.dir / "valgrind.txt"
        self.proc = None
        self.terminated = False

    @property
    def args(self):
        args = []
        if self.valgrind_log:
            # A vdsmd built with -Dallocator=tcmalloc: valgrind must replace
            # tcmalloc's malloc too, or it sees none of its blocks;
            # valgrind.supp names the one block tcmalloc itself keeps.
            args = [VALGRIND, "--leak-check=full", "--show-leak-kinds=definite,indirect",
                    "--soname-synonyms=somalloc=*tcmalloc*",
                    "--suppressions=%s" % (pathlib.Path(__file__).parent / "valgrind.supp"),
                    "--num-callers=30", "--log-file=%s" % self.valgrind_log]
        args += [str(VDSMD), "--config", str(self.config_path)]
        if os.geteuid() != 0:
            args.append("--no-drop-privileges")
        return args

    def start(self, wait_ready=None):
        """Start vdsmd, wait for its port and, unless the test holds the
        ready gate with [devel] recovery_delay, for the gate to open."""
        if wait_ready is None:
            wait_ready = float(self.config.get("devel", {}).get("recovery_delay", 0)) <= 0
        assert VDSMD.exists(), "%s is not built" % VDSMD
        env = dict(os.environ)
        env.setdefault("VDSM_LOG_LEVEL", "DEBUG")  # a failing test shows the details
        env["VDSM_LOG_NO_JOURNAL"] = "1"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=str(self.dir), env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("vdsmd exited during start-up with %s:\n%s"
                                     % (describe_status(rc), self.log_tail()))
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("vdsmd did not accept connections on port %d within %d s:\n%s"
                                     % (self.port, START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)
        if wait_ready:
            self.wait_ready(deadline)
        return self

    def wait_ready(self, deadline):
        """Wait until the ready gate opens: requests stop getting 99."""
        client = self.rpc()
        try:
            while True:
                resp = client.call("Host.ping2", {})
                if "error" not in resp:
                    return
                assert resp["error"]["code"] == 99, resp
                if time.monotonic() > deadline:
                    raise AssertionError("vdsmd still answers 99 after %d s:\n%s"
                                         % (START_TIMEOUT, self.log_tail()))
                time.sleep(0.05)
        finally:
            client.close()

    def terminate(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stop the daemon within the test; returns its exit status."""
        self.terminated = True
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("vdsmd did not exit within %d s of %s:\n%s"
                                 % (timeout, signal.Signals(sig).name, self.log_tail()))

    def stop(self):
        """Stop with SIGTERM; return a list of problems (empty when fine)."""
        problems = []
        if self.proc is None:
            return problems
        rc = self.proc.poll()
        if self.terminated:
            pass  # the test stopped it and checked the status itself
        elif rc is not None:
            problems.append("vdsmd (port %d) exited by itself during the test with %s"
                            % (self.port, describe_status(rc)))
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("vdsmd (port %d) did not exit within %d s of SIGTERM"
                                % (self.port, STOP_TIMEOUT))
            else:
                if rc != 0:
                    problems.append("vdsmd (port %d) exited with %s after SIGTERM"
                                    % (self.port, describe_status(rc)))
        problems += self.valgrind_problems()
        text = self.log_text()
        for pat in BAD_LOG_PATTERNS:
            match = re.search(pat, text)
            if match:
                line = text[text.rfind("\n", 0, match.start()) + 1:text.find("\n", match.end())]
                problems.append("vdsmd (port %d) log: %s" % (self.port, line))
        return problems

    def valgrind_lost(self):
        """{"definitely": bytes, "indirectly": bytes} from valgrind's leak
        summary at exit, {} when it wrote none, None when not under valgrind."""
        if not self.valgrind_log:
            return None
        try:
            text = self.valgrind_log.read_text(errors="replace")
        except FileNotFoundError:
            return {}
        lost = {}
        for kind in ("definitely", "indirectly"):
            m = re.search(r"%s lost: ([\d,]+) bytes" % kind, text)
            if m:
                lost[kind] = int(m.group(1).replace(",", ""))
        return lost

    def valgrind_problems(self):
        """Blocks valgrind found lost at exit, with its first loss records."""
        lost = self.valgrind_lost()
        if not lost or not any(lost.values()):
            return []
        text = self.valgrind_log.read_text(errors="replace")
        records = [r for r in re.split(r"\n==\d+== ?\n", text) if "are definitely lost" in r]
        return ["vdsmd (port %d) lost memory under valgrind: %r\n%s"
                % (self.port, lost, "\n".join(records[:3]))]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=LOG_TAIL_LINES):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # clients
    def ssl_context(self, cert=True, store=None, ca=None):
        return client_context(store or self.store, cert=cert, ca=ca)

    def connect(self, cert=True, store=None, timeout=PROMPT, rcvbuf=None, host=None):
        ctx = self.ssl_context(cert, store) if self.ssl else None
        return StompConn(host or self.host, self.port, ctx, timeout=timeout, rcvbuf=rcvbuf)

    def rpc(self, reply_to=None, heartbeat="0,0"):
        return RpcClient(self.connect(), reply_to=reply_to, heartbeat=heartbeat)

    def assert_served(self, timeout=PROMPT):
        """A fresh client connects and gets Host.ping2 answered promptly."""
        assert self.alive(), "vdsmd is not running:\n" + self.log_tail()
        t0 = time.monotonic()
        client = self.rpc()
        try:
            assert client.result("Host.ping2", {}, timeout=timeout) is True
        finally:
            client.close()
        elapsed = time.monotonic() - t0
        assert elapsed < timeout, "ping2 took %.2f s" % elapsed
        return elapsed


@pytest.fixture(scope="session")
def workdir():
    path = tempfile.mkdtemp(prefix="vdsm-systest-")
    os.chmod(path, 0o755)  # vdsmd runs as user vdsm and reads its files from here
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def trust_store(workdir):
    return make_trust_store(workdir / "pki")


@pytest.fixture(scope="session")
def foreign_store(workdir):
    """A second, unrelated CA with its own host certificate."""
    return make_trust_store(workdir / "foreign-pki")


@pytest.fixture
def vdsmd_factory(request, workdir, trust_store):
    daemons = []
    request.node._vdsmd_daemons = daemons

    def start(ssl=True, overrides=None, store=None, wait_ready=None, valgrind=UNDER_VALGRIND):
        daemon = Vdsmd(workdir, store or trust_store, ssl=ssl, overrides=overrides,
                       valgrind=valgrind)
        daemons.append(daemon)
        return daemon.start(wait_ready=wait_ready)

    yield start
    problems = []
    for daemon in daemons:
        problems += daemon.stop()
    _save_logs(request, daemons)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _marker_overrides(request):
    marker = request.node.get_closest_marker("vdsm_config")
    return marker.args[0] if marker else None


@pytest.fixture
def vdsmd(request, vdsmd_factory):
    """vdsmd with TLS (the default configuration)."""
    return vdsmd_factory(ssl=True, overrides=_marker_overrides(request))


@pytest.fixture
def vdsmd_plain(request, vdsmd_factory):
    """vdsmd with [vars] ssl = false."""
    return vdsmd_factory(ssl=False, overrides=_marker_overrides(request))


@pytest.fixture(params=["tls", "plain"])
def any_vdsmd(request, vdsmd_factory):
    """The test runs twice: against a TLS and a plain-TCP vdsmd."""
    return vdsmd_factory(ssl=request.param == "tls", overrides=_marker_overrides(request))


def _save_logs(request, daemons):
    """Keep the daemon logs of failed tests when VDSM_TEST_LOGDIR is set."""
    logdir = os.environ.get("VDSM_TEST_LOGDIR")
    failed = any(getattr(request.node, "_rep_" + p, None) is not None
                 and getattr(request.node, "_rep_" + p).failed for p in ("setup", "call"))
    if not logdir or not failed:
        return
    os.makedirs(logdir, exist_ok=True)
    name = request.node.nodeid.replace("/", "_").replace("::", "-")
    for i, daemon in enumerate(daemons):
        shutil.copy(daemon.log_path, os.path.join(logdir, "%s-%d.log" % (name, i)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "_rep_" + rep.when, rep)
    if rep.failed:
        for daemon in getattr(item, "_vdsmd_daemons", []):
            rep.sections.append(("vdsmd log, port %d (last %d lines)" % (daemon.port, LOG_TAIL_LINES),
                                 daemon.log_tail()))
