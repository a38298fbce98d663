"""The supported languages, in one place: source file name, command and environment.

Both backends present the same file system layout to a program, so one command line serves
both:

- ``/sandbox/<source>``: the program (read-only), ``/sandbox/stdin``: its standard input;
- ``/work``: the working directory (writable, size-limited tmpfs), input files, output files;
- ``/tmp``: scratch space (size-limited tmpfs);
- ``/usr``: the system runtimes (python3, node, Rscript, bash), read-only;
- ``/opt/masterai/{python,javascript,typescript,runners}``: the curated runtimes and runner
  scripts.

Python and Node.js start with the import guard of :mod:`masterai.sandbox.packages`
(``runners/pyguard/sitecustomize.py``, ``runners/js_guard.js``), which does nothing unless
the run carries a package policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from masterai.sandbox.errors import UnsupportedLanguageError

CODE_DIR = "/sandbox"
WORK_DIR = "/work"
OPT_DIR = "/opt/masterai"
PYTHON_SITE = f"{OPT_DIR}/python/site-packages"
RUNNERS = f"{OPT_DIR}/runners"
NODE_MODULES = f"{OPT_DIR}/javascript/node_modules"
JS_GUARD = f"{RUNNERS}/js_guard.js"

BASE_ENV: MappingProxyType[str, str] = MappingProxyType(
    {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": WORK_DIR,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
)

_PYTHON_ENV = {
    # The guard's directory first: Python imports its ``sitecustomize`` before the program.
    "PYTHONPATH": f"{RUNNERS}/pyguard:{PYTHON_SITE}",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "MPLBACKEND": "Agg",
    # Matplotlib wants a writable directory: the run's own (the import guard fills it with
    # the font list built at set-up, so it builds nothing and says nothing).
    "MPLCONFIGDIR": "/tmp/matplotlib",
    # A font list that does not match the fonts present is rebuilt through fc-list, whose
    # cache would otherwise land in HOME (/work, returned as output files).
    "XDG_CACHE_HOME": "/tmp/.cache",
}


@dataclass(frozen=True, kw_only=True)
class LanguageSpec:
    """How to run one language inside the sandbox."""

    name: str
    source: str
    """File name the program is stored under in ``/sandbox``."""
    command: tuple[str, ...]
    """argv of the program (absolute paths inside the sandbox)."""
    env: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Variables added to :data:`BASE_ENV`."""
    runtimes: tuple[str, ...] = ()
    """Curated runtimes under ``/opt/masterai`` the language needs (``python``, ``typescript``)."""

    @property
    def environment(self) -> dict[str, str]:
        """The full environment of a program in this language (nothing from the host)."""
        return {**BASE_ENV, **self.env}


def _spec(
    name: str,
    source: str,
    *command: str,
    env: dict[str, str] | None = None,
    runtimes: tuple[str, ...] = (),
) -> LanguageSpec:
    return LanguageSpec(
        name=name,
        source=source,
        command=command,
        env=MappingProxyType(env or {}),
        runtimes=runtimes,
    )


LANGUAGES: MappingProxyType[str, LanguageSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec(
                "python",
                "main.py",
                "/usr/bin/python3",
                "-B",
                f"{CODE_DIR}/main.py",
                env=_PYTHON_ENV,
                runtimes=("python",),
            ),
            _spec(
                "javascript",
                "main.js",
                "/usr/bin/node",
                "--require",
                JS_GUARD,
                f"{CODE_DIR}/main.js",
                env={"NODE_PATH": NODE_MODULES},
                runtimes=("javascript",),
            ),
            _spec(
                "typescript",
                "main.ts",
                "/usr/bin/node",
                "--require",
                JS_GUARD,
                f"{RUNNERS}/ts_runner.js",
                f"{CODE_DIR}/main.ts",
                env={"NODE_PATH": f"{NODE_MODULES}:{OPT_DIR}/typescript/node_modules"},
                runtimes=("typescript", "javascript"),
            ),
            _spec(
                "sql",
                "main.sql",
                "/usr/bin/python3",
                "-B",
                f"{RUNNERS}/sql_runner.py",
                f"{CODE_DIR}/main.sql",
                env=_PYTHON_ENV,
                runtimes=("python",),
            ),
            _spec("r", "main.R", "/usr/bin/Rscript", "--vanilla", f"{CODE_DIR}/main.R"),
            _spec("bash", "main.sh", "/bin/bash", f"{CODE_DIR}/main.sh"),
        )
    }
)


def get_language(name: str) -> LanguageSpec:
    """The spec of ``name``.

    Raises:
        UnsupportedLanguageError: the language is not supported (the message lists them).
    """
    spec = LANGUAGES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise UnsupportedLanguageError(
            f"Unsupported language: {name!r}. Supported languages: {', '.join(LANGUAGES)}"
        )
    return spec
