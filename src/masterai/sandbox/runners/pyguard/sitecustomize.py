"""Import guard of the sandbox's Python: ``code_execution.allowed_packages``, enforced.

Python imports ``sitecustomize`` at start-up, before the program; this one does nothing
unless the host wrote the run's policy to ``/sandbox/packages.json`` (see
``masterai/sandbox/packages.py``). Then a package installed in the runtime (or the system's
``dist-packages``) may be imported:

- by the program (any frame outside the packages, the standard library and the runners):
  only if it is one of the allowed packages (``direct``);
- by a package: if it is an allowed package or one of their dependencies (``closure``), so
  numpy's and pandas' own imports keep working;
- by a runner of this project (``/opt/masterai/runners``): always.

The standard library and the program's own modules are never restricted. A new import is
checked by a meta-path finder; an import statement naming a module that is already loaded
(loaded by a package, say) is checked by a wrapper of ``__import__``. This is a policy, not
the security boundary (the sandbox is): objects reachable through an allowed package stay
reachable, and a program could undo the guard.

It also gives matplotlib its writable directory (``MPLCONFIGDIR``, in the run's private
``/tmp``) holding the font list built at set-up, so matplotlib neither rebuilds it (which
runs ``fc-list``, leaving caches in ``/work``) nor warns about a read-only directory.
"""

from __future__ import annotations

import builtins
import os
import sys

TYPE_CHECKING = False  # typing is not imported: this runs at every interpreter start
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from importlib.machinery import ModuleSpec
    from types import FrameType, ModuleType
    from typing import Any

_POLICY = "/sandbox/packages.json"
_RUNNERS = "/opt/masterai/runners/"
_PACKAGE_DIRS = ("/opt/masterai/python/site-packages/", "/usr/lib/python3/dist-packages/")
_STDLIB = os.path.dirname(os.__file__) + "/"
_HERE = __file__


class PackageNotAllowedError(ModuleNotFoundError):
    """An import the run's ``allowed_packages`` refuses (an ``ImportError``)."""


class PackageGuard:
    """Meta-path finder checking who imports a package against the run's policy."""

    def __init__(self, policy: dict[str, Any]) -> None:
        self.direct = frozenset(policy["direct"])
        self.closure = frozenset(policy["closure"]) | self.direct
        self.owners = policy.get("owners", {})
        self.allowed = policy.get("allowed", [])
        self.permission = policy.get("permission", "allowed_packages")
        self.free = frozenset(sys.stdlib_module_names) | self.direct
        self._packaged: dict[str, bool] = {}

    def importer(self, frame: FrameType | None) -> str:
        """``"user"``, ``"package"`` or ``"runner"``: who started the import at ``frame``."""
        while frame is not None:
            name = frame.f_code.co_filename
            if name == _HERE:
                frame = frame.f_back
                continue
            if name.startswith(_RUNNERS):
                return "runner"
            if name.startswith(_PACKAGE_DIRS):
                return "package"
            # "<string>" (exec) and "<frozen ...>" frames act for their caller.
            if not name.startswith(("<", _STDLIB)):
                return "user"
            frame = frame.f_back
        return "user"

    def check(self, name: str, frame: FrameType | None) -> None:
        """Raise :class:`PackageNotAllowedError` if the importer at ``frame`` may not import."""
        who = self.importer(frame)
        if who == "runner" or name in (self.direct if who == "user" else self.closure):
            return
        package = self.owners.get(name, name)
        allowed = ", ".join(self.allowed) or "none"
        via = "" if who == "user" else " (imported by another package)"
        raise PackageNotAllowedError(
            f"import of {name!r}{via} is not allowed: package {package!r} is not in "
            f"{self.permission} of this user (allowed: {allowed})",
            name=name,
        )

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """Find ``fullname`` with the other finders; refuse it if it is a forbidden package."""
        if path is not None or fullname in self.free:
            return None  # submodules follow their package; the stdlib is free
        spec: ModuleSpec | None = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is not None and _installed(spec.origin, spec.submodule_search_locations):
            self.check(fullname, sys._getframe(1))
        return spec

    def is_packaged(self, name: str) -> bool:
        """Whether the loaded module ``name`` comes from an installed package."""
        if name not in self._packaged:
            module = sys.modules.get(name)
            self._packaged[name] = _installed(
                getattr(module, "__file__", None), getattr(module, "__path__", None)
            )
        return self._packaged[name]


def _installed(origin: object, locations: Iterable[object] | None) -> bool:
    places = [origin] if isinstance(origin, str) else []
    for location in locations or ():  # a namespace package's path is no list
        if isinstance(location, str):
            places.append(location)
            break
    return any(p.startswith(_PACKAGE_DIRS) for p in places)


_MPL_PREBUILT = "/opt/masterai/python/mplconfig"


def _matplotlib_dir() -> None:
    target = os.environ.get("MPLCONFIGDIR", "")
    if not target.startswith("/tmp/"):
        return
    try:
        names = os.listdir(_MPL_PREBUILT)
        os.mkdir(target, 0o700)
        for name in names:
            os.symlink(f"{_MPL_PREBUILT}/{name}", f"{target}/{name}")
    except OSError:  # no runtime font list, or done already: matplotlib copes
        pass


def _install() -> None:
    try:
        with open(_POLICY, "rb") as handle:
            import json

            guard = PackageGuard(json.load(handle))
    except FileNotFoundError:
        return
    sys.meta_path.insert(0, guard)
    real_import = builtins.__import__

    def guarded_import(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> ModuleType:
        if level == 0:
            top = name.partition(".")[0]
            if top not in guard.free and top in sys.modules and guard.is_packaged(top):
                guard.check(top, sys._getframe(1))
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import


_matplotlib_dir()
_install()
