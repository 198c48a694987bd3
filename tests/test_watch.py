"""The pieces that make `bin/build-templates --watch` quick, each shown not to change what a
rebuild gives: renders kept per environment only while it is equal, the package's modules
compiled from their source as it is on disk, and inotify waking the loop at once. (The watch
itself, end to end, is tested in `tests/test_lint_speed.py`.)"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import sys
import threading
import time

import pytest

from cfn import config, render, watch
from cfn.stacks import edge


@pytest.fixture
def kept_renders():
    render.remember_renders()
    try:
        yield
    finally:
        render.remember_renders(False)


def test_an_environment_is_rendered_again_only_when_it_changed(raw, kept_renders, monkeypatch):
    platform = config.from_dict(raw)
    first, *others = platform.environments
    before = {name: render.render_env(platform.env(name)) for name in platform.environments}
    built: list[str] = []
    real = render._render_env
    monkeypatch.setattr(
        render, "_render_env", lambda env, each: built.append(env.name) or real(env, each)
    )

    # A value of one environment's service: only that environment is rendered again.
    service = platform.services[0].name
    raw["environments"][first].setdefault("services", {})[service] = {"max_count": 7}
    edited = config.from_dict(raw)
    after = {name: render.render_env(edited.env(name)) for name in edited.environments}
    assert built == [first]
    assert all(after[name] == before[name] for name in others)
    assert after[first] != before[first]
    # The same as rendering without keeping anything.
    render.remember_renders(False)
    assert after == {name: real(edited.env(name)) for name in edited.environments}


def test_kept_renders_are_off_unless_asked_for(platform, monkeypatch):
    env = platform.env(next(iter(platform.environments)))
    render.render_env(env)
    real = edge.build

    def patched(e):
        template = real(e)
        template.set_description("patched")
        return template

    monkeypatch.setattr(edge, "build", patched)
    again = render.render_env(env)
    assert any('"Description": "patched"' in r.text for r in again)


def _load(module_path, loader_class):
    name = f"watch_probe_{time.monotonic_ns()}"
    loader = loader_class(name, str(module_path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_a_module_saved_twice_in_the_same_second_with_the_same_size_is_seen(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("VALUE = 1\n")
    py_compile.compile(str(module))  # bytecode as a normal run leaves it
    assert _load(module, watch.SourceLoader).VALUE == 1
    stat = module.stat()
    module.write_text("VALUE = 2\n")
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # What Python's own loader does: the bytecode's stamp (size, modification second) matches.
    assert _load(module, importlib.machinery.SourceFileLoader).VALUE == 1
    assert _load(module, watch.SourceLoader).VALUE == 2


def test_only_the_packages_modules_are_loaded_from_source():
    finder = watch.FromSource()
    spec = finder.find_spec("cfn.stacks.edge", [os.path.dirname(edge.__file__)])
    assert isinstance(spec.loader, watch.SourceLoader)
    for kept in watch.KEEP:
        assert finder.find_spec(kept, None) is None
    assert finder.find_spec("json", None) is None


def test_without_inotify_the_loop_polls(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    wakeup = watch.Wakeup()
    assert wakeup.fd == -1
    started = time.monotonic()
    wakeup.wait()
    assert time.monotonic() - started >= watch.POLL_SECONDS * 0.9


def test_a_save_wakes_the_loop_at_once(tmp_path, monkeypatch):
    """(This project builds on Linux, where inotify is.)"""
    monkeypatch.setattr(watch, "SAFETY_POLL_SECONDS", 5.0)
    wakeup = watch.Wakeup()
    assert wakeup.fd >= 0
    try:
        wakeup.watch([tmp_path])
        threading.Timer(0.2, (tmp_path / "insightxi.toml").write_text, ["x = 1\n"]).start()
        started = time.monotonic()
        wakeup.wait()
        assert 0.15 < time.monotonic() - started < 2.0
        # Nothing else happened: the next wait lasts until its timeout.
        monkeypatch.setattr(watch, "SAFETY_POLL_SECONDS", 0.3)
        started = time.monotonic()
        wakeup.wait()
        assert time.monotonic() - started >= 0.25
    finally:
        wakeup.close()
