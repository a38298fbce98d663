"""Escape and exhaustion attempts: each asserts the sandbox held and the host is untouched.

This file only grows. Every attack runs on every backend (``sandbox`` is parametrized);
the JavaScript variants at the end repeat the attacks that apply to Node. After every run,
:func:`attack` checks that nothing of it is left on the host (run directory, cgroup,
container), and tests add host-side checks of their own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import RUN_DIR, leftovers, run

from masterai.sandbox import (
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    ExecutionResult,
    InvalidRequestError,
)
from masterai.sandbox.bubblewrap import BUILT_AHEAD
from masterai.sandbox.runtimes import runners_dir, runtime_dir
from masterai.sandbox.workspace import RunWorkspace


async def attack(
    env: CodeExecutionEnvironment, code: str, language: str = "python", **kw: Any
) -> ExecutionResult:
    """Run an attack program and check the run left nothing behind on the host."""
    result = await run(env, code, language, **kw)
    assert leftovers(env) == []
    return result


def host_processes_with(marker: str) -> list[int]:
    """Host processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def marker() -> str:
    """A unique string an attack tries to plant or find."""
    return f"mk{uuid.uuid4().hex[:12]}"


@pytest.fixture
def host_secret(marker: str) -> Iterator[Path]:
    """A host file holding a secret, readable by anyone on the host."""
    path = Path(f"/tmp/masterai-host-secret-{marker}")
    path.write_text(f"SECRET={marker}\n")
    path.chmod(0o644)
    yield path
    path.unlink()


# --- exhaustion: processes, threads, memory, storage, output, time -----------------------


async def test_fork_bomb_stops_at_pids_limit(sandbox: CodeExecutionEnvironment) -> None:
    code = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    print(n, e.errno)
"""
    result = await attack(sandbox, code, pids=16, timeout=5)
    forks, err = map(int, result.output.split())
    assert forks < 16 and err == 11  # EAGAIN from the pids cgroup


async def test_shell_fork_bomb_is_contained_and_leaves_no_process(
    sandbox: CodeExecutionEnvironment,
) -> None:
    bomb = "bomb() { bomb | bomb & }; bomb; sleep 30"  # the main shell stays, the bomb grows
    result = await attack(sandbox, bomb, "bash", pids=32, timeout=2)
    assert result.timed_out and result.execution_time < 6
    assert host_processes_with("/sandbox/main.sh") == []


async def test_thread_bomb_stops_at_pids_limit(sandbox: CodeExecutionEnvironment) -> None:
    code = """
import threading, time
threads = []
try:
    while True:
        t = threading.Thread(target=time.sleep, args=(30,), daemon=True)
        t.start()
        threads.append(t)
except RuntimeError:
    print(len(threads))
"""
    result = await attack(sandbox, code, pids=24, timeout=5)
    assert 0 < int(result.output) < 24


async def test_memory_bomb_in_one_process_is_killed_as_memory_exceeded(
    sandbox: CodeExecutionEnvironment,
) -> None:
    result = await attack(sandbox, "x = bytearray(1 << 30)\nprint('allocated')", memory="64m")
    assert result.memory_exceeded and "allocated" not in result.output


async def test_memory_bomb_spread_over_many_processes_is_killed(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = """
import os, time
for _ in range(6):
    if os.fork() == 0:
        block = bytearray(20 << 20)
        time.sleep(30)
os.wait()
"""
    result = await attack(sandbox, code, memory="64m", timeout=5)
    assert result.memory_exceeded


FILL = """
import sys
written = 0
try:
    with open(sys.argv[1] if len(sys.argv) > 1 else {path!r}, "wb") as f:
        while written < (1 << 30):
            f.write(b"x" * (1 << 20))
            f.flush()
            written += 1
except OSError as e:
    pass
