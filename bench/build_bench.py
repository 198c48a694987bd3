"""Benchmark of the build (and of `bin/deploy plan` against the local emulator). A script, not a
test: it measures each figure as its label says, prints it next to its target, and exits 1 when
any figure misses its target (0 when all are met).

    python bench/build_bench.py              # everything (about 3 minutes on 2 cores)
    python bench/build_bench.py --quick      # without the 100-service run
    python bench/build_bench.py --repeat 5   # more runs per median (default 3)

How it measures:
- every command runs in its own process, as a user runs it, on a copy of the project (bin/,
  cfn/, templates/, docs/, README) with its own empty cache directory (INSIGHTXI_CACHE_DIR), so
  the checkout and its caches are never touched;
- the cold build and plain cfn-lint over the same files run as pairs, interleaved (the order
  alternates from pair to pair), so both sides see the same load; each figure is a median;
- CPU is user + system time of the command and of every process it waited for (the lint
  workers), from the kernel's accounting of this script's children: what the build costs a
  machine whose cores are busy, where wall time only shows what it costs an idle one;
- the edit-one-service rebuild edits one service's value in one environment of the copy's
  configuration (a new value each run) and runs bin/build-templates, in pairs: once answered
  by the build server the project's first build started (waited for until it listens), once
  with the server off (a new process that imports and loads everything); the watch figure is
  the time from the write of the same edit to the line `--watch` prints when its rebuild is
  done; every other build runs with the server off;
- Python's bytecode cache is on for every command (PYTHONDONTWRITEBYTECODE is removed from their
  environment), as on a user's machine: the copy's first build writes it;
- memory is the peak, over the run, of the proportional set size (PSS) of the process and all
  its descendants (the lint workers) summed, sampled every 250 ms from /proc (Linux): PSS
  splits pages shared by forked workers between them, so the sum counts each page once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
# The cfn-lint of this interpreter's environment (the project's rules import `cfn`), not
# whichever one is first on PATH.
CFN_LINT = Path(PY).parent / "cfn-lint"
# Reading a process's PSS walks its page tables: often enough to see the plateau of the lint
# workers, rarely enough not to slow them down.
SAMPLE_SECONDS = 0.25


@dataclass
class Run:
    seconds: float
    peak_mb: float
    proc: subprocess.CompletedProcess
    cpu: float = 0.0  # user + system seconds of the command and the children it waited for


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree_pss_kb(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _pss_kb(p)
        todo += _children(p)
    return total


def measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run `cmd`; its wall time and the peak PSS of its whole process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_pss_kb(proc.pid))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    return Run(seconds, peak[0] / 1024, done, cpu)


def project_copy(where: Path) -> Path:
    skip = shutil.ignore_patterns("__pycache__")
    for name in ("bin", "cfn", "templates", "docs"):
        shutil.copytree(ROOT / name, where / name, ignore=skip)
    shutil.copy(ROOT / "README.md", where / "README.md")
    return where


def fresh_env(tmp: Path, server: bool = False) -> dict[str, str]:
    """This process's environment with an empty cache directory of its own; the build server
    off (cold figures are of a new process that must load everything) unless `server`."""
    cache = Path(tempfile.mkdtemp(dir=tmp, prefix="cache-"))
    env = dict(
        os.environ, INSIGHTXI_CACHE_DIR=str(cache), INSIGHTXI_BUILD_SERVER="1" if server else "0"
    )
    # Python's bytecode cache on, as it is by default: the copy's first build writes it (as a
    # checkout's does), and cfn-lint's installed package has its own.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def server_ready(env: dict[str, str], timeout: float = 60.0) -> None:
    """Wait until a build server of the cache directory of `env` listens (the build that
    started it returns before the server has loaded cfn-lint)."""
    sockets = Path(env["INSIGHTXI_CACHE_DIR"]) / "server"
    deadline = time.monotonic() + timeout
    while not any(sockets.glob("*.sock")):
        if time.monotonic() > deadline:
            sys.exit(f"no build server listened in {sockets} within {timeout:.0f} s")
        time.sleep(0.05)


# (measure, result, target, met)
Row = tuple[str, str, str, bool | None]


def ok(run: Run) -> Run:
    if run.proc.returncode != 0:
        sys.exit(f"failed: {' '.join(run.proc.args)}\n{run.proc.stdout}{run.proc.stderr}")
    return run


def median(runs: list[Run], attr: str = "seconds") -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def paired(
    n: int, a: Callable[[], Run], b: Callable[[], Run], check: Callable[[Run], Run] = ok
) -> tuple[list[Run], list[Run]]:
    """n runs of each, as pairs; the first of a pair alternates, so neither side always runs
    on a machine the other just warmed (or heated). Each run passes `check` (exit status 0)."""
    runs_a: list[Run] = []
    runs_b: list[Run] = []
    for i in range(n):
        if i % 2 == 0:
            runs_a.append(check(a()))
            runs_b.append(check(b()))
        else:
            runs_b.append(check(b()))
            runs_a.append(check(a()))
    return runs_a, runs_b


def _editable(config_file: Path) -> tuple[str, str]:
    """An (environment, service) whose overrides table the configuration does not have yet."""
    raw = tomllib.loads(config_file.read_text())
    for env, data in raw["environments"].items():
        for service in raw["services"]:
            if service["name"] not in data.get("services", {}):
                return env, service["name"]
    sys.exit("every service of every environment has overrides: no edit to measure")


def edit_one_service(config_file: Path, original: str, where: tuple[str, str], k: int) -> None:
    """One service's max_count in one environment set to a value not used before (10 + k)."""
    env, service = where
    config_file.write_text(
        original + f'\n[environments.{env}.services."{service}"]\nmax_count = {10 + k}\n'
    )


