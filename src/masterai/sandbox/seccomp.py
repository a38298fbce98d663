"""The seccomp filter of the bubblewrap backend, as a classic BPF program.

bubblewrap loads it (``--seccomp FD``) just before it executes the program, after setting
``no_new_privs``. It denies with ``EPERM`` what a program never needs and an escape often
does: ptrace, mounting, bpf, perf events, the kernel keyring (``keyctl``, ``add_key``,
``request_key``), userfaultfd, io_uring (whose requests run file and socket operations that no
syscall filter sees), module and kexec loading, new namespaces (``unshare``, ``setns``,
``clone`` with ``CLONE_NEW*`` flags), sockets of the ``AF_NETLINK`` (the kernel's
configuration interfaces) and ``AF_VSOCK`` (host and hypervisor) families, and the
``TIOCSTI``/``TIOCLINUX`` ioctls that push input into a terminal. ``clone3`` gets ``ENOSYS``,
since its flags live in memory a filter cannot read: libc then falls back to ``clone``, which
the filter does check. Any other architecture or the x32 ABI is killed.

Arguments are compared on their low 32 bits, the only bits the kernel reads of an ``int``
(socket family) or ``unsigned int`` (ioctl request): setting high bits cannot slip past.

The program is written out here rather than with libseccomp so the host process needs no
native binding; :func:`build_filter` is small enough to read against ``seccomp(2)``.
"""

from __future__ import annotations

import errno
import platform
import struct

from masterai.sandbox.errors import BackendUnavailableError

# BPF opcodes (linux/bpf_common.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_OFF_NR, _OFF_ARCH = 0, 4


def _off_arg(i: int) -> int:
    return 16 + 8 * i  # low 32 bits of args[i] (little-endian)


TIOCSTI = 0x5412
TIOCLINUX = 0x541C
AF_NETLINK = 16
AF_VSOCK = 40
DENIED_SOCKET_FAMILIES = (AF_NETLINK, AF_VSOCK)
"""Socket families refused: no runtime of the sandbox opens one (see docs/sandbox.md)."""
CLONE_NEW_FLAGS = 0x7E020000  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET

#: x86_64 numbers of the syscalls denied outright.
DENIED_X86_64: dict[str, int] = {
    "ptrace": 101,
    "syslog": 103,
    "personality": 135,
    "pivot_root": 155,
    "chroot": 161,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "mount_setattr": 442,
}
_IOCTL, _SOCKET, _CLONE, _CLONE3 = 16, 41, 56, 435
_LOW_32_BITS = 0xFFFFFFFF


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter() -> bytes:
    """The filter for the host architecture, as bytes bubblewrap reads from ``--seccomp``.

    Raises:
        BackendUnavailableError: the host is not x86_64 (the only table written so far).
    """
    if platform.machine() not in ("x86_64", "AMD64"):
        raise BackendUnavailableError(
            f"The bubblewrap backend's seccomp filter supports x86_64 only, not "
            f"{platform.machine()!r}: use the docker backend (backend='docker')"
        )
    # Layout: a prologue and one compare per rule, then four return blocks at the end.
    # Jump offsets are counted from the next instruction, so they are resolved last.
    body: list[tuple[int, int, str | int, str | int]] = [
        (_LD_W_ABS, _OFF_ARCH, 0, 0),
        (_JEQ_K, _AUDIT_ARCH_X86_64, 0, "kill"),
        (_LD_W_ABS, _OFF_NR, 0, 0),
        (_JGE_K, _X32_SYSCALL_BIT, "kill", 0),
        (_JEQ_K, _CLONE3, "enosys", 0),
        (_JEQ_K, _IOCTL, "ioctl", 0),
        (_JEQ_K, _SOCKET, "socket", 0),
        (_JEQ_K, _CLONE, "clone", 0),
    ]
    body += [(_JEQ_K, nr, "eperm", 0) for nr in sorted(DENIED_X86_64.values())]
    body.append((_RET_K, _RET_ALLOW, 0, 0))
    labels: dict[str, int] = {}
    labels["ioctl"] = len(body)
    body += [
        (_LD_W_ABS, _off_arg(1), 0, 0),
        (_JEQ_K, TIOCSTI, "eperm", 0),
        (_JEQ_K, TIOCLINUX, "eperm", 0),
        (_RET_K, _RET_ALLOW, 0, 0),
    ]
    labels["socket"] = len(body)
    body.append((_LD_W_ABS, _off_arg(0), 0, 0))
    body += [(_JEQ_K, family, "eperm", 0) for family in DENIED_SOCKET_FAMILIES]
    body.append((_RET_K, _RET_ALLOW, 0, 0))
    labels["clone"] = len(body)
    body += [(_LD_W_ABS, _off_arg(0), 0, 0), (_JSET_K, CLONE_NEW_FLAGS, "eperm", 0)]
    body.append((_RET_K, _RET_ALLOW, 0, 0))
    for name, ret in (
        ("eperm", _RET_ERRNO | errno.EPERM),
        ("enosys", _RET_ERRNO | errno.ENOSYS),
        ("kill", _RET_KILL_PROCESS),
    ):
        labels[name] = len(body)
        body.append((_RET_K, ret, 0, 0))

    def offset(target: str | int, at: int) -> int:
        return target if isinstance(target, int) else labels[target] - at - 1

    return b"".join(
        _insn(code, k, offset(jt, i), offset(jf, i)) for i, (code, k, jt, jf) in enumerate(body)
    )


#: Denied in Docker's own default profile; kept denied when ours replaces it.
DOCKER_DEFAULT_DENIED = (
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "get_kernel_syms",
    "get_mempolicy",
    "ioperm",
    "iopl",
    "lookup_dcookie",
    "mbind",
    "move_pages",
    "nfsservctl",
    "query_module",
    "set_mempolicy",
    "settimeofday",
    "stime",
    "sysfs",
    "_sysctl",
    "umount",
    "uselib",
    "ustat",
    "vm86",
    "vm86old",
)


def docker_profile() -> str:
    """The same rules as a Docker seccomp profile (JSON), for ``--security-opt seccomp=``.

    It replaces Docker's default profile, so that profile's denials are kept too.
    """
    import json

    flags = [1 << bit for bit in range(32) if CLONE_NEW_FLAGS & (1 << bit)]
    rules: list[dict[str, object]] = [
        {
            "names": sorted([*DENIED_X86_64, *DOCKER_DEFAULT_DENIED]),
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPERM,
        },
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
    ]
    # libseccomp compares all 64 bits with SCMP_CMP_EQ, the kernel reads only the low 32 of
    # these arguments: compare the low 32 bits, as the bubblewrap filter does.
    rules += [
        {
            "names": [name],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPERM,
            "args": [
                {"index": index, "value": _LOW_32_BITS, "valueTwo": v, "op": "SCMP_CMP_MASKED_EQ"}
            ],
        }
        for name, index, values in (
            ("ioctl", 1, (TIOCSTI, TIOCLINUX)),
            ("socket", 0, DENIED_SOCKET_FAMILIES),
        )
        for v in values
    ]
    rules += [
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPERM,
            "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
        }
        for flag in flags
    ]
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}
    return json.dumps(profile, separators=(",", ":"))