print(written)
"""


@pytest.mark.parametrize("path", ["/dev/shm/fill", "/tmp/fill", "/work/fill"])
async def test_filling_a_writable_file_system_stops_at_the_storage_limit(
    sandbox: CodeExecutionEnvironment, path: str, marker: str
) -> None:
    result = await attack(sandbox, FILL.format(path=path), storage="16m", memory="256m", timeout=10)
    assert int(result.output) <= 16, result.error
    assert not list(Path("/dev/shm").glob("fill*"))


async def test_runaway_output_is_truncated_at_the_cap(sandbox: CodeExecutionEnvironment) -> None:
    code = "import sys\nwhile True: sys.stdout.write('spam' * 4096)"
    result = await attack(sandbox, code, timeout=2, output_limit="256k")
    assert result.output_truncated and result.timed_out
    assert len(result.output) == 256 * 1024


@pytest.mark.parametrize(
    "code",
    [
        "while True: pass",
        "import time\ntime.sleep(60)",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)",
        "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "os.fork(); os.fork()\nwhile True: pass",
    ],
    ids=["busy-loop", "sleep", "sigterm-ignored", "sigterm-ignored-children"],
)
async def test_programs_running_past_the_timeout_are_killed(
    sandbox: CodeExecutionEnvironment, code: str
) -> None:
    result = await attack(sandbox, code, timeout=1)
    assert result.timed_out and result.exit_code == 137
    assert result.execution_time < 4


async def test_daemonized_process_does_not_outlive_the_run(
    sandbox: CodeExecutionEnvironment, marker: str
) -> None:
    seconds = f"4{int(marker[2:8], 16) % 1000}.5"  # a sleep nobody else runs
    code = f"""
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["/bin/sleep", "{seconds}"])
    os._exit(0)
print("parent done")
"""
    result = await attack(sandbox, code)
    assert result.output == "parent done\n" and result.exit_code == 0
    assert host_processes_with(seconds) == []


# --- reading the host -----------------------------------------------------------------------


async def test_host_secrets_are_not_readable(
    sandbox: CodeExecutionEnvironment, host_secret: Path, marker: str
) -> None:
    paths = ["/etc/shadow", str(host_secret), str(Path.cwd() / ".masterai" / "masterai.db")]
    paths += [str(RUN_DIR), "/root/.bash_history", "/var/run/docker.sock"]
    code = f"""
for i, p in enumerate({paths!r}):
    try:
        print(i, open(p, "rb").read(100))
    except OSError as e:
        print(i, type(e).__name__)
"""
    result = await attack(sandbox, code)
    assert marker not in result.output and "root:" not in result.output
    assert result.output.count("Error") == len(paths), result.output


async def test_host_environment_variables_are_absent(
    sandbox: CodeExecutionEnvironment, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERAI_HOSTILE_MARKER", marker)
    code = """
import os
print(sorted(os.environ.items()))
for p in ("/proc/self/environ", "/proc/1/environ"):
    try:
        print(open(p, "rb").read())
    except OSError as e:
        print(p, type(e).__name__)
"""
    result = await attack(sandbox, code)
    assert marker not in result.output and "MASTERAI" not in result.output
    assert "PYTHONPATH" in result.output  # the environment was printed


async def test_other_runs_files_are_invisible(
    sandbox: CodeExecutionEnvironment, marker: str
) -> None:
    planter = f"""
import time
for p in ("/work/{marker}", "/tmp/{marker}", "/dev/shm/{marker}"):
    open(p, "w").write("{marker}")
print("planted", flush=True)
time.sleep(3)
"""
    seeker = f"""
import os, time
time.sleep(1)
hits = []
for top in ("/", "/tmp", "/work", "/dev/shm", "/sandbox"):
    for root, dirs, files in os.walk(top):
        if root.startswith(("/proc", "/usr", "/sys")):
            dirs[:] = []
            continue
        hits += [os.path.join(root, f) for f in files + dirs if "{marker}" in f]
print("hits", hits)
"""
    planted, sought = await asyncio.gather(
        run(sandbox, planter, timeout=10), run(sandbox, seeker, timeout=10)
    )
    assert leftovers(sandbox) == []
    assert planted.output == "planted\n"
    assert sought.output == "hits []\n", sought.error


async def test_only_the_runs_own_processes_are_visible(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    result = await attack(sandbox, code)
    pids = eval(result.output)
    assert 0 < len(pids) < 5 and max(pids) < 100  # a fresh pid namespace, not the host's


def host_paths(env: CodeExecutionEnvironment) -> list[str]:
    """Host paths a program must not learn: where the checkout, runs and runtimes live."""
    repository = Path(__file__).resolve().parents[2]
    paths = [repository, RUN_DIR, runtime_dir(env.settings), runners_dir()]
    return [*map(str, paths), "/tmp/masterai-sandbox", "/var/lib/docker"]


async def test_command_lines_in_the_sandbox_name_no_host_path(
    sandbox: CodeExecutionEnvironment,
) -> None:
    # bwrap's own process is pid 1 inside: its options (every bind source) were readable there.
    code = """