def bench_cold(tmp: Path, repeat: int) -> list[Row]:
    project = project_copy(tmp / "cold")
    build = [PY, str(project / "bin" / "build-templates")]
    out = tmp / "out"

    def cold() -> Run:
        shutil.rmtree(out, ignore_errors=True)
        return measured([*build, "--out", str(out)], env=fresh_env(tmp))

    ok(cold())  # the files cfn-lint is given
    files = sorted(str(p) for p in out.rglob("*.json"))
    rules = str(project / "cfn" / "rules")
    lint_cmd = [str(CFN_LINT), "--append-rules", rules, "--regions", "eu-west-1", "--", *files]
    builds, lints = paired(repeat, cold, lambda: measured(lint_cmd, env=fresh_env(tmp)))
    n = len(files)
    cpu_ratio = median(builds, "cpu") / median(lints, "cpu")
    wall_ratio = median(builds) / median(lints)
    both = f"{secs(median(builds))} wall, {secs(median(builds, 'cpu'))} CPU"
    theirs = f"{secs(median(lints))} wall, {secs(median(lints, 'cpu'))} CPU"
    peak = max(r.peak_mb for r in builds)
    return [
        (f"cold build + lint, {n} templates, no caches (median of {repeat})", both, "", None),
        (MEMORY, f"{peak:.0f} MB", "<= 400 MB", peak <= 400),
        (f"plain cfn-lint CLI over the same {n} files (median of {repeat})", theirs, "", None),
        (
            "  CPU ratio cold build / cfn-lint (paired)",
            f"{cpu_ratio:.2f}",
            "<= 0.60",
            cpu_ratio <= 0.6,
        ),
        (
            "  wall ratio cold build / cfn-lint (paired)",
            f"{wall_ratio:.2f}",
            "<= 0.50",
            wall_ratio <= 0.5,
        ),
    ]


def bench_rebuilds(tmp: Path, repeat: int) -> list[Row]:
    project = project_copy(tmp / "project")
    build = [PY, str(project / "bin" / "build-templates")]
    env = fresh_env(tmp, server=True)
    no_server = dict(env, INSIGHTXI_BUILD_SERVER="0")
    config_file = project / "cfn" / "insightxi.toml"
    original = config_file.read_text()
    where = _editable(config_file)
    first = ok(measured(build, env=env, cwd=project))  # fills the lint cache, stores the record
    server_ready(env)  # which that first build started
    again = [ok(measured(build, env=env, cwd=project)) for _ in range(max(5, repeat))]
    ok(measured([*build, "--check"], env=env, cwd=project))
    check = [ok(measured([*build, "--check"], env=env, cwd=project)) for _ in range(max(5, repeat))]
    edits: list[Run] = []
    cold_edits: list[Run] = []
    for k in range(repeat):  # pairs, the order alternating: through the server, and without
        for server in (True, False) if k % 2 == 0 else (False, True):
            edit_one_service(config_file, original, where, 2 * k + server)
            run = ok(measured(build, env=env if server else no_server, cwd=project))
            (edits if server else cold_edits).append(run)
    config_file.write_text(original)
    ok(measured(build, env=env, cwd=project))
    ok(measured([*build, "--stop-server"], env=env, cwd=project))
    latency = watch_latency(project, no_server, config_file, original, where, repeat)
    runs = max(5, repeat)
    label = f"one service's max_count in {where[0]}"
    return [
        (
            "first build of the project copy (stores its result; 1 run)",
            secs(first.seconds),
            "",
            None,
        ),
        (
            f"no-change rebuild, bin/build-templates (median of {runs})",
            secs(median(again), 3),
            "<= 0.100 s",
            median(again) <= 0.1,
        ),
        (
            f"no-change bin/build-templates --check (median of {runs})",
            secs(median(check), 3),
            "<= 0.100 s",
            median(check) <= 0.1,
        ),
        (
            f"edit {label}, bin/build-templates, build server up (median of {repeat})",
            secs(median(edits)),
            "<= 0.50 s",
            median(edits) <= 0.5,
        ),
        (
            f"  the same without the build server: a new process loads all (median of {repeat})",
            f"{secs(median(cold_edits))} wall, {secs(median(cold_edits, 'cpu'))} CPU",
            "",
            None,
        ),
        (
            f"--watch, save of that edit to its result (median of {repeat})",
            secs(latency),
            "<= 0.20 s",
            latency <= 0.2,
        ),
    ]


