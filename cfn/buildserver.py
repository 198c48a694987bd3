"""The build server's client side: hand a build to a warm process (`cfn.buildserver_zygote`)
that already has the package, its dependencies and cfn-lint's rule set loaded, and start one
for the next build. Standard library only: it runs in `bin/build-templates` before any heavy
import, once the no-change fast path (`cfn.fastbuild`) did not answer.

A server is found by its key, a SHA-256 of everything a warm process holds that a fresh one
would read anew: the interpreter (path, version, flags, options, `sys.path`), the user and
group, the working directory, the environment variables (all but `VOLATILE`, which the request
carries and the build process sets), the content of every source file of the package (the
configuration, read by every build, is left out), the installed dependencies' stamps and the
listing stamps of `sys.path`'s directories (installing or removing a package changes them),
cfn-lint's schema data, botocore's custom endpoint data and the `.cfnlintrc` files cfn-lint
would read. Anything else gives another key, hence another server: a server is never asked to
build with code, packages or settings other than those it loaded. The key names the socket
(`<cache dir>/server/<key[:32]>.sock`, in a directory only its owner can enter); the request
carries the whole key, and the server refuses one that is not its own.

The protocol, one JSON line each way: the client sends the request with its standard input,
output and error attached (`socket.send_fds`); the server forks a process that takes them over,
checks the files on disk still give its key, and answers `{"started": pid}`; only after the
client's `go` does it build, then it sends `{"exit": status}`. Until `started` any problem means
"build in this process", silently; after it the client waits for the status, forwarding SIGINT,
SIGTERM and SIGHUP to the build's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal  # `delegate` needs it whenever this module is used
import sys

from cfn import fastbuild, paths

TYPE_CHECKING = False  # not `typing`'s: importing it costs the client milliseconds
if TYPE_CHECKING:
    import socket
    from collections.abc import Mapping, Sequence

PROTOCOL = 1  # part of the key: a server speaking another protocol is never reached
SWITCH = "INSIGHTXI_BUILD_SERVER"
IDLE = "INSIGHTXI_BUILD_SERVER_IDLE"
IDLE_SECONDS = 600.0
# Environment variables a shell changes between commands that no build reads (or whose value the
# build process takes from the request): left out of the key.
VOLATILE = ("PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "TERM_SESSION_ID", "WINDOWID")
HANDSHAKE_SECONDS = 3.0  # for the server to answer `started`; then the build may take its time
MAX_SOCKET_PATH = 107  # bytes of an AF_UNIX address (108 with the terminating NUL, on Linux)
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # to the build's process
STOP_ARGS = ("--watch", "--stop-server")  # never handed to a server
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from cfn import buildserver_zygote; buildserver_zygote.main(sys.argv[2])"
)


def supported() -> bool:
    """Whether this platform has what the server needs (fork, fd passing, peer credentials)."""
    import socket

    return all(
        hasattr(m, a) for m, a in ((os, "fork"), (socket, "SO_PEERCRED"), (socket, "send_fds"))
    )


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """`INSIGHTXI_BUILD_SERVER`: 0/off/no/false turns it off, 1/on/yes/true on; unset, it is on
    except when `CI` is set (and not "false"/"0")."""
    switch = environ.get(SWITCH, "").strip().lower()
    if switch in ("0", "off", "no", "false"):
        return False
    ci = environ.get("CI", "").strip().lower()
    if switch not in ("1", "on", "yes", "true") and ci not in ("", "false", "0"):
        return False
    return supported()


def idle_seconds(environ: Mapping[str, str] = os.environ) -> float:
    try:
        return max(0.0, float(environ.get(IDLE, "") or IDLE_SECONDS))
    except ValueError:
        return IDLE_SECONDS


def _path_stamps() -> list[object]:
    """`sys.path`'s directories with their modification times (installing, upgrading or removing
    a package changes its directory's listing), but for the project's root and bin/, whose
    listings change with the project's files (the package's own are hashed one by one)."""
    own = {str(paths.PROJECT_ROOT), str(paths.PROJECT_ROOT / "bin")}
    stamps: list[object] = []
    for entry in sys.path:
        if not entry or os.path.realpath(entry) in own:
            continue
        try:
            stamps.append([entry, os.stat(entry).st_mtime_ns])
        except OSError:
            stamps.append([entry, None])
    return stamps


def key(taken: fastbuild.Snapshot | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The server key of this process (and of the files on disk, or those `taken` recorded)."""
    taken = taken if taken is not None else fastbuild.Snapshot(())
    environ = os.environ if environ is None else environ
    interpreter = [sys.executable, sys.version, list(sys.flags), sys.warnoptions, sys.path]
    interpreter += [sorted(map(str, sys._xoptions.items())), os.getuid(), os.getgid()]
    sources = {**taken.sources, **taken.cfnlintrc}
    parts = [
        PROTOCOL,
        interpreter,
        os.getcwd(),
        sorted((k, v) for k, v in environ.items() if k not in VOLATILE),
        taken.environment,
        _path_stamps(),
        sorted((p, e[0]) for p, e in sources.items() if not p.endswith(".toml")),
    ]
    return fastbuild._sha256(json.dumps(parts).encode())


