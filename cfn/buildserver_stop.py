"""`bin/build-templates --stop-server`'s part for a build server still loading
(`cfn.buildserver_zygote`): it holds its key's lock and wrote its pid there, but has no socket
yet to be asked to stop through (`cfn.buildserver.stop_all` asks those that have one)."""

from __future__ import annotations

import contextlib
import os
import signal


def stop_loading(directory: str, done: set[str]) -> int:
    """Stop the servers of `directory` that hold their lock but were not asked by their socket
    (not in `done`: still loading, so not listening yet) with SIGTERM, to the pid each wrote
    in its lock file once checked to be this key's server; how many."""
    stopped = 0
    for name in sorted(os.listdir(directory)):
        if name.endswith(".lock") and name[: -len(".lock")] not in done:
            pid = _holder(os.path.join(directory, name))
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
                    stopped += 1
    return stopped


def _holder(lock_path: str) -> int | None:
    """The pid of the server holding the lock, if one does (its command line names the key)."""
    import fcntl

    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None  # nobody holds it: no server
        except OSError:
            pass
        pid = int(os.read(fd, 32).strip() or 0)
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
        prefix = os.path.basename(lock_path)[:32].encode()
        mine = any(a[:32] == prefix and len(a) == 64 for a in args)
        return pid if pid and mine and b"buildserver_zygote" in b" ".join(args) else None
    except (OSError, ValueError):
        return None  # gone meanwhile, or its pid not written yet
    finally:
        os.close(fd)
