"""The build server: a process that loads what a build needs once, then runs each build it is
asked for in a fork of itself ("zygote"), with the caller's standard streams, so that a build
after an edit pays neither the imports nor cfn-lint's rule set (about a second of CPU).

Started by `cfn.buildserver.start_for_next_build` (detached, with the caller's interpreter,
`sys.path`, working directory and environment), it checks that it computes the key it was
started for, imports the build's modules and loads cfn-lint's rule set (`cfn.lint._rules`,
patches applied), and nothing that depends on the configuration or on a request. Whatever the
loading prints (a warning at import, say) a fresh process would print too, and a fork could not:
a server whose loading printed anything does not serve (it leaves a `.noserve` mark for its
key). Then it binds its socket under a temporary name and renames it into place (a client never
reaches a half-loaded server) and freezes its heap for the collector (`gc.freeze`).

One request at a time, in one thread: the peer must be this user (SO_PEERCRED); the request's
key must be the server's own; a `{"stop": true}` request stops it. A build is a `fork`: the child
takes the caller's standard streams as its own (dup2 onto 0, 1 and 2: every object holding
`sys.stdout` now writes to them) with a fresh interpreter's buffering for them, the caller's
working directory, umask, arguments and volatile variables, takes the build's snapshot of the
files on disk (`cfn.fastbuild.snapshot`) and refuses when the key computed from it is not the
server's (a file changed since the server loaded: the server then exits); otherwise it runs
`cfn.cli.build.run`, exactly what a fresh process runs, and sends the exit status.

The server exits after `INSIGHTXI_BUILD_SERVER_IDLE` seconds (default 600) without a request,
when the files on disk no longer give its key (checked every `KEY_CHECK_SECONDS` while idle, and
by each build), when its socket is removed, on SIGTERM, or on a stop request; it removes its
socket. One server per key: it holds an exclusive lock on `<key[:32]>.lock` from start to exit.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from cfn import buildserver, fastbuild

KEY_CHECK_SECONDS = 10.0
TICK_SECONDS = 0.5
STALE = 75  # a build process's exit status meaning "the files changed since the server loaded"


def main(expected: str) -> None:
    """Serve builds for the key `expected` (the starting client's), until it is time to exit."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if buildserver.key() != expected:
        return  # another interpreter or environment than the client's: it would never be used
    directory = buildserver.server_dir(create=True)
    path = directory and buildserver.socket_path(directory, expected)
    if not directory or not path:
        return
    lock_path = os.path.join(directory, f"{expected[:32]}.lock")
    lock = _lock(lock_path)
    if lock is None:
        return  # another server has this key
    try:
        _serve(directory, path, expected, lock)
    finally:
        # Removed while still held: whoever opened it before finds it locked, whoever opens the
        # path after makes a new one, free since this server has removed its socket.
        with contextlib.suppress(OSError):
            os.unlink(lock_path)


def _serve(directory: str, path: str, expected: str, lock: int) -> None:
    """Load, listen, serve; remove the socket at the end."""
    if not _quietly(_warm):
        with open(os.path.join(directory, f"{expected[:32]}.noserve"), "w"):
            pass
        return
    if buildserver.key() != expected:
        return  # a file changed while loading: what was loaded may not be what the key says
    if "threading" in sys.modules and sys.modules["threading"].active_count() > 1:
        return  # a thread started while loading: forking would copy its locks, held or not
    listener = _bind(directory, path)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the loaded heap: never walked by the collector again, nor copied by it
        _Server(listener, path, expected, lock).loop()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _lock(path: str) -> int | None:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds it: for a person, or a test's teardown
    return fd


def _warm() -> None:
    """Import what a build imports and load cfn-lint's rule set; nothing a request decides
    (`cfn.lint._config` reads the working directory's `.cfnlintrc`: left to each build)."""
    import concurrent.futures.process  # noqa: F401  # the lint workers' pool
    import multiprocessing.popen_fork  # noqa: F401

    import awacs  # noqa: F401
    import cfnlint.decode.decode
    import cfnlint.runner.template.runner  # noqa: F401
    import pydantic  # noqa: F401
    import troposphere  # noqa: F401

    import cfn.build
    import cfn.cli.build
    import cfn.config
    import cfn.docs
    import cfn.render  # noqa: F401  # and every stack module
    from cfn import lint

    lint._rules()


def _quietly(load: Any) -> bool:
    """Run `load` with the standard output and error going to a temporary file; whether it
    wrote nothing there."""
    import tempfile

    with tempfile.TemporaryFile() as capture:
        saved = [os.dup(1), os.dup(2)]
        os.dup2(capture.fileno(), 1)
        os.dup2(capture.fileno(), 2)
        try:
            load()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, target in zip(saved, (1, 2), strict=True):
                os.dup2(fd, target)
                os.close(fd)
        return os.fstat(capture.fileno()).st_size == 0


def _bind(directory: str, path: str) -> socket.socket:
    """Listen on `path`, bound under a temporary name first: the socket appears ready."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = os.path.join(directory, f".{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    listener.bind(temporary)
    listener.listen(16)
    os.rename(temporary, path)
    return listener


class _Server:
    def __init__(self, listener: socket.socket, path: str, server_key: str, lock: int) -> None:
        self.listener, self.path, self.key, self.lock = listener, path, server_key, lock
        self.inode = os.stat(path).st_ino
        self.idle = buildserver.idle_seconds()
        self.children: set[int] = set()
        self.last = self.checked = time.monotonic()
        self.stale = False

    def loop(self) -> None:
        while not self.stale:
            self._reap()
            ready, _, _ = select.select([self.listener], [], [], TICK_SECONDS)
            now = time.monotonic()
            if ready:
                self.last = now
                conn, _ = self.listener.accept()
                with conn:
                    if self._handle(conn):
                        return
            elif not self.children and self._done(now):
                return

    def _done(self, now: float) -> bool:
        """Idle: whether it is time to exit (idle too long, socket gone, key changed)."""
        if now - self.last >= self.idle:
            return True
        try:
            if os.stat(self.path).st_ino != self.inode:
                return True
        except OSError:
            return True
        if now - self.checked >= KEY_CHECK_SECONDS:
            self.checked = now
            return buildserver.key() != self.key
        return False

    def _reap(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ChildProcessError):
                done, status = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
                self.stale |= os.WIFEXITED(status) and os.WEXITSTATUS(status) == STALE
            self.children.discard(pid)
            self.last = time.monotonic()

    def _handle(self, conn: socket.socket) -> bool:
        """Serve one connection; whether the server must stop."""
        fds: list[int] = []
        try:
            conn.settimeout(buildserver.HANDSHAKE_SECONDS)
            if buildserver.peer_uid(conn) != os.getuid():
                return False
            request, fds = _receive(conn)
            if request.get("stop") is True:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                buildserver.send(conn, {"stopped": True})
                return True
            if request.get("key") != self.key or len(fds) != 3:
                why = "not this server's key" if len(fds) == 3 else "no standard streams"
                buildserver.send(conn, {"refused": why})
                return False
            pid = os.fork()
            if pid == 0:
                _child(conn, self, request, fds)  # never returns
            self.children.add(pid)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a client that went away or spoke nonsense: it builds by itself
        finally:
            for fd in fds:
                os.close(fd)
        return False


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, flags, _ = socket.recv_fds(conn, 65536, 3)
    pending = bytearray(data)
    if flags & socket.MSG_CTRUNC or not data:
        for fd in fds:
            os.close(fd)
        raise ValueError("no request")
    request = buildserver.receive(conn, pending)
    if request is None:
        for fd in fds:
            os.close(fd)
        raise ValueError("no request")
    return request, fds


def _child(conn: socket.socket, server: _Server, request: dict[str, Any], fds: list[int]) -> None:
    """The build's process: become the caller's build, run it, send its exit status."""
    status, started = 1, False
    try:
        server.listener.close()
        os.close(server.lock)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _adopt(request, fds)
        fds.clear()
        argv = request["argv"]
        taken = fastbuild.snapshot(argv)
        if taken is None or buildserver.key(taken) != server.key:
            buildserver.send(conn, {"refused": "the files changed since the server loaded"})
            os._exit(STALE)
        buildserver.send(conn, {"started": os.getpid()})
        conn.settimeout(None)
        if (buildserver.receive(conn, bytearray()) or {}).get("go") is not True:
            os._exit(0)  # the caller gave up: it builds by itself
        started = True
        _end_with_caller(conn)
        from cfn.cli import build

        status = build.run(argv, taken)
    except BaseException as exc:
        if not started:
            os._exit(1)  # nothing shown: the caller builds by itself
        if isinstance(exc, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)  # as `cfn.run_entry` says it
            status = 130
        else:
            import traceback

            traceback.print_exc()  # a bug: as a new process shows it
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
            buildserver.send(conn, {"exit": status})
        os._exit(status)


def _end_with_caller(conn: socket.socket) -> None:
    """The build's process ends when its caller does: a caller killed by a signal it cannot
    forward (SIGKILL, say) closes the connection, and a new process would have died with it;
    its lint workers end with it (`cfn.lint`), and every file is as before or rewritten. The
    caller sends nothing after `go`: whatever it sends now is ignored, its end stops the build
    (once it has the status, the build is over)."""
    import threading

    def watch() -> None:
        with contextlib.suppress(OSError):
            while conn.recv(4096):
                pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="caller", daemon=True).start()


def _adopt(request: dict[str, Any], fds: list[int]) -> None:
    """Take over the caller's standard streams, directory, umask, arguments and volatile
    variables (the key pinned everything else)."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    # A fresh interpreter's buffering: stdout line-buffered on a terminal, stderr always;
    # unbuffered for `python -u` (or PYTHONUNBUFFERED).
    unbuffered = bool(request.get("unbuffered"))
    for stream, fd in ((sys.stdout, 1), (sys.stderr, 2)):
        lines = not unbuffered and (fd == 2 or os.isatty(fd))
        stream.reconfigure(line_buffering=lines, write_through=unbuffered)
    ignored = set(request.get("ignored") or ())
    for signum in buildserver.FORWARDED:  # as a new process started by the caller has them
        default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        signal.signal(signum, signal.SIG_IGN if signum in ignored else default)
    os.chdir(request["cwd"])
    os.umask(int(request["umask"]))
    volatile = request.get("volatile") or {}
    for name in buildserver.VOLATILE:
        if name in volatile:
            os.environ[name] = str(volatile[name])
        else:
            os.environ.pop(name, None)
    sys.argv = [str(request.get("argv0", "")), *map(str, request["argv"])]
    import importlib

    importlib.invalidate_caches()