def server_dir(create: bool = False) -> str | None:
    """`<cache dir>/server`, when it is this user's and closed to others (made so if `create`)."""
    directory = os.path.join(paths.cache_dir(), "server")
    try:
        if create:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        st = os.stat(directory)
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.chmod(directory, 0o700)
            st = os.stat(directory)
    except OSError:
        return None
    return directory if st.st_uid == os.getuid() and not st.st_mode & 0o077 else None


def socket_path(directory: str, server_key: str) -> str | None:
    path = os.path.join(directory, f"{server_key[:32]}.sock")
    return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH else None


def peer_uid(sock: socket.socket) -> int:
    import socket
    import struct

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def send(sock: socket.socket, message: object) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def receive(sock: socket.socket, pending: bytearray) -> dict | None:
    """The next JSON line from `sock` (bytes after it stay in `pending`); None at its end."""
    while b"\n" not in pending:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        pending += chunk
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    message = json.loads(line)
    return message if isinstance(message, dict) else None


def _connect(path: str) -> socket.socket:
    """A connection to the server listening on `path`, checked to be this user's."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(HANDSHAKE_SECONDS)
        sock.connect(path)
        if peer_uid(sock) != os.getuid():
            raise PermissionError(f"{path}: another user's server")
    except BaseException:
        sock.close()
        raise
    return sock


def _request(argv: Sequence[str], server_key: str) -> dict:
    mask = os.umask(0o022)
    os.umask(mask)
    return {
        "key": server_key,
        "argv": list(argv),
        "argv0": sys.argv[0] if sys.argv else "",
        "cwd": os.getcwd(),
        "umask": mask,
        "volatile": {k: os.environ[k] for k in VOLATILE if k in os.environ},
        "unbuffered": bool(getattr(sys.stdout, "write_through", False)),
        # The build's process ignores what this one ignores, and only that (the server's own
        # dispositions are those of the build that started it).
        "ignored": [int(s) for s in FORWARDED if signal.getsignal(s) is signal.SIG_IGN],
    }


def _start(argv: Sequence[str]) -> tuple[socket.socket, int, bytearray] | None:
    """Connect to this key's server and have it fork the build: (connection, the build
    process's pid, unread bytes), or None when there is no such server or it would not."""
    import socket

    if not enabled() or any(a in STOP_ARGS for a in argv):
        return None
    directory = server_dir()
    if directory is None:
        return None
    server_key = key()
    path = socket_path(directory, server_key)
    if path is None or not os.path.exists(path):
        return None
    try:
        sock = _connect(path)
    except OSError:
        return None  # a socket left by a server that died, say
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)  # a closed standard stream: build here
        data = json.dumps(_request(argv, server_key)).encode() + b"\n"
        sent = socket.send_fds(sock, [data], [0, 1, 2])
        sock.sendall(data[sent:])
        pending = bytearray()
        reply = receive(sock, pending)
        if reply is not None and isinstance(reply.get("started"), int):
            return sock, reply["started"], pending
    except (OSError, ValueError):
        pass
    sock.close()
    return None


