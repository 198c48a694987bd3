"""The build server (`cfn.buildserver`, `cfn.buildserver_zygote`), through bin/build-templates on
copies of the project: a build it runs gives what a build in a new process gives, byte for byte
(output, exit status, files); any change of the code gives another key, so an old server is never
asked; a socket without a server, an idle server and `--stop-server` behave as documented.

Whether a build ran in the server is read from the CPU time of the `bin/build-templates` process
(with the children it waited for): a build in its own process imports click, pydantic,
troposphere and, to lint, cfn-lint, which costs far more than `DELEGATED_CPU`; a client that
hands the build over imports none of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cfn import buildserver, paths
from tests.conftest import PROJECT_ROOT, copy_project

DELEGATED_CPU = 0.3  # seconds: the client alone takes about 0.06
TREE = ("templates", "docs", "README.md", "cfn/insightxi.toml")


@dataclass
class Run:
    out: str
    err: str
    code: int
    cpu: float


def build(project: Path, env: dict[str, str], *args: str) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(
        [sys.executable, str(project / "bin" / "build-templates"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Run(r.stdout, r.stderr, r.returncode, cpu)


def tree(project: Path) -> dict[str, bytes]:
    """Every file a build reads or writes, by path in the project."""
    files: dict[str, bytes] = {}
    for name in TREE:
        path = project / name
        found = sorted(path.rglob("*")) if path.is_dir() else [path]
        files.update({str(p.relative_to(project)): p.read_bytes() for p in found if p.is_file()})
    return files


def restore(project: Path, files: dict[str, bytes]) -> None:
    for name, data in tree(project).items():
        if name not in files:
            (project / name).unlink()
        elif data != files[name]:
            (project / name).write_bytes(files[name])
    for name, data in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes(data)


def without_seconds(stderr: str) -> str:
    return re.sub(r"\d+\.\d\d s$", "N s", stderr, flags=re.M)


@dataclass
class Served:
    """A project copy, its cache directory and the environments with the server on and off."""

    project: Path
    cache: Path
    on: dict[str, str]
    off: dict[str, str]


def server_pids(cache: Path) -> list[int]:
    """The live servers of the cache directory, from the pid each writes in its lock file."""
    pids = []
    for lock in (cache / "server").glob("*.lock"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(lock.read_text())
            if b"buildserver_zygote" in Path(f"/proc/{pid}/cmdline").read_bytes():
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(pid)
    return pids


def sockets(cache: Path) -> list[Path]:
    return sorted((cache / "server").glob("*.sock"))


def answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def wait_for_server(cache: Path, count: int = 1) -> list[Path]:
    wait_for(lambda: sum(map(answers, sockets(cache))) == count, f"{count} server(s) listening")
    return [p for p in sockets(cache) if answers(p)]


def started_servers(cache: Path) -> list[int]:
    """Every server process of the cache directory, even one not yet locked nor listening."""
    mine = f"{paths.CACHE_ENV}={cache}".encode()
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            environ = (cmdline.parent / "environ").read_bytes().split(b"\0")
            if b"buildserver_zygote" in cmdline.read_bytes() and mine in environ:
                pids.append(int(cmdline.parent.name))
    return pids


@pytest.fixture(scope="module")
def kill_servers():
    """Kills, at the end, every server of the cache directories registered (even on failure)."""
    caches: list[Path] = []
    yield caches.append
    for cache in caches:
        for pid in started_servers(cache):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def serve(root: Path, kill_servers: Any, *first: str, **extra: str) -> Served:
    """A project copy with a server started by a first build (which lints, in its process)."""
    cache = root / "c"
    cache.mkdir()
    kill_servers(cache)
    off = {**os.environ, "INSIGHTXI_CACHE_DIR": str(cache), buildserver.SWITCH: "0"}
    on = {**off, buildserver.SWITCH: "1", **extra}
    served = Served(copy_project(root / "p"), cache, on, off)
    assert buildserver.socket_path(str(cache / "server"), "0" * 64), "a cache path short enough"
    r = build(served.project, on, *first)
    assert r.code == 0 and r.cpu > DELEGATED_CPU, r.err
    return served


@pytest.fixture(scope="module")
def served(tmp_path_factory, kill_servers) -> Served:
    s = serve(tmp_path_factory.mktemp("bs"), kill_servers)
    wait_for_server(s.cache)
    return s


def editable(raw: dict[str, Any]) -> tuple[str, str]:
    """An (environment, service) without an overrides table of its own."""
    return next(
        (env, service["name"])
        for env, data in raw["environments"].items()
        for service in raw["services"]
        if service["name"] not in data.get("services", {})
    )


def set_max_count(project: Path, raw: dict[str, Any], value: int) -> None:
    env, service = editable(raw)
    config = project / "cfn" / "insightxi.toml"
    text = config.read_text().split("\n# edited by a test\n")[0]
    config.write_text(
        f'{text}\n# edited by a test\n[environments.{env}.services."{service}"]\n'
        f"max_count = {value}\n"
    )


def same_as_in_its_own_process(served: Served, prepare: Any, *args: str) -> Run:
    """Run the build through the server, then, from the same files, with the server off;
    assert everything is the same (but the seconds the build took); put the files back; the
    server's run."""
    before = tree(served.project)
    prepare()
    on = build(served.project, served.on, *args)
    written = tree(served.project)
    restore(served.project, before)
    prepare()
    off = build(served.project, served.off, *args)
    assert on.cpu < DELEGATED_CPU, f"not built by the server ({on.cpu:.2f} s of CPU): {on.err}"
    assert off.cpu > on.cpu
    assert (on.code, on.out) == (off.code, off.out)
    assert without_seconds(on.err) == without_seconds(off.err)
    assert written == tree(served.project)
    restore(served.project, before)
    return on


