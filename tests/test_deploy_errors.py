"""Network and endpoint mistakes, and Ctrl-C, end in one line and a documented exit code, never
a traceback: a missing scheme, TLS to a plain-HTTP endpoint, a refused, unresolvable or silent
endpoint. Nothing here leaves 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from cfn import cli
from cfn.deploy import aws as aws_mod
from tests.conftest import BIN, PROJECT_ROOT


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def status(env_name: str, endpoint: str):
    return CliRunner().invoke(cli.deploy, ["status", "--env", env_name, "--endpoint-url", endpoint])


def error_lines(stderr: str) -> list[str]:
    """The message and the fix: `error: ...` then one indented line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert len(lines) <= 2 and lines[0].startswith("error: "), stderr
    return lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_endpoint_without_a_scheme_says_how_to_write_it(platform):
    env_name = next(iter(platform.environments))
    r = status(env_name, "localhost:5000")
    assert r.exit_code == 1
    assert error_lines(r.stderr) == [
        "error: --endpoint-url 'localhost:5000' is not a URL with http:// or https://",
        "  write it with the scheme, e.g. --endpoint-url http://localhost:5000",
    ]


def test_a_refused_endpoint_fails_at_once_naming_it(platform):
    env_name = next(iter(platform.environments))
    port = free_port()  # nothing listens there
    started = time.monotonic()
    r = status(env_name, f"http://localhost:{port}")
    assert r.exit_code == 1
    assert time.monotonic() - started < 3
    line = error_lines(r.stderr)[0]
    assert line == (
        f"error: cannot reach http://localhost:{port}: connection refused (nothing listens on "
        f"port {port})"
    )


@pytest.fixture
def plain_http():
    """A plain-HTTP server on 127.0.0.1 (what an emulator is)."""

    class Quiet(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_tls_to_a_plain_http_endpoint_fails_fast_and_says_so(platform, plain_http):
    env_name = next(iter(platform.environments))
    started = time.monotonic()
    r = status(env_name, f"https://localhost:{plain_http}")
    assert r.exit_code == 1
    assert time.monotonic() - started < 5
    lines = error_lines(r.stderr)
    assert lines[0].startswith(
        f"error: https://localhost:{plain_http} does not speak TLS: TLS to a plain-HTTP endpoint?"
    )
    assert lines[1] == f"  for an emulator use --endpoint-url http://localhost:{plain_http}"


def test_an_unresolvable_host_is_named(platform, monkeypatch):
    # The resolver's answer for a name that does not exist, without asking a DNS server.
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_such_host)
    r = status(next(iter(platform.environments)), "http://locahost:5000")
    assert r.exit_code == 1
    assert error_lines(r.stderr)[0] == (
        "error: cannot reach http://locahost:5000: the host name 'locahost' does not resolve"
    )


def test_a_silent_endpoint_gets_a_progress_line_then_one_error(platform, monkeypatch):
    # A host that drops packets: each connect attempt times out (no packet leaves the machine).
    attempts = []

    def no_answer(address, timeout=None):
        attempts.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", no_answer)
    r = status(next(iter(platform.environments)), "http://localhost:5000")
    assert r.exit_code == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[0] == (
        f"waiting for http://localhost:5000 to answer (up to {aws_mod.CONNECT_TIMEOUT} s)..."
    )
    assert lines[1] == (
        f"error: cannot reach http://localhost:5000: no answer within {aws_mod.CONNECT_TIMEOUT} s"
    )
    assert sum(attempts) == aws_mod.CONNECT_TIMEOUT  # bounded: the whole wait is the timeout
    assert "Traceback" not in r.stderr


def test_an_invalid_deadline_is_a_usage_error(platform):
    r = CliRunner().invoke(
        cli.deploy,
        ["status", "--env", next(iter(platform.environments)), "--watch", "--deadline", "soon"],
    )
    assert r.exit_code != 0
    assert "'soon' is not a duration such as 30m, 90s or 2h" in r.output


@pytest.fixture
def silent_endpoint():
    """Accepts TCP connections and never answers a request."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(60)
        yield listener


def test_ctrl_c_while_waiting_for_aws_is_one_line_and_exit_130(platform, silent_endpoint):
    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BIN / "deploy"),
            "status",
            "--env",
            next(iter(platform.environments)),
            "--endpoint-url",
            f"http://localhost:{silent_endpoint.getsockname()[1]}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
    )
    # The endpoint probe connects, then botocore does and waits for an answer: Ctrl-C now.
    held = [silent_endpoint.accept()[0] for _ in range(2)]
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    for conn in held:
        conn.close()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == ["interrupted"]


def test_a_call_that_cannot_connect_is_tried_twice_not_ten_times():
    from botocore.exceptions import EndpointConnectionError

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    endpoint = f"http://localhost:{listener.getsockname()[1]}"
    progress = []
    clients = aws_mod.make_clients("eu-west-1", endpoint_url=endpoint, progress=progress.append)
    listener.close()  # the endpoint went away after the probe: every connect is refused
    sent = []
    clients.cloudformation.meta.events.register(
        "before-send.cloudformation.DescribeStacks", lambda **_: sent.append(1)
    )
    with pytest.raises(EndpointConnectionError) as info:
        clients.cloudformation.describe_stacks(StackName="x")
    assert len(sent) == aws_mod.CONNECTION_ATTEMPTS  # the standard mode alone would try 10
    assert progress == [
        f"cannot connect to {endpoint} (EndpointConnectionError); retrying",
    ]
    assert str(aws_mod.explain(info.value)).startswith(f"cannot reach {endpoint}/")


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://[::1", "is not a valid http:// or https:// URL"),
        ("ftp://localhost:5000", "is not a valid http:// or https:// URL"),
        ("http://", "is not a valid http:// or https:// URL"),
        ("http://localhost:port", "has an invalid port"),
        ("http://localhost:99999", "has an invalid port"),
    ],
)
def test_a_malformed_endpoint_is_one_line(platform, endpoint, message):
    r = status(next(iter(platform.environments)), endpoint)
    assert r.exit_code == 1
    assert error_lines(r.stderr)[0] == f"error: --endpoint-url {endpoint!r} {message}"


def test_a_region_other_than_the_environments_is_refused_before_any_call(platform):
    # The templates are rendered for the configured region and IAM names are global: a second
    # region would half-create an environment that collides with the first.
    env = next(iter(platform.environments.values()))
    other = "us-east-1" if env.region != "us-east-1" else "eu-west-1"
    r = CliRunner().invoke(cli.deploy, ["status", "--env", env.name, "--region", other])
    assert r.exit_code == 2  # a usage error: click's own code, before any AWS call
    assert f"{other} is not environment {env.name}'s region ({env.region}" in r.stderr
    assert "Traceback" not in r.output