def delegate(argv: Sequence[str]) -> int | None:
    """Have a matching build server run `bin/build-templates argv`: its exit status, or None
    when there is none (or it could not start the build): then build in this process."""
    # Those this process ignores (`nohup`, a background job of a script) it must not catch
    # and forward: a new process would ignore them too, and build on.
    forwarded = tuple(s for s in FORWARDED if signal.getsignal(s) is not signal.SIG_IGN)
    try:
        started = _start(argv)
        if started is None:
            return None
        # Held until `go` is sent, then given to the build: before `go`, the build's process
        # is only waiting for it.
        signal.pthread_sigmask(signal.SIG_BLOCK, forwarded)
    except KeyboardInterrupt:
        # Before the build began (a build process waiting for `go` gives up when this one
        # exits): as an interrupt while loading is reported.
        print("interrupted", file=sys.stderr)
        return 130
    sock, pid, pending = started
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        with contextlib.suppress(OSError):
            os.kill(pid, signum)

    for signum in forwarded:
        signal.signal(signum, forward)
    try:
        sock.settimeout(None)
        try:
            send(sock, {"go": True})
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, forwarded)
        reply = receive(sock, pending)
    except (OSError, ValueError):
        reply = None
    if reply is not None and isinstance(reply.get("exit"), int):
        return reply["exit"]
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signum in received:  # the build died of it, as this process does
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
    print(
        "error: the build server's process ended before the build did (no file is "
        f"half-written); run bin/build-templates again, or with {SWITCH}=0",
        file=sys.stderr,
    )
    return 1


def _lock_held(directory: str, server_key: str) -> bool:
    import fcntl

    try:
        fd = os.open(
            os.path.join(directory, f"{server_key[:32]}.lock"), os.O_RDWR | os.O_CREAT, 0o600
        )
    except OSError:
        return True  # cannot tell: start nothing
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def start_for_next_build(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    """After a build in this process that loaded cfn-lint: start a server (in the background,
    in its own session) for the next one, unless turned off or one runs for this key.
    `environ`: the environment this process started with (the build may have changed its own)."""
    import subprocess

    if not enabled(environ) or any(a in STOP_ARGS for a in argv):
        return
    try:
        directory = server_dir(create=True)
        server_key = key(environ=environ)
        if directory is None or socket_path(directory, server_key) is None:
            return
        if os.path.exists(os.path.join(directory, f"{server_key[:32]}.noserve")):
            return  # its warm-up printed something a fresh build would print: see the zygote
        if _lock_held(directory, server_key):
            return
        flags = getattr(subprocess, "_args_from_interpreter_flags", list)()
        subprocess.Popen(
            [sys.executable, *flags, "-c", _BOOT, json.dumps(sys.path), server_key],
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        pass  # no server: the next build runs in its own process, as this one did


def stop_all() -> int:
    """Stop every build server of this cache directory (whatever its key), listening or still
    loading; how many were running. A socket no server listens on any more is removed."""
    directory = server_dir()
    if directory is None:
        return 0
    stopped, done = 0, set()
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".sock"):
            continue
        path = os.path.join(directory, name)
        try:
            sock = _connect(path)
        except ConnectionRefusedError:  # no server listens on it any more
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        except OSError:
            continue
        with sock:
            try:
                send(sock, {"stop": True})
                if (receive(sock, bytearray()) or {}).get("stopped") is True:
                    stopped += 1
                    done.add(name[: -len(".sock")])
            except (OSError, ValueError):
                pass
    from cfn import buildserver_stop  # a server still loading has no socket yet

    return stopped + buildserver_stop.stop_loading(directory, done)
