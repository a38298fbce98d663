"""A Python interpreter started ahead of its run (the warm path of both sandbox backends).

It runs in a sandbox built ahead (its own namespaces, mounts, seccomp filter, cgroup and
empty workspace), or in a container started ahead (the Docker backend's), serves exactly one
run, and ends with it. Its command line is ``warm_python.py STATUS_FD DEADLINE MODULE...``:

1. imports the modules named on its command line (numpy, pandas, matplotlib's pyplot with
   the Agg backend), with warnings and errors kept quiet;
2. forks: the child will run the program (its CPU times start at zero, as in a fresh
   interpreter, and the fork is off the run's clock); the parent waits for it;
3. writes ``READY`` to its stdout, which the host reads before it hands the sandbox to a run
   (an interpreter that failed to preload writes nothing and exits: the run starts cold);
4. the child waits for its go: one line on stdin, the program's command line after
   ``python3 -B`` as a JSON list, read byte by byte so the program's stdin follows
   untouched; it installs the import guard if the run has a policy
   (``/sandbox/packages.json``, written with the program), then runs the program as
   ``__main__`` as ``python3 -B <script>`` would: same ``sys.argv``, ``sys.path[0]``,
   globals, exit status and traceback (without this file's frames);
5. the run's exit status goes to ``STATUS_FD`` as one line, written by the child once the
   program has ended as an interpreter ends (output flushed), or else by the parent once the
   child is gone (killed, or ended by ``os._exit``). The host answers on that line and
   kills what is left: neither process's exit (tearing down an interpreter of 160 MB takes
   milliseconds) is on the run's clock. The parent ends with the same status;
6. with a ``DEADLINE`` (seconds; ``0`` for none), the parent ends with status 137 that long
   after the go if the program is still running. In a container the parent is process 1, so
   its end kills every process of the run: the backstop of a run whose host process died
   (the host kills the run at its timeout, sooner). A ``STATUS_FD`` of ``-1`` reports nothing
   (the container's exit status is the run's).
"""

import contextlib
import os
import sys

READY = b"masterai-warm-ready\n"


def _preload(names: list[str]) -> bool:
    import importlib
    import io
    import warnings

    quiet = io.StringIO()  # what a library prints or logs while importing is not the run's
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            for name in names:
                importlib.import_module(name)
    except Exception:
        return False
    import gc

    gc.freeze()  # what is loaded now stays: the run's collections skip it
    return True


def _read_line() -> bytes:
    """One line from fd 0, a byte at a time: what follows it is the program's stdin."""
    line = bytearray()
    while True:
        byte = os.read(0, 1)
        if not byte:
            raise SystemExit(125)
        if byte == b"\n":
            return bytes(line)
        line += byte


def _run(argv: list[str]) -> int:
    """Run the program as ``__main__``; its exit status."""
    import builtins
    import importlib
    import importlib.machinery
    import types

    guard = sys.modules.get("sitecustomize")
    if guard is not None and hasattr(guard, "_install"):
        guard._install()  # the run's policy exists now, if it has one
    script = argv[0]
    sys.argv = list(argv)
    sys.orig_argv = [sys.executable, "-B", *argv]
    sys.path[0] = os.path.dirname(script)
    importlib.invalidate_caches()
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __file__=script,
        __builtins__=builtins,
        __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", script),
    )
    sys.modules["__main__"] = main
    try:
        with open(script, "rb") as handle:
            code = compile(handle.read(), script, "exec", dont_inherit=True)
        exec(code, main.__dict__)
    except SystemExit as done:
        return _exit_status(done)
    except BaseException as error:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        sys.excepthook(type(error), error.with_traceback(tb), tb)
        return 1
    return 0


def _exit_status(done: SystemExit) -> int:
    """What the interpreter makes of an uncaught ``SystemExit``."""
    if done.code is None:
        return 0
    if isinstance(done.code, int):
        return done.code & 0xFF
    print(done.code, file=sys.stderr)
    return 1


def _finish(status: int, status_fd: int) -> None:
    """End as the interpreter would, without tearing down the preloaded modules.

    What a program can see of an interpreter's end is kept, in its order: its threads are
    waited for, its ``atexit`` functions run, its globals are released (files it left open
    are flushed and closed), standard streams flushed. Destroying numpy's, pandas' and
    matplotlib's modules one by one would take longer than the run.
    """
    import atexit
    import gc

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    main = sys.modules.get("__main__")
    if main is not None:
        main.__dict__.clear()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            status = status or 120  # as the interpreter does when the flush fails
    _report(status_fd, status)
    os._exit(status)


def _report(status_fd: int, status: int) -> None:
    """Tell the host the run's exit status (one short line: a single atomic write)."""
    if status_fd < 0:
        return
    with contextlib.suppress(OSError):  # the host has gone: nothing to tell
        os.write(status_fd, b"%d\n" % status)


def _hold_to(deadline: float, went: int) -> None:
    """Once the go is read (a byte on ``went``), end this process ``deadline`` s later."""
    import signal

    if not os.read(went, 1):  # the child ended before its go: no run to hold
        return
    signal.signal(signal.SIGALRM, lambda *_: os._exit(137))
    signal.setitimer(signal.ITIMER_REAL, deadline)


def main() -> None:
    """Preload, fork, say ready; the child waits for the go and runs the program."""
    status_fd, deadline = int(sys.argv[1]), float(sys.argv[2])
    if status_fd >= 0:
        os.set_inheritable(status_fd, False)  # not for the program's subprocesses
    if not _preload(sys.argv[3:]):
        raise SystemExit(3)
    went, told = os.pipe() if deadline > 0 else (-1, -1)
    pid = os.fork()
    if pid == 0:
        import json

        own = os.getpid()
        argv = json.loads(_read_line())
        if told >= 0:
            os.write(told, b"1")
            os.close(told)
            os.close(went)
        status = _run(argv)
        # Only this process reports: a process the program forked comes back here too.
        _finish(status, status_fd if os.getpid() == own else -1)
    os.write(1, READY)
    if went >= 0:
        os.close(told)
        _hold_to(deadline, went)
    _, status = os.waitpid(pid, 0)
    if went >= 0:
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)  # the run is over: its status stands
    code = os.waitstatus_to_exitcode(status)
    _report(status_fd, code if code >= 0 else 128 - code)
    if code < 0:  # killed by a signal: end the same way
        import signal

        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code if code >= 0 else 128 - code)


main()
