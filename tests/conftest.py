"""Shared fixtures: the project's configuration (as loaded and as raw, editable data) and its
rendered templates; every test's caches in its own temporary directory."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cfn import config, paths, render

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = PROJECT_ROOT / "bin"


def copy_project(root: Path) -> Path:
    """A copy of the project as a clean clone has it: bin/, cfn/, templates/, docs/, README."""
    skip = shutil.ignore_patterns("__pycache__")
    for name in ("bin", "cfn", "templates", "docs"):
        shutil.copytree(PROJECT_ROOT / name, root / name, ignore=skip)
    shutil.copy(PROJECT_ROOT / "README.md", root / "README.md")
    return root.resolve()


TEMPLATES = PROJECT_ROOT / "templates"
_RAW = tomllib.loads(config.DEFAULT_CONFIG_PATH.read_text())


@pytest.fixture(autouse=True, scope="session")
def no_build_server() -> Iterator[None]:
    """No command a test runs starts or asks a build server (`cfn.buildserver`); the tests of
    the server turn it on for the commands they run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSIGHTXI_BUILD_SERVER", "0")
        yield


@pytest.fixture(autouse=True)
def own_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every cache and record (lint findings, the no-change build record) in a fresh directory,
    for this process and the commands it starts: no test reads what another run left."""
    directory = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv(paths.CACHE_ENV, str(directory))
    return directory


@pytest.fixture(scope="session")
def platform() -> config.Platform:
    return config.load()


@pytest.fixture(scope="session")
def rendered(platform: config.Platform) -> list[render.RenderedTemplate]:
    return render.render(platform)


@pytest.fixture(scope="session")
def templates(rendered: list[render.RenderedTemplate]) -> dict[str, dict[str, Any]]:
    """Every rendered template as a dict, keyed by `<env>/<file>`."""
    return {r.path: json.loads(r.text) for r in rendered}


@pytest.fixture
def raw() -> dict[str, Any]:
    """A deep copy of the project's configuration data, free to edit."""
    return copy.deepcopy(_RAW)


def problems_of(raw: dict[str, Any]) -> list[str]:
    """The problems `config.from_dict` reports for `raw` (none: the test fails)."""
    with pytest.raises(config.ConfigError) as info:
        config.from_dict(raw)
    return info.value.problems


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


Mutator = Callable[[dict[str, Any]], None]


def config_in_account(account_id: str, directory: Path, **replace: str) -> Path:
    """The project's configuration with every environment's `account_id` set to `account_id`
    (and each `old=new` text of `replace` swapped), written to `directory`; checked to load."""
    text = config.DEFAULT_CONFIG_PATH.read_text()
    text = re.sub(r'^account_id = "\d{12}"', f'account_id = "{account_id}"', text, flags=re.M)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = directory / "insightxi.toml"
    path.write_text(text, encoding="utf-8")
    loaded = config.load(path)
    assert {e.account_id for e in loaded.environments.values()} == {account_id}
    return path


@pytest.fixture(scope="session")
def moto_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The configuration with every environment in moto's account (the local AWS's)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    return config_in_account(DEFAULT_ACCOUNT_ID, tmp_path_factory.mktemp("moto-config"))


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, theirs, ...), from Linux's /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    kids = {int(c) for c in fh.read().split()} - found
                    found |= kids
                    todo += kids
    return found


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an exited process not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
