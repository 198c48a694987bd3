"""cfn-lint's work moved into forked processes, where a second core can take it (see `cfn.lint`).

- Ahead: a build in a new process (cfn-lint not loaded) forks, at the first template it renders
  that the lint cache does not answer (`cfn.build._lint_ahead`), a "lint parent" that loads
  cfn-lint's rule set (about a second of CPU) while the build renders the rest, writes files
  and makes docs; a build whose every finding is cached forks nothing (not with --lint-format
  nor --watch either: the build loads cfn-lint itself, to format the findings or to keep it
  loaded, `BuildRequest.lint_ahead`). `cfn.lint.lint` then sends it the templates the cache
  does not answer; it lints them as the build would have (`_lint_many`, with its workers) and
  sends the findings back.
- Split: 2 to `PARALLEL_MIN_TEMPLATES - 1` templates with cfn-lint loaded (a build server's
  build, `--watch`): one fork lints part of them, balanced by size, while this process lints
  the rest.

Either way the findings are those the process would have found itself (the same functions, on
the same texts); a fork that fails or dies is replaced by linting in this process, silently (it
prints nothing this process would not). A fork ends with its parent (`die_with_parent`),
ignores Ctrl-C (its parent, interrupted, stops and reaps it) and is reaped on every path.
`INSIGHTXI_LINT_FORK=0` turns both off (for debugging: everything runs as without this module).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

ENV_SWITCH = "INSIGHTXI_LINT_FORK"
Items = list[tuple[int, str, str]]
Found = dict[int, list[dict[str, Any]]]


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1") != "0"


@dataclass
class _Ahead:
    pid: int
    requests: int  # write end: the to-do list
    results: int  # read end: the findings


_ahead: _Ahead | None = None
_loaded_ahead = False  # a lint parent of this process loaded cfn-lint (and linted)
_no_fork = False  # a lint parent could not be forked (EAGAIN...): not tried again


def cfnlint_loaded() -> bool:
    """Whether this build paid for loading cfn-lint, in this process or in its lint parent."""
    return "cfnlint" in sys.modules or _loaded_ahead


def _fork() -> int:
    # Buffered output would be written twice, once by each process.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return os.fork()


def _in_child(parent: int) -> None:
    """First thing in a fork: Ctrl-C is the parent's to handle, and the fork ends with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """In a lint worker: end when the build's process ends. A build stopped by a signal it does
    not handle (SIGTERM, SIGKILL) shuts no pool down, and a worker waiting for work would wait
    for ever, keeping the build's output pipes open (a CI step that never ends). On Linux the
    kernel sends SIGTERM to the worker when its parent dies; elsewhere this does nothing."""
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent was gone before the request was made
        os._exit(1)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def interrupt_after() -> Iterator[None]:
    """Ctrl-C held back while a process is forked or reaped, and raised after. Raised inside,
    it would be lost in the fork's handlers (the logging module's print it as "Exception
    ignored", and the build goes on), or leave a fork unreaped."""
    import threading

    handler = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or handler is None:
        yield  # only the main thread sets handlers; None: one not set from Python
        return
    came: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        if came and callable(handler):
            handler(signal.SIGINT, None)
        elif came and handler == signal.SIG_DFL:
            raise KeyboardInterrupt


def _reap(pid: int, stop: bool) -> None:
    with interrupt_after():
        if stop:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


# -- ahead ------------------------------------------------------------------------------------


def prestart() -> None:
    """Fork the lint parent, unless cfn-lint is loaded here already (build server, --watch),
    it is turned off, one runs, or a thread runs (a fork would copy its locks)."""
    global _ahead, _no_fork
    if _ahead is not None or _no_fork or "cfnlint" in sys.modules or not enabled():
        return
    if not hasattr(os, "fork"):  # not on this platform: the build lints in its own process
        return
    if "threading" in sys.modules and sys.modules["threading"].active_count() > 1:
        return
    fds: list[int] = []
    parent = os.getpid()
    with interrupt_after():  # a Ctrl-C after: the build's `stop` reaps it
        try:
            fds += os.pipe()
            fds += os.pipe()
            pid = _fork()
        except OSError:  # no pipe or no fork (EMFILE, EAGAIN, ENOMEM): the build lints itself
            _close(*fds)
            _no_fork = True  # started before rendering, it is not tried again at a cache miss
            return
        req_r, req_w, res_r, res_w = fds
        if pid == 0:
            try:
                _close(req_w, res_r)
                _in_child(parent)
                _serve(req_r, res_w)
            finally:
                os._exit(1)  # never back into the build's code (nor its exit handlers)
        _close(req_r, res_w)
        _ahead = _Ahead(pid, req_w, res_r)


