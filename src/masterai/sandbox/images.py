"""Building the Docker backend's images locally, without any image registry.

The base image is a root file system assembled from the host's own Debian packages: the
closure (``Depends``/``Pre-Depends``) of the language runtimes' packages, file by file from
``dpkg-query -L``, plus a minimal ``/etc``. It is loaded with ``docker import``. Each
language image adds the curated runtime it needs (``/opt/masterai/python`` or
``/opt/masterai/typescript``) and the runner scripts on top, with a one-step Dockerfile.

So a fresh machine needs only Debian packages (set-up installs them), PyPI and npm. Images
carry a label with a hash of everything they are built from; an image whose label matches
is not built again, so :func:`build_images` is fast when nothing changed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from masterai.sandbox.errors import BackendUnavailableError, ExecutionFailedError
from masterai.sandbox.languages import LANGUAGES, OPT_DIR
from masterai.sandbox.runtimes import runners_dir, runtime_path
from masterai.settings import SandboxSettings

LAYOUT_VERSION = "1"
"""Bump when the way images are assembled changes, to force a rebuild."""
LABEL = "org.masterai.sandbox.inputs"
ROOT_PACKAGES = (
    *("bash", "dash", "coreutils", "sed", "grep", "findutils"),  # shells and what R's scripts call
    "libc-bin",  # the C.UTF-8 locale
    *("python3.11", "nodejs", "r-base-core"),
)
_SKIP_PREFIXES = (
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/lintian/",
    "/usr/share/locale/",
    "/usr/share/bug/",
)
_ETC_FILES = ("/etc/ld.so.cache",)
# Copied whole: alternatives (links like libblas.so.3 point there) and R's configuration.
_ETC_TREES = ("/etc/alternatives", "/etc/R")
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"
_MOUNT_POINTS = ("/tmp", "/work", "/sandbox", "/proc", "/dev", "/sys", "/opt/masterai/runners")


def _dpkg(*args: str) -> str:
    try:
        return subprocess.run(
            ["dpkg-query", *args], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise BackendUnavailableError(
            f"Cannot read the host's Debian package database ({e}): the images are assembled "
            "from the host's packages, which needs a Debian-based host with dpkg"
        ) from e


def package_closure(roots: Iterable[str] = ROOT_PACKAGES) -> dict[str, str]:
    """Installed packages ``roots`` need (``Depends`` and ``Pre-Depends``), name -> version.

    Raises:
        BackendUnavailableError: a root package is not installed (says which to install).
    """
    fmt = "${Package}\t${Version}\t${Status}\t${Pre-Depends}, ${Depends}\t${Provides}\n"
    installed: dict[str, tuple[str, list[list[str]]]] = {}
    provides: dict[str, str] = {}
    for line in _dpkg("-W", "-f", fmt).splitlines():
        name, version, status, deps, prov = (line.split("\t") + [""] * 5)[:5]
        if not status.endswith("installed") or "not-installed" in status:
            continue
        alternatives = [
            [re.split(r"[\s:(]", alt.strip())[0] for alt in group.split("|")]
            for group in deps.split(",")
            if group.strip()
        ]
        installed[name] = (version, alternatives)
        for p in prov.split(","):
            if p.strip():
                provides.setdefault(re.split(r"[\s(]", p.strip())[0], name)
    missing = [r for r in roots if r not in installed]
    if missing:
        raise BackendUnavailableError(
            f"Packages needed for the sandbox images are not installed: {', '.join(missing)} "
            f"(apt-get install {' '.join(missing)}; scripts/setup does it)"
        )
    closure: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        closure[name] = installed[name][0]
        for group in installed[name][1]:
            for alt in group:
                real = alt if alt in installed else provides.get(alt)
                if real:
                    todo.append(real)
                    break
    return dict(sorted(closure.items()))


def _package_paths(packages: Iterable[str]) -> list[str]:
    """Files of ``packages`` as real paths (merged-/usr links resolved), sorted, unique."""
    paths: set[str] = set()
    for line in _dpkg("-L", *packages).splitlines():
        if not line.startswith("/") or line.startswith(_SKIP_PREFIXES):
            continue
        parent, base = os.path.split(line)
        real = os.path.join(os.path.realpath(parent), base)
        if os.path.lexists(real):
            paths.add(real)
    return sorted(paths)


def _alternative_links() -> list[str]:
    """The generic links of the alternatives system (``/usr/bin/awk``, ``libblas.so.3``).

    They point into ``/etc/alternatives`` and belong to no package, so ``dpkg -L`` misses them.
    """
    links: list[str] = []
    admin = Path("/var/lib/dpkg/alternatives")
    if not admin.is_dir():
        return links
    for entry in admin.iterdir():
        lines = entry.read_text(errors="replace").splitlines()
        # Line 2 is the master link; then (name, link) pairs of slave links up to a blank line.
        candidates = lines[1:2] + [lines[i] for i in range(3, len(lines), 2) if lines[i - 1]]
        links.extend(
            link
            for link in candidates
            if link.startswith("/")
            and not link.startswith(_SKIP_PREFIXES)
            and os.path.islink(link)
            and os.readlink(link).startswith("/etc/alternatives/")
        )
    return links


def _add_parents(tar: tarfile.TarFile, path: str, done: set[str]) -> None:
    parent = os.path.dirname(path)
    if parent in ("/", "") or parent in done:
        return
    _add_parents(tar, parent, done)
    done.add(parent)
    info = tarfile.TarInfo(parent.lstrip("/"))
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def _add_text(tar: tarfile.TarFile, name: str, text: str, mode: int = 0o644) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name.lstrip("/"))
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def write_rootfs(target: Path, packages: Iterable[str]) -> None:
    """Write the base root file system (a tar) of ``packages`` to ``target``."""
    done: set[str] = set()
    with tarfile.open(target, "w") as tar:
        for name in ("bin", "sbin", "lib", "lib64"):
            host = Path("/") / name
            if host.is_symlink():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(host)
                tar.addfile(info)
                done.add(str(host))
        tree_paths = [
            os.path.join(d, n)
            for top in _ETC_TREES
            for d, dirs, names in os.walk(top)
            for n in [*dirs, *names]
        ]
        for path in [
            *_package_paths(packages),
            *_ETC_FILES,
            *_ETC_TREES,
            *tree_paths,
            *_alternative_links(),
        ]:
            if path in done or not os.path.lexists(path):
                continue
            _add_parents(tar, path, done)
            done.add(path)
            tar.add(path, arcname=path.lstrip("/"), recursive=False)
        _add_text(tar, "etc/passwd", _PASSWD)
        _add_text(tar, "etc/group", _GROUP)
        for mount in _MOUNT_POINTS:
            if mount not in done:
                _add_parents(tar, mount + "/x", done)


@dataclass(frozen=True, kw_only=True)
class ImagePlan:
    """What one language image is made of."""

    language: str
    runtimes: tuple[str, ...]

    def tag(self, settings: SandboxSettings) -> str:
        """``<prefix>-<language>:latest``."""
        return image_name(settings, self.language)


def image_name(settings: SandboxSettings, language: str) -> str:
    """Name of the Docker image of ``language``."""
    return f"{settings.image_prefix}-{language}:latest"


def _hash_tree(h: Any, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name == ".stamp" or "__pycache__" in path.parts:
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes() if path.name == ".stamp" else b"")
            continue
        if root.name == "runners":
            h.update(str(path.relative_to(root)).encode() + path.read_bytes())


def inputs_digest(
    settings: SandboxSettings, closure: dict[str, str], runtimes: Iterable[str]
) -> str:
    """A hash of everything an image is built from: packages, runtime stamps, runners."""
    h = hashlib.sha256(f"layout={LAYOUT_VERSION}\n".encode())
    h.update(repr(sorted(closure.items())).encode())
    for name in runtimes:
        h.update(name.encode() + (runtime_path(settings, name) / ".stamp").read_bytes())
    _hash_tree(h, runners_dir())
    return h.hexdigest()[:32]


def _context_tar(
    base: str, runtimes: tuple[str, ...], settings: SandboxSettings, label: str
) -> io.BytesIO:
    """A build context streamed as a tar: a Dockerfile plus the runtimes, without copying."""
    lines = [f"FROM {base}"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in runtimes:
            tar.add(runtime_path(settings, name), arcname=name, filter=_no_pycache)
            lines.append(f"COPY {name} {OPT_DIR}/{name}")
        tar.add(runners_dir(), arcname="runners", filter=_no_pycache)
        lines.append(f"COPY runners {OPT_DIR}/runners")
        lines.append(f'LABEL {LABEL}="{label}"')
        _add_text(tar, "Dockerfile", "\n".join(lines) + "\n")
    buf.seek(0)
    return buf


def _no_pycache(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if "__pycache__" in info.name:
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def plans() -> list[ImagePlan]:
    """One plan per language."""
    return [ImagePlan(language=s.name, runtimes=s.runtimes) for s in LANGUAGES.values()]


def _label_of(client: Any, name: str) -> str | None:
    import docker.errors

    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    value = labels.get(LABEL)
    return str(value) if value is not None else None


def build_images(
    client: Any,
    settings: SandboxSettings,
    *,
    force: bool = False,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, str]:
    """Build the images that are missing or out of date; returns language -> status.

    Status is ``built`` or ``up to date``.

    Raises:
        BackendUnavailableError: a package or runtime is missing on the host.
        ExecutionFailedError: Docker failed to build an image.
    """
    import docker.errors

    closure = package_closure()
    base_label = inputs_digest(settings, closure, ())
    base = f"{settings.image_prefix}-base:{base_label[:12]}"
    statuses: dict[str, str] = {}
    try:
        if force or _label_of(client, base) != base_label:
            log(f"assembling the base root file system ({len(closure)} Debian packages)")
            with tempfile.TemporaryDirectory(prefix="masterai-rootfs-") as tmp:
                rootfs = Path(tmp) / "rootfs.tar"
                write_rootfs(rootfs, closure)
                log(f"importing {base} ({rootfs.stat().st_size // 2**20} MiB)")
                client.api.import_image_from_file(
                    str(rootfs),
                    repository=base.split(":")[0],
                    tag=base.split(":")[1],
                    changes=[f'LABEL {LABEL}="{base_label}"', "USER 65534:65534", "WORKDIR /work"],
                )
        for plan in plans():
            label = inputs_digest(settings, closure, plan.runtimes)
            name = plan.tag(settings)
            if not force and _label_of(client, name) == label:
                statuses[plan.language] = "up to date"
                continue
            log(f"building {name}")
            context = _context_tar(base, plan.runtimes, settings, label)
            client.images.build(
                fileobj=context, custom_context=True, tag=name, rm=True, forcerm=True
            )
            statuses[plan.language] = "built"
    except docker.errors.DockerException as e:
        raise ExecutionFailedError(f"Docker failed to build the sandbox images: {e}") from e
    return statuses


def iter_missing(client: Any, settings: SandboxSettings) -> Iterator[str]:
    """Languages whose image is missing."""
    for plan in plans():
        if _label_of(client, plan.tag(settings)) is None:
            yield plan.language