def watch_latency(
    project: Path,
    env: dict[str, str],
    config_file: Path,
    original: str,
    where: tuple[str, str],
    repeat: int,
) -> float:
    """Median seconds from the write of an edit to `--watch`'s line saying its rebuild is done."""
    proc = subprocess.Popen(
        [PY, str(project / "bin" / "build-templates"), "--watch"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def pump() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            lines.put((time.perf_counter(), line))

    threading.Thread(target=pump, daemon=True).start()

    def until(needle: str) -> float:
        while True:
            try:
                at, line = lines.get(timeout=120)
            except queue.Empty:
                proc.kill()
                sys.exit(f"bin/build-templates --watch printed no {needle!r} within 120 s")
            if needle in line:
                return at
            if line.startswith("error:"):
                proc.kill()
                sys.exit(f"bin/build-templates --watch: {line}")

    try:
        until("watching")
        seconds = []
        for k in range(repeat):
            time.sleep(0.3)  # the watcher idle, as after a person's save
            started = time.perf_counter()
            edit_one_service(config_file, original, where, 100 + k)
            seconds.append(until("rebuilt in") - started)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        config_file.write_text(original)
    return statistics.median(seconds)


def secs(seconds: float, digits: int = 2) -> str:
    return f"{seconds:.{digits}f} s"


MEMORY = "  peak memory (PSS), build and lint workers together, of these runs"


def scale_config(n_services: int, where: Path) -> Path:
    """The project's configuration with `n_services` services like ours (tests/scale.py), as a
    TOML file in `where`."""
    from cfn import config
    from tests import scale

    raw = tomllib.loads(config.DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    path = where / f"insightxi-{n_services}.toml"
    path.write_text(scale.to_toml(scale.with_services(raw, n_services)), encoding="utf-8")
    return path


def linted(run: Run) -> Run:
    """`run`, a build that ended as a build does: 0, or 1 for lint findings (the size warnings
    at scale); anything else stops the benchmark (a build that failed early would look fast)."""
    if run.proc.returncode not in (0, 1):
        sys.exit(run.proc.stderr)
    return run


def summarise(run: Run, out: Path) -> dict:
    """What `bin/build-templates --output json` said of its templates, and their largest counts."""
    linted(run)
    summary = json.loads(run.proc.stdout)
    kinds = ("Resources", "Parameters", "Outputs")
    texts = [json.loads(p.read_text(encoding="utf-8")) for p in out.rglob("*.json")]
    counts = [{k: len(t.get(k, {})) for k in kinds} for t in texts]
    largest = max(summary["templates"], key=lambda t: t["bytes"])
    return {
        "templates": len(summary["templates"]),
        "environments": len({Path(t["path"]).parent.name for t in summary["templates"]}),
        "largest": "/".join(Path(largest["path"]).parts[-2:]),  # <env>/<file>
        "bytes": largest["bytes"],
        "max": {k: max(c[k] for c in counts) for k in kinds},
        "findings": sorted({f["rule"] for f in summary["findings"]}),
        "resources": sum(t["resources"] for t in summary["templates"]),
    }


CDK_DIR = ROOT / "bench" / "cdk"
CDK_PAIRS = 5
CDK_LABEL = "  CDK synth of the same platform (bench/cdk/app.js, L2 constructs, no lint)"


def cdk_ready() -> str | None:
    """None when bench/cdk can run; otherwise why not. Installs its pinned packages (npm ci,
    from the npm registry) the first time."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "not measured: no Node.js/npm on this machine"
    if not (CDK_DIR / "node_modules" / "aws-cdk-lib").is_dir():
        print("installing bench/cdk's packages (npm ci)...", file=sys.stderr)
        proc = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=CDK_DIR, capture_output=True, text=True
        )
        if proc.returncode != 0:
            return "not measured: npm ci in bench/cdk failed: " + proc.stderr.strip()[-200:]
    return None


def bench_cdk(n_services: int, build: Callable[[], Run], tmp: Path, repeat: int) -> list[Row]:
    """CDK's synth of the same n-service platform, in its own Node.js process, against our
    cold build (whole process, lint included) of it: `repeat` pairs of a new cold build
    (`build()`) and a synth, in alternating order (`paired`), so that both sides see the same
    machine; the ratio is the median of the pairs' ratios."""
    from cfn import config
    from tests import scale

    why = cdk_ready()
    if why:
        return [(CDK_LABEL, why, "", None), ("  ratio build / CDK synth", "-", "<= 0.80", None)]
    raw = tomllib.loads(config.DEFAULT_CONFIG_PATH.read_text())
    platform_json = tmp / f"platform-{n_services}.json"
    platform_json.write_text(
        json.dumps(config.from_dict(scale.with_services(raw, n_services)).model_dump(mode="json"))
    )
    outs = (tmp / f"cdk-{i}.out" for i in range(1000))
    cdk = [str(CDK_DIR / "app.js"), str(platform_json)]
    synth = lambda: ok(measured(["node", *cdk, str(next(outs))]))  # noqa: E731
    # At least CDK_PAIRS: a pair's ratio spreads more than a median of 3 settles (0.71-0.81
    # over 6 pairs on this machine).
    builds, synths = paired(max(CDK_PAIRS, repeat), build, synth, check=linted)
    resources = sum(
        len(json.loads(p.read_text()).get("Resources", {}))
        for p in (tmp / "cdk-0.out").glob("*.template.json")
    )
    ratio = statistics.median(b.seconds / c.seconds for b, c in zip(builds, synths, strict=True))
    runs = f"median of {len(builds)} paired runs" if len(builds) > 1 else "1 run"
    return [
        (f"{CDK_LABEL}; {runs}", f"{_listed(synths)} s, {resources} resources", "", None),
        ("  our cold build in the same pairs", f"{_listed(builds)} s", "", None),
        (
            "  ratio build (with lint) / CDK synth (without), wall, median of the pairs",
            f"{ratio:.2f}",
            "<= 0.80",
            ratio <= 0.80,
        ),
    ]


def _listed(runs: list[Run]) -> str:
    return ", ".join(f"{r.seconds:.1f}" for r in runs)


def bench_scale(sizes: list[int], tmp: Path, repeat: int = 1) -> list[Row]:
    """The cold build of bigger platforms, as a user runs it: bin/build-templates on a
    configuration file with n services, its templates written to a directory of their own."""
    project = project_copy(tmp / "scale")
    build = [PY, str(project / "bin" / "build-templates")]
    ok(measured([*build, "--out", str(tmp / "scale-warm")], env=fresh_env(tmp)))  # bytecode
    rows: list[Row] = []
    for n in sizes:
        config_path = scale_config(n, tmp)
        outs = (tmp / f"scale-{n}-{i}" for i in range(1000))
        out = next(outs)

        def cold(out: Path, config_path: Path = config_path) -> Run:
            """A cold build: a new process, a new cache, templates written to `out`."""
            cfg = ["--config", str(config_path), "--out", str(out), "--output", "json"]
            return measured([*build, *cfg], env=fresh_env(tmp))

        run = cold(out)
        m = summarise(run, out)
        big = n == 100
        label = f"{n} services x {m['environments']} envs: cold build + lint, "
        label += f"{m['templates']} templates, {m['resources']} resources (1 run)"
        mx = m["max"]
        counts = f"{mx['Resources']} / {mx['Parameters']} / {mx['Outputs']}"
        within = mx["Resources"] < 500 and mx["Parameters"] < 200 and mx["Outputs"] < 200
        time_target, memory_target = ("<= 20 s", "<= 400 MB") if big else ("", "")
        rows += [
            # The whole process, as a user waits for it (start-up and imports included).
            (label, secs(run.seconds, 1), time_target, run.seconds <= 20 if big else None),
            (MEMORY, f"{run.peak_mb:.0f} MB", memory_target, run.peak_mb <= 400 if big else None),
            (
                "  most resources / parameters / outputs in one template",
                counts,
                "< 500 / 200 / 200",
                within,
            ),
            (
                f"  largest template ({m['largest']})",
                f"{m['bytes']:,} B",
                "< 1,000,000 B",
                m["bytes"] < 1_000_000,
            ),
        ]
        if n == 30:
            rows += bench_cdk(n, lambda outs=outs, cold=cold: cold(next(outs)), tmp, repeat)
        if m["findings"]:
            rows.append((f"  lint findings at {n} services", ", ".join(m["findings"]), "", None))
    return rows


def bench_plan() -> list[Row]:
    label = "bin/deploy plan, new stack, dev: client start-up + local emulator calls, not AWS change-set latency (1 run)"  # noqa: E501
    try:
        from cfn.localaws import local_aws
    except ImportError:
        return [(label, "not run: install the local extra", "<= 3 s", None)]
    import logging
    import warnings

    import boto3

    from cfn import config, naming

    warnings.simplefilter("ignore")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    platform_ = config.load()
    env_name = next(iter(platform_.environments))
    # The emulator answers as the environment's account (moto reads it on every request), so
    # that plan's account check passes, as with bin/local-aws.
    os.environ["MOTO_ACCOUNT_ID"] = platform_.env(env_name).account_id
    with local_aws() as aws, tempfile.TemporaryDirectory() as tmp:
        env = dict(fresh_env(Path(tmp)), AWS_ACCESS_KEY_ID="testing")
        env["AWS_SECRET_ACCESS_KEY"] = "testing"
        common = ["--env", env_name, "--endpoint-url", aws.endpoint]
        boot = measured([PY, str(ROOT / "bin" / "deploy"), "bootstrap", *common], env=env)
        if boot.proc.returncode != 0:
            sys.exit(boot.proc.stderr)
        region = platform_.env(env_name).region
        sm = boto3.client(
            "secretsmanager",
            endpoint_url=aws.endpoint,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for s in platform_.services:
            for name in s.secrets:
                secret = naming.secret(platform_.env(env_name), s, name)
                sm.create_secret(Name=secret, SecretString="bench")
        tags = [x for s in platform_.services for x in ("--image-tag", f"{s.name}=1a2b3c4")]
        # The local emulator has no images pushed: the preflight image check is not what is timed.
        plan_out = ["--plan-out", str(Path(tmp) / "p.json"), "--skip-image-check"]
        run = measured(
            [PY, str(ROOT / "bin" / "deploy"), "plan", *common, *tags, *plan_out], env=env
        )
        if run.proc.returncode != 2:  # 2: a change set waits for review
            sys.exit(run.proc.stderr)
    return [(label, f"{run.seconds:.2f} s", "<= 3 s", run.seconds <= 3)]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {cores} cores (load {load:.1f} at start), Python {platform.python_version()}, "
        f"{platform.system()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


README_BEGIN = (
    "<!-- benchmark output: written by python bench/build_bench.py --write-readme; do not edit -->"
)
README_END = "<!-- end of benchmark output -->"


def table(rows: list[Row]) -> list[str]:
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    target_width = max(len(r[2]) for r in rows)
    lines = [f"{'measure':<{width}}  {'result':<{value_width}}  {'target':<{target_width}}  met"]
    for name, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        lines.append(
            f"{name:<{width}}  {value:<{value_width}}  {target:<{target_width}}  {mark}".rstrip()
        )
    return lines


def write_readme(lines: list[str]) -> None:
    """The README's benchmark block replaced by this run's output (nothing else touched)."""
    from cfn import docs
    from cfn.fsutil import atomic_write

    readme = ROOT / "README.md"
    block = "\n".join([README_BEGIN, "```", *lines, "```", README_END])
    text = docs.splice(readme.read_text(encoding="utf-8"), block)
    if text is None:
        sys.exit(f"README.md lacks the lines {README_BEGIN} and {README_END}: restore them")
    atomic_write(readme, text)
    print("wrote the benchmark output into README.md", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100-service run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument(
        "--write-readme", action="store_true", help="also put this output in README.md's block"
    )
    args = parser.parse_args()
    if not CFN_LINT.exists():
        sys.exit(f"no {CFN_LINT}: run this with the project's virtualenv's python")
    started = time.perf_counter()
    lines = [f"machine: {machine()}"]
    print(lines[0], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_cold(Path(tmp), args.repeat)
        rows += bench_rebuilds(Path(tmp), args.repeat)
        rows += bench_scale([30] if args.quick else [30, 100], Path(tmp), args.repeat)
    # The local emulator prints notes of its own on stdout: they are not the benchmark's output.
    with contextlib.redirect_stdout(sys.stderr):
        rows += bench_plan()
    missed = [r[0].strip() for r in rows if r[3] is False]
    took = f"{len(missed)} target(s) missed; benchmark took {time.perf_counter() - started:.0f} s"
    lines += [*table(rows), took]
    print("\n".join(lines[1:]))
    if args.write_readme:
        write_readme(lines)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