import os
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    print(pid, open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
"""
    result = await attack(sandbox, code)
    assert result.output.startswith("1 /usr/bin/"), result.error
    leaked = [p for p in host_paths(sandbox) if p in result.output]
    assert leaked == [], result.output


VIRTUAL_FILE_SYSTEMS = {
    *("proc", "sysfs", "cgroup", "cgroup2"),
    *("tmpfs", "devtmpfs", "devpts", "mqueue"),
}


@pytest.mark.parametrize("path", ["/proc/1/mountinfo", "/proc/self/mountinfo"])
async def test_mount_table_in_the_sandbox_names_no_host_path(
    sandbox: CodeExecutionEnvironment, path: str
) -> None:
    # mountinfo's fourth field is the directory a mount comes from, within its file system:
    # a bind mount of a host directory names its host path there.
    result = await attack(sandbox, f"print(open({path!r}).read(), end='')")
    mounts = [line.split() for line in result.output.splitlines()]
    assert {m[4] for m in mounts} >= {"/", "/work", "/sandbox", "/tmp"}, result.error
    for fields in mounts:
        root, point, sep = fields[3], fields[4], fields.index("-")
        fstype = fields[sep + 1]
        if sandbox.backend.name == "docker" and point == "/":
            fields = fields[: sep + 3]  # Docker's own overlay names its layers: docs/sandbox.md
        leaked = [p for p in host_paths(sandbox) if p in " ".join(fields)]
        assert leaked == [], fields
        # A directory of a disk is shown as the root of a file system, or where it is.
        assert root in ("/", point) or fstype in VIRTUAL_FILE_SYSTEMS, fields


# --- writing the host -----------------------------------------------------------------------


async def test_read_only_paths_cannot_be_written(
    sandbox: CodeExecutionEnvironment, host_secret: Path
) -> None:
    targets = ["/usr/pwned", "/sandbox/main.py", "/opt/masterai/runners/pwned", "/pwned"]
    targets += ["/etc/passwd", "/usr/bin/python3", "/etc/pwned"]
    code = f"""
for p in {targets!r}:
    try:
        open(p, "a").write("pwned")
        print("WROTE", p)
    except OSError as e:
        print("refused", p, type(e).__name__)
try:  # the same path as a host file: it can only be the sandbox's own /tmp
    open({str(host_secret)!r}, "w").write("pwned")
except OSError:
    pass
"""
    before = host_secret.read_text()
    result = await attack(sandbox, code)
    assert "WROTE" not in result.output and result.output.count("refused") == len(targets)
    assert host_secret.read_text() == before
    assert not (runners_dir() / "pwned").exists() and not Path("/pwned").exists()


async def test_symlinks_and_hard_links_in_the_output_never_reach_host_files(
    sandbox: CodeExecutionEnvironment, host_secret: Path, marker: str
) -> None:
    code = f"""
import os
os.symlink("/etc/shadow", "shadow")
os.symlink({str(host_secret)!r}, "secret")
os.symlink("/etc", "etc-dir")
os.symlink("../../../../../../etc/passwd", "relative")
try:
    os.link("/etc/passwd", "hard")
except OSError as e:
    print("link", type(e).__name__)
os.mkfifo("fifo")
open("real.txt", "w").write("ok")
"""
    result = await attack(sandbox, code)
    assert result.files == {"real.txt": b"ok"}
    assert marker not in str(result.files)


@pytest.mark.parametrize(
    "name", ["../escape.txt", "/etc/passwd", "a/../../b", "sub/file", ".hidden", "-rf", "x\0y", ""]
)
async def test_unsafe_input_file_names_are_refused_and_nothing_is_written(
    sandbox: CodeExecutionEnvironment, name: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        await sandbox.execute_code(
            CodeExecutionRequest(code="print(1)", language="python", files={name: b"x"})
        )
    assert repr(name) in str(info.value)
    assert leftovers(sandbox) == []
    assert not Path("/tmp/escape.txt").exists()


# --- network ---------------------------------------------------------------------------------


async def test_listener_on_host_loopback_is_unreachable(
    sandbox: CodeExecutionEnvironment,
) -> None:
    connections = 0

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(accepted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = f"""
import socket
for host in ("127.0.0.1", "localhost", "172.17.0.1"):
    try:
        socket.create_connection((host, {port}), timeout=1)
        print("CONNECTED", host)
    except OSError as e:
        print("refused", host, type(e).__name__)
"""
    async with server:
        result = await attack(sandbox, code)
    assert "CONNECTED" not in result.output and result.output.count("refused") == 3
    assert connections == 0


async def test_outside_addresses_and_dns_are_unreachable(
    sandbox: CodeExecutionEnvironment,
) -> None:
    # Documentation addresses and names (RFC 5737, 3849, 2606): even a broken sandbox would
    # send nothing to anyone's server.
    code = """
import socket
for addr in (("192.0.2.1", 53), ("198.51.100.1", 443), ("2001:db8::1", 443)):
    try:
        socket.create_connection(addr, timeout=1)
        print("CONNECTED", addr)
    except OSError as e:
        print("unreachable", type(e).__name__)
try:
    print("RESOLVED", socket.getaddrinfo("example.com", 443))
except OSError as e:
    print("dns failed", type(e).__name__)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("192.0.2.1", 53))
    print("SENT")
