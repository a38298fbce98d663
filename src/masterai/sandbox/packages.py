"""The curated packages of the sandbox runtimes, and the import policy of one run.

A principal's ``code_execution.allowed_packages`` is enforced inside the sandbox, by guards
that run before the program: ``runners/pyguard/sitecustomize.py`` for Python (a meta-path
finder plus a wrapper of ``__import__``) and ``runners/js_guard.js`` for JavaScript and
TypeScript (a wrapper of Node's module resolution). They read the run's policy from
``/sandbox/packages.json``, written here on the host from the runtime's own metadata:

- ``direct``: the import names the program itself may import (the allowed packages, given by
  distribution name such as ``scikit-learn`` or by import name such as ``sklearn``);
- ``closure``: the import names a package may import internally: the allowed packages, the
  packages a runner needs (``support``), and every dependency of either, transitively;
- ``owners``: import name -> distribution name, for messages.

``"*"`` among the allowed packages means no restriction: no policy file is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from masterai.settings import SandboxSettings

ANY = "*"
PERMISSION = "code_execution.allowed_packages"
"""The permission the guards name in their errors."""
POLICY_FILE = "packages.json"
"""Name of the policy file in the run's code directory (``/sandbox/packages.json``)."""

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_SKIPPED_TOP = ("__pycache__", "bin", "share", "include", "..")


def canonical(name: str) -> str:
    """A distribution name as PyPI compares them: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True)
class Distribution:
    """One installed package of a runtime."""

    name: str
    """Canonical name (``scikit-learn``; for npm, the package name)."""
    version: str
    modules: frozenset[str]
    """Top-level import names it provides (``sklearn``; for npm, its package name)."""
    requires: frozenset[str]
    """Canonical names of the distributions it needs (optional extras left out)."""


@dataclass(frozen=True)
class PackageIndex:
    """The distributions of one runtime, by canonical name."""

    distributions: Mapping[str, Distribution]

    def owner_of(self, module: str) -> Distribution | None:
        """The distribution providing the import name ``module``."""
        for dist in self.distributions.values():
            if module in dist.modules:
                return dist
        return None

    def find(self, name: str) -> Distribution | None:
        """The distribution called ``name`` (either spelling) or providing that import name."""
        return self.distributions.get(canonical(name)) or self.owner_of(name)

    def closure(self, names: Iterable[str]) -> set[str]:
        """Canonical names of ``names``'s distributions and all their dependencies."""
        pending = [d.name for d in map(self.find, names) if d is not None]
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen or name not in self.distributions:
                continue
            seen.add(name)
            pending.extend(self.distributions[name].requires)
        return seen

    def policy(self, allowed: Iterable[str], support: Iterable[str] = ()) -> dict[str, object]:
        """The JSON policy of a run allowed ``allowed`` (``support``: what its runner needs).

        A name the index does not know is kept as an import name (a module of the system's
        Python, say), so nothing is silently widened.
        """
        allowed = sorted(set(allowed))
        direct: set[str] = set()
        for name in allowed:
            dist = self.find(name)
            direct |= set(dist.modules) if dist is not None else {name}
        closure = set(direct)
        for name in self.closure([*allowed, *support]):
            closure |= self.distributions[name].modules
        owners = {m: d.name for d in self.distributions.values() for m in sorted(d.modules)}
        return {
            "permission": PERMISSION,
            "allowed": allowed,
            "direct": sorted(direct),
            "closure": sorted(closure),
            "owners": dict(sorted(owners.items())),
        }

    @classmethod
    def python(cls, site_packages: Path) -> PackageIndex:
        """The index of a Python ``site-packages`` directory (from each ``*.dist-info``)."""
        return _python_index(str(site_packages), _stamp(site_packages.parent))

    @classmethod
    def node(cls, *node_modules: Path) -> PackageIndex:
        """The index of ``node_modules`` directories (each package's ``package.json``)."""
        return _node_index(tuple(str(p) for p in node_modules), _stamp(node_modules[0].parent))


