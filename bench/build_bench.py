"""Benchmark of the build (and of `bin/deploy plan` against the local emulator). A script, not a
test: it prints a table of measured figures next to the targets, on the machine it runs on.

    python bench/build_bench.py            # everything (a few minutes on 2 cores)
    python bench/build_bench.py --quick    # without the 100-service scale run

Measures, all in one run:
- cold build + lint of every environment (no lint cache) vs one `cfn-lint` CLI invocation over
  the same rendered files, and the ratio;
- a rebuild with nothing changed, and its ratio to that invocation;
- generated platforms of 3, 10, 30 and 100 services in every environment: cold build + lint
  seconds, peak memory, and the largest template's resources, parameters, outputs and bytes;
- `bin/deploy plan` (a new stack) against the local emulator for one environment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
BIN = ROOT / "bin"


def wall(cmd: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    return time.perf_counter() - started, proc


def best_of(n: int, cmd: list[str]) -> float:
    return min(wall(cmd)[0] for _ in range(n))


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
    t = json.loads(largest.text)
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "services": n_services,
        "templates": len(rendered),
        "seconds": seconds,
        "peak_mb": max(me, workers),
        "largest": largest.path,
        "resources": len(t.get("Resources", {})),
        "parameters": len(t.get("Parameters", {})),
        "outputs": len(t.get("Outputs", {})),
        "bytes": largest.size,
        "findings": sorted({f.rule_id for f in findings}),
        "max_resources": max(len(json.loads(r.text).get("Resources", {})) for r in rendered),
        "max_parameters": max(len(json.loads(r.text).get("Parameters", {})) for r in rendered),
    }


def bench_build() -> list[tuple[str, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "templates"
        cold, proc = wall([PY, str(BIN / "build-templates"), "--out", str(out), "--no-cache"])
        assert proc.returncode == 0, proc.stderr
        files = sorted(str(p) for p in out.rglob("*.json"))
        cli, proc = wall(
            [
                "cfn-lint",
                "--append-rules",
                str(ROOT / "cfn" / "rules"),
                "--regions",
                "eu-west-1",
                "--",
                *files,
            ]
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # A no-change rebuild of the project's own tree (the first run records it).
    wall([PY, str(BIN / "build-templates")])
    again = best_of(5, [PY, str(BIN / "build-templates")])
    rows.append((f"cold build + lint, {len(files)} templates (best of 3)", f"{cold:.2f} s", ""))
    rows.append(("one cfn-lint CLI run over the same files (best of 3)", f"{cli:.2f} s", ""))
    rows.append(("  ratio cold build / cfn-lint", f"{cold / cli:.2f}", "<= 0.80"))
    rows.append(("no-change rebuild (best of 5)", f"{again:.3f} s", "<= 0.150 s"))
    rows.append(("  ratio no-change rebuild / cfn-lint", f"{again / cli:.3f}", ""))
    return rows


def bench_scale(sizes: list[int]) -> list[tuple[str, str, str]]:
    rows = []
    for n in sizes:
        _, proc = wall([PY, __file__, "--one", str(n)])
        assert proc.returncode == 0, proc.stderr
        m = json.loads(proc.stdout)
        target = "<= 30 s, <= 400 MB" if n == 100 else ""
        rows.append(
            (
                f"{n} services x 3 envs: cold build + lint ({m['templates']} templates)",
                f"{m['seconds']:.1f} s, {m['peak_mb']:.0f} MB",
                target,
            )
        )
        rows.append(
            (
                f"  largest template ({m['largest']})",
                f"{m['resources']} res, {m['parameters']} params, {m['outputs']} outputs, "
                f"{m['bytes']:,} B",
                "< 500 / 200 / 200 / 1 MB" if n == 100 else "",
            )
        )
        if m["findings"]:
            rows.append((f"  lint findings at {n} services", ", ".join(m["findings"]), ""))
    return rows


def bench_plan() -> list[tuple[str, str, str]]:
    try:
        from cfn.localaws import local_aws
    except ImportError:
        return [("bin/deploy plan vs emulator", "skipped: install the test extra", "")]
    import logging
    import warnings

    import boto3

    warnings.simplefilter("ignore")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    with local_aws() as aws, tempfile.TemporaryDirectory() as tmp:
        common = ["--env", "dev", "--endpoint-url", aws.endpoint]
        _, proc = wall([PY, str(BIN / "deploy"), "bootstrap", *common], env=env)
        assert proc.returncode == 0, proc.stderr
        boto3.client(
            "secretsmanager",
            endpoint_url=aws.endpoint,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_secret(Name="insightxi/dev/sportmonks-service/API_KEY", SecretString="bench")
        tags = [
            x
            for s in ("sportmonks-service", "database-service", "orchestrator-service")
            for x in ("--image-tag", f"{s}=1a2b3c4")
        ]
        seconds, proc = wall(
            [
                PY,
                str(BIN / "deploy"),
                "plan",
                *common,
                *tags,
                "--plan-out",
                str(Path(tmp) / "p.json"),
            ],
            env=env,
        )
        assert proc.returncode == 2, proc.stderr
    return [("bin/deploy plan, new stack, dev, vs local emulator", f"{seconds:.2f} s", "<= 3 s")]


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
    return f"{cpu}, {cores} cores, Python {platform.python_version()}, {platform.system()}"


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
    sizes = [3, 10, 30] if args.quick else [3, 10, 30, 100]
    rows = bench_build() + bench_scale(sizes) + bench_plan()
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"machine: {machine()}")
    print(f"{'measure':<{width}}  {'result':<{value_width}}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {target}".rstrip())


if __name__ == "__main__":
    main()