except OSError as e:
    print("udp failed")
"""
    result = await attack(sandbox, code)
    assert "CONNECTED" not in result.output and "RESOLVED" not in result.output
    assert "SENT" not in result.output and "dns failed" in result.output


# --- kernel attack surface -------------------------------------------------------------------

SYSCALLS = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, rc):
    print(name, "ALLOWED" if rc == 0 else errno.errorcode.get(ctypes.get_errno()))
"""


async def test_ptrace_is_denied(sandbox: CodeExecutionEnvironment) -> None:
    code = (
        SYSCALLS
        + """
attempt("traceme", libc.ptrace(0, 0, 0, 0))
child = os.fork()
if child == 0:
    import time; time.sleep(5); os._exit(0)
attempt("attach", libc.ptrace(16, child, 0, 0))
os.kill(child, 9)
"""
    )
    result = await attack(sandbox, code)
    assert result.output == "traceme EPERM\nattach EPERM\n", result.error


async def test_new_user_and_other_namespaces_are_denied(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = (
        SYSCALLS
        + """
for name, flag in (("user", 0x10000000), ("mount", 0x20000), ("net", 0x40000000)):
    attempt(name, libc.unshare(flag))
attempt("setns", libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0))
"""
    )
    result = await attack(sandbox, code)
    assert "ALLOWED" not in result.output and result.output.count("EPERM") == 4, result.output


async def test_tiocsti_cannot_inject_terminal_input(sandbox: CodeExecutionEnvironment) -> None:
    code = """
import fcntl, termios
for fd in (0, 1, 2):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        print("INJECTED", fd)
    except OSError as e:
        print("denied", fd)
try:
    open("/dev/tty", "rb")
    print("TTY OPENED")
except OSError:
    print("no tty")
"""
    result = await attack(sandbox, code)
    assert "INJECTED" not in result.output and "TTY OPENED" not in result.output
    assert result.output.count("denied") == 3


async def test_tiocsti_with_high_bits_set_is_still_refused(
    sandbox: CodeExecutionEnvironment,
) -> None:
    # The kernel reads the request as 32 bits; a 64-bit comparison would let this through
    # (and, with no terminal here, answer ENOTTY instead).
    call = 'libc.syscall(16, 0, ctypes.c_long(0x5412 | 1 << 32), b"x")'
    code = SYSCALLS + f"attempt('tiocsti', {call})"
    result = await attack(sandbox, code)
    assert result.output == "tiocsti EPERM\n", result.error


async def test_mount_bpf_keyctl_and_perf_syscalls_are_denied(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = (
        SYSCALLS
        + """
attempt("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
attempt("bpf", libc.syscall(321, 0, 0, 0))
attempt("keyctl", libc.syscall(250, 0, 0, 0, 0))
attempt("perf", libc.syscall(298, 0, 0, -1, -1, 0))
attempt("userfaultfd", libc.syscall(323, 0))
"""
    )
    result = await attack(sandbox, code)
    assert result.output.count("EPERM") == 5, result.output


PERF_ATTR = """
import struct
attr = ctypes.create_string_buffer(128)  # a task-clock counter of this process, user space only
struct.pack_into("IIQ", attr, 0, 1, 128, 1)
struct.pack_into("Q", attr, 40, 1 | 1 << 5 | 1 << 6)
"""
NEG = "ctypes.c_long({})".format

# Each call as it would succeed (or fail for want of a valid descriptor) without the filter.
REFUSED_SYSCALLS = {
    "io_uring_setup": "libc.syscall(425, 8, ctypes.create_string_buffer(120))",
    "io_uring_enter": f"libc.syscall(426, {NEG(-1)}, 1, 0, 0, None, 0)",
    "io_uring_register": f"libc.syscall(427, {NEG(-1)}, 0, None, 0)",
    "keyctl": f"libc.syscall(250, 0, {NEG(-3)}, 1)",  # the session keyring's id, created
    "add_key": f'libc.syscall(248, b"user", b"mk", b"x", 1, {NEG(-2)})',
    "request_key": 'libc.syscall(249, b"user", b"mk", None, 0)',
    "bpf": "libc.syscall(321, 0, ctypes.create_string_buffer(128), 128)",
    "userfaultfd": "libc.syscall(323, 0o2000000 | 1)",  # O_CLOEXEC | UFFD_USER_MODE_ONLY
    "perf_event_open": f"libc.syscall(298, attr, 0, {NEG(-1)}, {NEG(-1)}, 0)",
}


@pytest.mark.parametrize("name", list(REFUSED_SYSCALLS))
async def test_refused_syscall_fails_with_eperm_and_the_program_goes_on(
    sandbox: CodeExecutionEnvironment, name: str
) -> None:
    code = SYSCALLS + PERF_ATTR + f"attempt({name!r}, {REFUSED_SYSCALLS[name]})\nprint('alive')"
    result = await attack(sandbox, code)
    assert (result.output, result.exit_code) == (f"{name} EPERM\nalive\n", 0), result.error


SOCKET = SYSCALLS + "attempt({label!r}, libc.syscall(41, ctypes.c_long({family}), {kind}, {proto}))"


@pytest.mark.parametrize(
    ("label", "family", "kind", "proto"),
    [
        ("netlink-route", 16, 3, 0),
        ("netlink-audit", 16, 3, 9),
        ("vsock-stream", 40, 1, 0),
        ("vsock-dgram", 40, 2, 0),
        # The kernel reads an int: high bits set must not slip past the filter.
        ("netlink-high-bits", 16 | 1 << 32, 3, 0),
        ("vsock-high-bits", 40 | 1 << 32, 1, 0),
    ],
)
async def test_netlink_and_vsock_sockets_are_refused(
    sandbox: CodeExecutionEnvironment, label: str, family: int, kind: int, proto: int
) -> None:
    code = SOCKET.format(label=label, family=family, kind=kind, proto=proto)
    result = await attack(sandbox, code)
    assert result.output == f"{label} EPERM\n", result.error


async def test_unix_and_internet_sockets_can_still_be_created(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = """
import socket
for family, kind in ((socket.AF_UNIX, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),
                     (socket.AF_INET6, socket.SOCK_STREAM)):
    socket.socket(family, kind).close()
a, b = socket.socketpair()
a.send(b"ok")
print(b.recv(2).decode())
"""
    result = await attack(sandbox, code)
    assert result.output == "ok\n", result.error


async def test_no_privileges_inside(sandbox: CodeExecutionEnvironment) -> None:
    code = """
import os
print(os.getuid(), os.geteuid(), os.getgid())
caps = [l for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm", "NoNewPrivs"))]
print("".join(caps), end="")
try:
    os.setuid(0)
    print("ROOT")
except OSError:
    print("setuid refused")
"""
    result = await attack(sandbox, code)
    lines = result.output.splitlines()
    assert lines[0] == "65534 65534 65534"
    assert "CapEff:\t0000000000000000" in result.output
    assert "CapPrm:\t0000000000000000" in result.output
    assert "NoNewPrivs:\t1" in result.output and lines[-1] == "setuid refused"


async def test_killing_pid_1_and_every_process_only_ends_the_run(
    sandbox: CodeExecutionEnvironment,
) -> None:
    canary = subprocess.Popen(["sleep", "30"], user=65534, group=65534)  # same uid, on the host
    try:
        code = "import os, signal\nfor pid in (1, -1):\n    try: os.kill(pid, signal.SIGKILL)\n"
        code += "    except OSError as e: print(pid, type(e).__name__)\nprint('alive')"
        await attack(sandbox, code)
        assert canary.poll() is None  # the host process of the same uid survived
        assert os.getpid() > 0
    finally:
        canary.send_signal(signal.SIGKILL)
        canary.wait()


async def test_cgroup_and_kernel_knobs_cannot_be_written(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = """
for p in ("/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
          "/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/proc/self/oom_score_adj"):
    try:
        with open(p, "w") as f:
            f.write("-1000" if "oom" in p else "1")
        print("WROTE", p)
    except OSError as e:
        print("refused", type(e).__name__)
"""
    result = await attack(sandbox, code)
    assert "WROTE /sys" not in result.output and "WROTE /proc/sys" not in result.output
    assert "WROTE /proc/sysrq" not in result.output and "WROTE /proc/self" not in result.output


async def test_null_bytes_and_invalid_utf8_in_output_are_returned_safely(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = "import sys\nsys.stdout.buffer.write(b'a\\x00b\\xff\\xfe\\xc3(')\n"
    code += "sys.stderr.buffer.write(b'\\x80err')"
    result = await attack(sandbox, code)
    assert result.output == "a\x00b\ufffd\ufffd\ufffd("
    assert result.error == "\ufffderr"
    assert result.to_json()["output"] == result.output


# --- the same attacks in JavaScript ----------------------------------------------------------

JS_ATTACKS: dict[str, tuple[str, dict[str, Any], Callable[[ExecutionResult, str], bool]]] = {
    "busy-loop": ("while (true) {}", {"timeout": 1}, lambda r, m: r.timed_out),
    "memory-bomb": (
        "const a = []; while (true) a.push(Buffer.alloc(8 << 20, 1));",
        {"memory": "96m", "timeout": 10},
        lambda r, m: r.memory_exceeded,
    ),
    "spawn-bomb": (
        "const cp = require('child_process'); let n = 0;\n"
        "try { while (n < 200) { cp.spawnSync('/bin/sleep', ['0.5']) ; "
        "cp.spawn('/bin/sleep', ['30']).on('error', () => {}); n++ } } catch (e) {}\n"
        "setTimeout(() => console.log('spawned', n), 200);",
        {"pids": 16, "timeout": 2},
        lambda r, m: not r.ok or "spawned" in r.output,
    ),
    "read-secrets": (
        "const fs = require('fs'); for (const p of ['/etc/shadow', '@SECRET@']) {"
        " try { console.log(fs.readFileSync(p, 'utf8')) } catch (e) { console.log('denied') } }",
        {},
        lambda r, m: r.output.count("denied") == 2 and m not in r.output,
    ),
    "environment": (
        "console.log(JSON.stringify(process.env))",
        {},
        lambda r, m: m not in r.output and "PATH" in r.output,
    ),
    "network": (
        "const net = require('net'); const dns = require('dns');\n"
        "dns.lookup('example.com', (e) => console.log('dns', e ? 'failed' : 'RESOLVED'));\n"
        "net.connect(53, '192.0.2.1').on('error', () => console.log('net failed'))"
        ".on('connect', () => console.log('CONNECTED'));",
        {"timeout": 5},
        lambda r, m: "dns failed" in r.output and "net failed" in r.output,
    ),
    "write-read-only": (
        "const fs = require('fs'); for (const p of ['/usr/x', '/sandbox/main.js', '/x']) {"
        " try { fs.writeFileSync(p, 'x'); console.log('WROTE') }"
        " catch (e) { console.log('refused') } }",
        {},
        lambda r, m: r.output.count("refused") == 3,
    ),
    "runaway-output": (
        "const s = 'x'.repeat(65536); function f() { process.stdout.write(s, f) } f();",
        {"timeout": 2, "output_limit": "128k"},
        lambda r, m: r.output_truncated and len(r.output) == 128 * 1024,
    ),
    "daemonize": (
        "const cp = require('child_process');\n"
        "cp.spawn('/bin/sleep', ['@SECONDS@'], { detached: true, stdio: 'ignore' }).unref();"
        "console.log('parent done')",
        {},
        lambda r, m: r.output == "parent done\n",
    ),
}


@pytest.mark.parametrize("name", list(JS_ATTACKS))
async def test_javascript_attack_is_contained(
    sandbox: CodeExecutionEnvironment, name: str, host_secret: Path, marker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("MASTERAI_HOSTILE_MARKER", marker)
    template, kwargs, held = JS_ATTACKS[name]
    seconds = f"5{int(marker[2:8], 16) % 1000}.5"
    code = template.replace("@SECRET@", str(host_secret)).replace("@SECONDS@", seconds)
    result = await attack(sandbox, code, "javascript", **kwargs)
    assert held(result, marker), (result.output[:500], result.error[:500])
    assert host_processes_with(seconds) == []


# --- the host process dies mid-run ------------------------------------------------------------

CHILD = """
import asyncio, sys
sys.path.insert(0, {helpers!r})
from sandbox_helpers import make_settings
from masterai.sandbox import CodeExecutionEnvironment, CodeExecutionRequest
env = CodeExecutionEnvironment(make_settings(run_dir={run_dir!r}), backend={backend!r})
request = CodeExecutionRequest(code="exec -a {marker} /bin/sleep 60", language="bash", timeout=3)
asyncio.run(env.execute_code(request))
"""


async def test_host_process_killed_mid_run_leaves_nothing_running(
    sandbox: CodeExecutionEnvironment, marker: str, tmp_path: Path
) -> None:
    run_dir = RUN_DIR / f"child-{marker}"
    script = CHILD.format(
        helpers=str(Path(__file__).parent), run_dir=str(run_dir),
        backend=sandbox.backend.name, marker=marker,
    )  # fmt: skip
    (tmp_path / "host.py").write_text(script)  # not in the command line: it holds the marker
    host = subprocess.Popen([sys.executable, str(tmp_path / "host.py")])
    try:
        async with asyncio.timeout(30):
            while not host_processes_with(marker):
                assert host.poll() is None, "the host process ended before the run started"
                await asyncio.sleep(0.05)
    finally:
        host.kill()  # SIGKILL: no cleanup code of the host process runs
        host.wait()
    # bubblewrap: --die-with-parent ends the run at once; docker: the engine owns the
    # container, which ends itself at its timeout (3 s + 2 s).
    label = {"label": f"org.masterai.sandbox.run_dir={run_dir}"}

    def containers(**filters: Any) -> list[dict[str, Any]]:
        if sandbox.backend.name != "docker":
            return []
        client = sandbox.backend.client  # type: ignore[attr-defined]
        return list(client.api.containers(all=True, filters={**label, **filters}))

    async with asyncio.timeout(15):
        while host_processes_with(marker) or containers(status="running"):
            await asyncio.sleep(0.05)
    # The dead process's run directory (its tmpfs still mounted) is swept by the next user,
    # with the workspaces it had ready for next runs: on bubblewrap its sandboxes built ahead
    # (warm interpreters included), on docker its containers created ahead.
    removed = RunWorkspace.sweep(run_dir)
    if sandbox.backend.name == "bubblewrap":
        ahead = BUILT_AHEAD + sandbox.settings.warm_python + sandbox.settings.warm_node
    else:
        ahead = sandbox.settings.warm_containers
    assert 1 <= len(removed) <= 1 + ahead
    assert list(run_dir.iterdir()) == []
    run_dir.rmdir()
    for c in containers():
        sandbox.backend.client.api.remove_container(c["Id"])  # type: ignore[attr-defined]