def _stamp(runtime: Path) -> str:
    try:
        return (runtime / ".stamp").read_text().strip()
    except OSError:
        return ""


@cache
def _python_index(site: str, stamp: str) -> PackageIndex:
    found: dict[str, Distribution] = {}
    for info in sorted(Path(site).glob("*.dist-info")):
        meta = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        headers = meta.split("\n\n", 1)[0].splitlines()
        fields: dict[str, list[str]] = {}
        for line in headers:
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), []).append(value.strip())
        name = canonical(fields.get("Name", [info.name.split("-")[0]])[0])
        requires = frozenset(
            canonical(m[1])
            for spec in fields.get("Requires-Dist", [])
            if "extra" not in spec.partition(";")[2] and (m := _NAME.match(spec))
        )
        found[name] = Distribution(
            name=name,
            version=fields.get("Version", [""])[0],
            modules=frozenset(_python_modules(info)),
            requires=requires,
        )
    return PackageIndex(found)


def _python_modules(info: Path) -> set[str]:
    """Top-level import names of a distribution: ``top_level.txt``, else its ``RECORD``."""
    top_level = info / "top_level.txt"
    if top_level.is_file():
        return {n.strip() for n in top_level.read_text().splitlines() if n.strip()}
    modules: set[str] = set()
    record = info / "RECORD"
    for line in record.read_text().splitlines() if record.is_file() else []:
        first = line.split(",", 1)[0].split("/", 1)
        top = first[0]
        if len(first) == 1:
            top = top.split(".", 1)[0] if top.endswith((".py", ".so")) else ""
        if top and top.isidentifier() and top not in _SKIPPED_TOP:
            modules.add(top)
    return modules


@cache
def _node_index(directories: tuple[str, ...], stamp: str) -> PackageIndex:
    found: dict[str, Distribution] = {}
    for directory in directories:
        for manifest in sorted(Path(directory).glob("*/package.json")) + sorted(
            Path(directory).glob("@*/*/package.json")
        ):
            data = json.loads(manifest.read_text(encoding="utf-8"))
            name = str(data.get("name") or manifest.parent.name)
            found[name] = Distribution(
                name=name,
                version=str(data.get("version", "")),
                modules=frozenset({name}),
                requires=frozenset(data.get("dependencies") or {}),
            )
    return PackageIndex(found)


def index_for(language: str, settings: SandboxSettings) -> PackageIndex | None:
    """The curated packages a program in ``language`` can import (``None``: not guarded).

    Raises:
        BackendUnavailableError: the language's runtime is not installed.
    """
    from masterai.sandbox.runtimes import runtime_path

    if language == "python":
        return PackageIndex.python(runtime_path(settings, "python") / "site-packages")
    if language in ("javascript", "typescript"):
        dirs = [runtime_path(settings, "javascript") / "node_modules"]
        if language == "typescript":
            dirs.append(runtime_path(settings, "typescript") / "node_modules")
        return PackageIndex.node(*dirs)
    return None


def policy_text(
    language: str,
    allowed: Iterable[str] | None,
    settings: SandboxSettings,
    support: Iterable[str] = (),
) -> str | None:
    """The content of ``/sandbox/packages.json`` for a run, or ``None`` when unrestricted."""
    if allowed is None:
        return None
    allowed = list(allowed)
    if ANY in allowed:
        return None
    index = index_for(language, settings)
    if index is None:
        return None
    return json.dumps(index.policy(allowed, support), separators=(",", ":"))


def curated(settings: SandboxSettings) -> dict[str, list[dict[str, str]]]:
    """The curated packages of each guarded runtime: language -> [{name, version}]."""
    out: dict[str, list[dict[str, str]]] = {}
    for language in ("python", "javascript"):
        index = index_for(language, settings)
        if index is not None:
            out[language] = [
                {"name": d.name, "version": d.version}
                for d in sorted(index.distributions.values(), key=lambda d: d.name)
            ]
    return out
