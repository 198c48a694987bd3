"""Benchmark of the build (and of `bin/deploy plan` against the local emulator). A script, not a
test: it measures each figure as its label says, prints it next to its target, and exits 1 when
any figure misses its target (0 when all are met).

    python bench/build_bench.py            # everything (about 2 minutes on 2 idle cores)
    python bench/build_bench.py --quick    # without the 100-service run

How it measures:
- every command runs in its own process, as a user runs it, on a copy of the project (bin/,
  cfn/, templates/, docs/, README) with its own empty cache directory (INSIGHTXI_CACHE_DIR), so
  the checkout and its caches are never touched;
- "best of N" is the shortest wall time of N runs of the same command; "1 run" is one run;
- memory is the peak, over the run, of the proportional set size (PSS) of the process and all
  its descendants (the lint workers) summed, sampled every 250 ms from /proc (Linux): PSS
  splits pages shared by forked workers between them, so the sum counts each page once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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
# Reading a process's PSS walks its page tables: often enough to see the plateau of the lint
# workers, rarely enough not to slow them down.
SAMPLE_SECONDS = 0.25


@dataclass
class Run:
    seconds: float
    peak_mb: float
    proc: subprocess.CompletedProcess


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
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    return Run(seconds, peak[0] / 1024, done)


def best_of(n: int, make: Callable[[], Run]) -> Run:
    runs = [make() for _ in range(n)]
    for r in runs:
        if r.proc.returncode != 0:
            sys.exit(f"failed: {' '.join(r.proc.args)}\n{r.proc.stdout}{r.proc.stderr}")
    best = min(runs, key=lambda r: r.seconds)
    return Run(best.seconds, max(r.peak_mb for r in runs), best.proc)


def project_copy(where: Path) -> Path:
    skip = shutil.ignore_patterns("__pycache__")
    for name in ("bin", "cfn", "templates", "docs"):
        shutil.copytree(ROOT / name, where / name, ignore=skip)
    shutil.copy(ROOT / "README.md", where / "README.md")
    return where


def fresh_env(tmp: Path) -> dict[str, str]:
    cache = Path(tempfile.mkdtemp(dir=tmp, prefix="cache-"))
    return dict(os.environ, INSIGHTXI_CACHE_DIR=str(cache))


# (measure, result, target, met)
Row = tuple[str, str, str, bool | None]


def bench_build(tmp: Path) -> list[Row]:
    project = project_copy(tmp / "project")
    build = [PY, str(project / "bin" / "build-templates")]
    out = tmp / "out"

    def cold() -> Run:
        shutil.rmtree(out, ignore_errors=True)
        return measured([*build, "--out", str(out)], env=fresh_env(tmp))

    first = best_of(3, cold)
    files = sorted(str(p) for p in out.rglob("*.json"))
    rules = str(project / "cfn" / "rules")
    lint_cmd = ["cfn-lint", "--append-rules", rules, "--regions", "eu-west-1", "--", *files]
    cfn_lint = best_of(3, lambda: measured(lint_cmd))
    ratio = first.seconds / cfn_lint.seconds
    env = fresh_env(tmp)
    warm = measured(build, env=env, cwd=project)  # the full build that stores its result
    again = best_of(5, lambda: measured(build, env=env, cwd=project))
    measured([*build, "--check"], env=env, cwd=project)
    check = best_of(5, lambda: measured([*build, "--check"], env=env, cwd=project))
    n = len(files)
    return [
        (f"cold build + lint, {n} templates, no caches (best of 3)", secs(first.seconds), "", None),
        (MEMORY, f"{first.peak_mb:.0f} MB", "<= 400 MB", first.peak_mb <= 400),
        (
            f"one cfn-lint CLI run over the same {n} files (best of 3)",
            secs(cfn_lint.seconds),
            "",
            None,
        ),
        ("  ratio cold build / cfn-lint", f"{ratio:.2f}", "<= 0.80", ratio <= 0.80),
        (
            "first build of the project copy (stores its result; 1 run)",
            secs(warm.seconds),
            "",
            None,
        ),
        (
            "no-change rebuild, bin/build-templates (best of 5)",
            secs(again.seconds, 3),
            "<= 0.150 s",
            again.seconds <= 0.150,
        ),
        (
            "no-change bin/build-templates --check (best of 5)",
            secs(check.seconds, 3),
            "<= 0.150 s",
            check.seconds <= 0.150,
        ),
    ]


def secs(seconds: float, digits: int = 2) -> str:
    return f"{seconds:.{digits}f} s"


MEMORY = "  peak memory (PSS), build and lint workers together, of these runs"


def measure_one(n_services: int) -> dict:
    """Cold build + lint of every environment of an n-service platform, in this process."""
    from cfn import config, lint, render
    from tests import scale

    raw = tomllib.loads(config.DEFAULT_CONFIG_PATH.read_text())
    started = time.perf_counter()
    platform_ = config.from_dict(scale.with_services(raw, n_services))
    rendered = render.render(platform_)
    findings = lint.lint(rendered, cache_dir=None)
    seconds = time.perf_counter() - started
    largest = max(rendered, key=lambda r: r.size)
    counts = [
        {k: len(json.loads(r.text).get(k, {})) for k in ("Resources", "Parameters", "Outputs")}
        for r in rendered
    ]
    return {
        "templates": len(rendered),
        "environments": len(platform_.environments),
        "seconds": seconds,
        "largest": largest.path,
        "bytes": largest.size,
        "max": {k: max(c[k] for c in counts) for k in ("Resources", "Parameters", "Outputs")},
        "findings": sorted({f.rule_id for f in findings}),
    }


def bench_scale(sizes: list[int], tmp: Path) -> list[Row]:
    rows: list[Row] = []
    for n in sizes:
        run = measured([PY, __file__, "--one", str(n)], env=fresh_env(tmp))
        if run.proc.returncode != 0:
            sys.exit(run.proc.stderr)
        m = json.loads(run.proc.stdout)
        big = n == 100
        label = f"{n} services x {m['environments']} envs: cold build + lint, "
        label += f"{m['templates']} templates (1 run)"
        mx = m["max"]
        counts = f"{mx['Resources']} / {mx['Parameters']} / {mx['Outputs']}"
        within = mx["Resources"] < 500 and mx["Parameters"] < 200 and mx["Outputs"] < 200
        time_target, memory_target = ("<= 30 s", "<= 400 MB") if big else ("", "")
        rows += [
            (label, secs(m["seconds"], 1), time_target, m["seconds"] <= 30 if big else None),
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
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    with local_aws() as aws, tempfile.TemporaryDirectory() as tmp:
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
        plan_out = ["--plan-out", str(Path(tmp) / "p.json")]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100-service run")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one)))
        return
    if shutil.which("cfn-lint") is None:
        sys.exit("cfn-lint is not on PATH: activate the project's virtualenv")
    started = time.perf_counter()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_build(Path(tmp))
        rows += bench_scale([10] if args.quick else [10, 100], Path(tmp))
    rows += bench_plan()
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    target_width = max(len(r[2]) for r in rows)
    print(f"{'measure':<{width}}  {'result':<{value_width}}  {'target':<{target_width}}  met")
    for name, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"{name:<{width}}  {value:<{value_width}}  {target:<{target_width}}  {mark}".rstrip())
    missed = [r[0].strip() for r in rows if r[3] is False]
    print(f"{len(missed)} target(s) missed; benchmark took {time.perf_counter() - started:.0f} s")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