def client_key(served: Served) -> str:
    """The key bin/build-templates computes in the project now (the same `sys.path`)."""
    code = (
        "import sys; sys.path[0:1] = [sys.argv[1], sys.argv[1] + '/bin']; "
        "from cfn import buildserver; print(buildserver.key())"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(served.project)],
        cwd=served.project,
        env=served.on,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def ask(path: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Send a request as bin/build-templates does (this process's streams attached)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        socket.send_fds(s, [json.dumps(request).encode() + b"\n"], [0, 1, 2])
        return json.loads(s.makefile().readline())


# -- what a build through the server gives ------------------------------------------------------


def test_an_edit_of_one_service_builds_the_same_as_in_a_new_process(served, raw):
    env, service = editable(raw)
    on = same_as_in_its_own_process(served, lambda: set_max_count(served.project, raw, 17))
    assert on.code == 0
    assert f"templates/{env}/{service}.json" in on.err and "wrote" in on.err


def test_a_config_error_is_the_same_message_and_exit_2(served, raw):
    on = same_as_in_its_own_process(served, lambda: set_max_count(served.project, raw, 0))
    assert on.code == 2 and "error: invalid configuration" in on.err and on.out == ""


def test_check_with_a_difference_exits_1_the_same(served, raw):
    env = next(iter(raw["environments"]))
    template = next((served.project / "templates" / env).glob("*.json"))
    on = same_as_in_its_own_process(served, lambda: template.write_text("{}\n"), "--check")
    assert on.code == 1 and f"templates/{env}/{template.name}: differs" in on.out + on.err


def test_a_request_with_another_key_is_refused(served):
    (path,) = wait_for_server(served.cache)
    request = {"key": "0" * 64, "argv": ["--check"], "cwd": str(served.project), "umask": 18}
    assert ask(path, request) == {"refused": "not this server's key"}
    # Nonsense, or a request without the standard streams, gets nothing or a refusal ...
    for data in (b"nonsense\n", b"[1, 2]\n", b"\n"):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(path))
            s.sendall(data)
            assert s.recv(100) == b""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(json.dumps({**request, "key": client_key(served)}).encode() + b"\n")
        assert json.loads(s.makefile().readline()) == {"refused": "no standard streams"}
    # ... and it still serves the requests with its key
    r = build(served.project, served.on, "--check", "--no-lint")
    assert r.code == 0 and r.cpu < DELEGATED_CPU, r.err


def children_of(pid: int) -> list[int]:
    """The live (not yet exited) children of the process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            if int(parent) == pid and state != "Z":
                found.append(int(stat.parent.name))
    return found


def test_ctrl_c_interrupts_the_build_as_in_its_own_process(served):
    (server,) = server_pids(served.cache)
    client = subprocess.Popen(
        [sys.executable, "bin/build-templates", "--no-cache"],
        cwd=served.project,
        env=served.on,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: children_of(server), "the build's process", timeout=30)
        (child,) = children_of(server)
        # Well into the build: linting, in worker processes where there are two cores or more.
        since = time.monotonic()
        wait_for(lambda: children_of(child) or time.monotonic() - since > 1.5, "linting")
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=60)
    finally:
        client.kill()
    assert client.returncode == 130 and out == "", err
    assert err.endswith(
        "interrupted: the files are as before or all rewritten, none half-written; "
        "run bin/build-templates again for the summary and the lint findings\n"
    )
    wait_for(lambda: child not in children_of(server), "the build's process gone", timeout=10)


def test_a_build_ends_with_its_caller_killed(served, tmp_path):
    """SIGKILL (a CI timeout's, an IDE's) cannot be forwarded: the build must not go on in the
    background, writing files and output after its command is gone, as it would not in a new
    process."""
    (server,) = server_pids(served.cache)
    err = tmp_path / "err"
    with err.open("w") as stderr:
        client = subprocess.Popen(
            [sys.executable, "bin/build-templates", "--no-cache"],
            cwd=served.project,
            env=served.on,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for(lambda: children_of(server), "the build's process", timeout=30)
        (child,) = children_of(server)
        client.kill()
        client.wait(timeout=10)
        wait_for(lambda: child not in children_of(server), "the build's process gone", timeout=10)
    finally:
        client.kill()
    assert "template(s)" not in err.read_text(), "the build went on to its end"


def test_a_signal_the_caller_ignores_does_not_stop_the_build(served):
    """`nohup bin/build-templates &`: a hang-up the command ignores must not stop the build in
    the server either; it ends as in its own process."""
    (server,) = server_pids(served.cache)
    client = subprocess.Popen(
        [sys.executable, "bin/build-templates", "--no-cache"],
        cwd=served.project,
        env=served.on,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    try:
        wait_for(lambda: children_of(server), "the build's process", timeout=30)
        client.send_signal(signal.SIGHUP)
        out, err = client.communicate(timeout=120)
    finally:
        client.kill()
    assert client.returncode == 0 and "template(s)" in err, (client.returncode, err)
    assert out.count(".json") > 1, out  # its summary table


def test_ctrl_c_interrupts_though_the_server_was_started_ignoring_it(
    tmp_path_factory, kill_servers
):
    """A server started by a build that ignored SIGINT (a script's background job) gives its
    builds the caller's dispositions, not its own: Ctrl-C still interrupts."""
    root = tmp_path_factory.mktemp("bs")
    cache = root / "c"
    cache.mkdir()
    kill_servers(cache)
    project = copy_project(root / "p")
    on = {**os.environ, "INSIGHTXI_CACHE_DIR": str(cache), buildserver.SWITCH: "1"}
    first = subprocess.run(
        [sys.executable, "bin/build-templates", "--env", "dev"],
        cwd=project,
        env=on,
        capture_output=True,
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert first.returncode == 0, first.stderr
    wait_for_server(cache)
    (server,) = server_pids(cache)
    client = subprocess.Popen(
        [sys.executable, "bin/build-templates", "--no-cache"],
        cwd=project,
        env=on,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: children_of(server), "the build's process", timeout=30)
        (child,) = children_of(server)
        since = time.monotonic()  # well into the build, as in the test above
        wait_for(lambda: children_of(child) or time.monotonic() - since > 1.5, "linting")
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=60)
    finally:
        client.kill()
    assert client.returncode == 130 and out == "", err
    assert "\ninterrupted: the files are as before" in err, err


# -- when a server is not used, or goes away ----------------------------------------------------


RULE = """
from cfnlint.rules import CloudFormationLintRule, RuleMatch


class AddedAfterTheServerStarted(CloudFormationLintRule):
    id = "W9998"
    shortdesc = "Added by a test"
    description = "Added by a test after the build server loaded the rules"
    source_url = "https://example.com/"
    tags = ["test"]

    def match(self, cfn):
        return [RuleMatch(["Resources"], "added after the server loaded the rules")]
"""


def test_a_new_rule_gives_a_new_key_and_the_old_server_is_not_asked(tmp_path_factory, kill_servers):
    s = serve(tmp_path_factory.mktemp("bs"), kill_servers, "--env", "dev")
    (old,) = wait_for_server(s.cache)
    old_key = client_key(s)
    assert old.name == f"{old_key[:32]}.sock"
    (s.project / "cfn" / "rules" / "AddedAfterTheServerStarted.py").write_text(RULE)
    r = build(s.project, s.on, "--env", "dev")
    assert r.code == 1 and "W9998 added after the server loaded the rules" in r.out + r.err
    assert r.cpu > DELEGATED_CPU, "built in its own process"
    assert answers(old), "the old server is still there, for its own key"
    # Asked with its old key after all (a client that hashed the files before the edit), the
    # old server sees the files changed, refuses, and exits.
    request = {"key": old_key, "argv": ["--env", "dev"], "cwd": str(s.project), "umask": 18}
    assert ask(old, request) == {"refused": "the files changed since the server loaded"}
    wait_for(lambda: not old.exists(), "the old server gone", timeout=10)


def test_a_socket_without_a_server_means_a_build_in_its_own_process(
    tmp_path_factory, kill_servers, raw
):
    s = serve(tmp_path_factory.mktemp("bs"), kill_servers, "--env", "dev")
    (path,) = wait_for_server(s.cache)
    (pid,) = server_pids(s.cache)
    os.kill(pid, signal.SIGKILL)
    # (Its memory goes before its files: the socket may answer a moment longer.)
    wait_for(lambda: not server_pids(s.cache) and not answers(path), "the server killed")
    assert path.exists()
    env, _ = editable(raw)
    set_max_count(s.project, raw, 13)
    r = build(s.project, s.on, "--env", env)
    assert r.code == 0 and r.cpu > DELEGATED_CPU
    assert r.err.splitlines()[0].startswith("wrote "), r.err  # nothing about the server
    # The build started a new server in place of the dead one.
    assert wait_for_server(s.cache) == [path]


def test_an_idle_server_exits_and_removes_its_socket(tmp_path_factory, kill_servers):
    s = serve(
        tmp_path_factory.mktemp("bs"), kill_servers, "--env", "dev", **{buildserver.IDLE: "1"}
    )
    wait_for(lambda: sockets(s.cache), "a server listening")
    wait_for(lambda: not server_pids(s.cache) and not sockets(s.cache), "the server gone")
    assert list((s.cache / "server").iterdir()) == [], "its lock file removed as well"


def test_stop_server_stops_every_server(served):
    wait_for_server(served.cache)
    r = build(served.project, served.on, "--stop-server")
    assert (r.code, r.out) == (0, "stopped 1 build server\n")
    assert not sockets(served.cache)
    wait_for(lambda: not server_pids(served.cache), "the server gone", timeout=10)
    r = build(served.project, served.on, "--stop-server")
    assert (r.code, r.out) == (0, "stopped 0 build servers\n")


def test_stop_server_stops_a_server_still_loading(tmp_path_factory, kill_servers):
    """`bin/build-templates && bin/build-templates --stop-server`: the server the build started
    is still loading (it has no socket yet); it is stopped all the same, not left to serve."""
    root = tmp_path_factory.mktemp("bs")
    cache = root / "c"
    cache.mkdir()
    kill_servers(cache)
    project = copy_project(root / "p")
    stacks = project / "cfn" / "stacks" / "__init__.py"
    with stacks.open("a") as fh:  # the server's loading made slow; a build's is not
        fh.write('\nimport sys, time\n"cfn.buildserver_zygote" in sys.modules and time.sleep(5)\n')
    on = {**os.environ, "INSIGHTXI_CACHE_DIR": str(cache), buildserver.SWITCH: "1"}
    assert build(project, on, "--env", "dev").code == 0
    wait_for(lambda: server_pids(cache), "the server locked, loading", timeout=30)
    assert not sockets(cache), "still loading"
    r = build(project, on, "--stop-server")
    assert (r.code, r.out) == (0, "stopped 1 build server\n"), r.err
    wait_for(lambda: not started_servers(cache), "the loading server gone", timeout=10)
    assert not sockets(cache)


def test_a_server_whose_loading_prints_does_not_serve():
    """What loading prints (a warning at import, say) a new process would print; a fork could
    not, so such a server does not serve."""
    loads = {
        "lambda: None": "True",
        "lambda: print('a line')": "False",
        "lambda: warnings.warn('at import')": "False",
        "lambda: os.write(2, b'from C')": "False",
    }
    for load, quiet in loads.items():
        code = "import os, warnings; from cfn.buildserver_zygote import _quietly"
        r = subprocess.run(
            [sys.executable, "-c", f"{code}; print(_quietly({load}))"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (r.stdout, r.stderr) == (quiet + "\n", ""), load


def test_the_switch_and_ci():
    on = buildserver.supported()
    assert buildserver.enabled({}) is on
    for value in ("0", "off", "No", "false"):
        assert not buildserver.enabled({buildserver.SWITCH: value})
    assert not buildserver.enabled({"CI": "true"})
    assert buildserver.enabled({"CI": "false"}) is on
    assert buildserver.enabled({"CI": "true", buildserver.SWITCH: "1"}) is on