def _serve(requests: int, results: int) -> None:
    from cfn import lint

    lint._rules()
    data = _read_all(requests)
    if not data:
        os._exit(0)  # nothing to lint: the build had every finding cached
    todo, jobs = pickle.loads(data)
    _write_all(results, pickle.dumps(lint._lint_many(todo, jobs)))
    os._exit(0)


def lint_ahead(todo: Items, jobs: int) -> Found | None:
    """The findings of `todo` from the lint parent; None when none runs, or it failed (the
    caller lints in this process)."""
    global _ahead, _loaded_ahead
    ahead, _ahead = _ahead, None
    if ahead is None:
        return None
    found = None
    try:
        with contextlib.suppress(Exception):  # it died (broken pipe, truncated answer)
            try:
                _write_all(ahead.requests, pickle.dumps((todo, jobs)))
            finally:
                _close(ahead.requests)  # the end of its to-do list
            found = pickle.loads(_read_all(ahead.results))
    finally:
        _close(ahead.results)
        _reap(ahead.pid, stop=found is None)
    _loaded_ahead = found is not None
    return found


def stop() -> None:
    """Stop the lint parent if one runs (nothing to lint, or the build ended before linting)."""
    global _ahead
    ahead, _ahead = _ahead, None
    if ahead is not None:
        _close(ahead.requests, ahead.results)  # it reads the end of its to-do list: it exits
        _reap(ahead.pid, stop=True)


# -- split ------------------------------------------------------------------------------------


def core_free() -> bool:
    """Whether a core is idle now: fewer runnable tasks than cores (Linux's instant count, in
    /proc/loadavg, this process included). A split pays off only then: with every core busy,
    the two halves take turns on one core, plus the fork and its copied pages (measured on 2
    cores: 127 -> 103 ms idle, 144 -> 170 ms busy, for a service and a root template)."""
    try:
        with open("/proc/loadavg", "rb") as fh:
            running = int(fh.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True  # cannot tell (not Linux): as on an idle machine
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return running < (cores or 1)


def halves(items: Items) -> tuple[Items, Items]:
    """Two parts of about the same total size (lint time grows with it), largest first."""
    parts: tuple[Items, Items] = ([], [])
    sizes = [0, 0]
    for item in sorted(items, key=lambda it: -len(it[1])):
        k = 0 if sizes[0] <= sizes[1] else 1
        parts[k].append(item)
        sizes[k] += len(item[1])
    return parts


def lint_split(items: Items, lint_chunk: Callable[[Items], list[Any]]) -> Found:
    """`lint_chunk` over `items`, half in one fork, half here; all here if the fork fails."""
    mine, theirs = halves(items)
    try:
        r, w = os.pipe()
    except OSError:  # no pipe (EMFILE): everything here
        return dict(lint_chunk(items))
    parent = os.getpid()
    pid, got = -1, None
    try:
        with interrupt_after():
            with contextlib.suppress(OSError):  # no fork (EAGAIN, ENOMEM): its half here
                pid = _fork()
            if pid == 0:
                _split_child(parent, r, w, lambda: lint_chunk(theirs))
        _close(w)
        w = -1
        found = dict(lint_chunk(mine))
        if pid > 0:
            with contextlib.suppress(Exception):  # the fork died: its half is linted here
                got = dict(pickle.loads(_read_all(r)))
    finally:
        _close(r, *([w] if w >= 0 else []))
        if pid > 0:
            _reap(pid, stop=got is None)
    return {**found, **(got if got is not None else dict(lint_chunk(theirs)))}


def _split_child(parent: int, r: int, w: int, work: Callable[[], Any]) -> None:
    try:
        os.close(r)
        _in_child(parent)
        _write_all(w, pickle.dumps(work()))
        os._exit(0)
    finally:
        os._exit(1)
