"""Deterministic rendering of every environment's templates to text.

`render_env` builds each nested template, hashes its text, then builds the root with those
hashes. The text is JSON with sorted keys, two-space indents and a final newline, and contains
no timestamp or random value: the same config and code always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from troposphere import Template

from cfn import jsontext, naming
from cfn.config import Environment, Platform
from cfn.stacks import bootstrap, cluster, edge, network, root, service


@dataclass(frozen=True)
class RenderedTemplate:
    """One rendered template: where it goes (`<env>/<file>`) and its text."""

    env: str
    filename: str
    text: str
    region: str

    @property
    def path(self) -> str:
        return f"{self.env}/{self.filename}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def size(self) -> int:
        return len(self.text.encode())

    @property
    def resource_count(self) -> int:
        return len(json.loads(self.text).get("Resources", {}))


def to_text(template: Template) -> str:
    """The template as JSON: sorted keys, two-space indents (`jsontext`), a final newline."""
    return jsontext.dumps(template.to_dict()) + "\n"


def nested_builders(env: Environment) -> list[tuple[str, Callable[[], Template]]]:
    """(logical id, builder) of every nested stack of the environment's root, in order."""
    builders: list[tuple[str, Callable[[], Template]]] = [
        (naming.NETWORK, lambda: network.build(env)),
        (naming.EDGE, lambda: edge.build(env)),
        (naming.CLUSTER, lambda: cluster.build(env)),
    ]
    for s in env.services:
        builders.append((naming.service_stack_id(s), lambda s=s: service.build(env, s)))
    return builders


# env name -> (the environment's JSON, its templates): see `remember_renders`.
_memo: dict[str, tuple[str, tuple[RenderedTemplate, ...]]] | None = None


def remember_renders(on: bool = True) -> None:
    """Keep (or stop keeping) the last templates of each environment in this process, and give
    them back while the environment is equal. `bin/build-templates --watch` turns it on: it
    imports this module afresh after any save of the package's code, so the templates kept are
    always those of the code loaded; a save of the configuration re-renders only the
    environments whose resolved values changed. Off by default: a test that patches a stack
    module must see its patch rendered."""
    global _memo
    _memo = (_memo if _memo is not None else {}) if on else None


Each = Callable[[RenderedTemplate], None] | None


def render_env(env: Environment, each: Each = None) -> list[RenderedTemplate]:
    """The environment's nested templates (in nesting order), its root, then its bootstrap;
    `each` is called with every template as soon as it is made."""
    if _memo is None:
        return _render_env(env, each)
    # Everything the templates are made from is in the resolved environment (the stack modules
    # read nothing else: no file, clock or variable), so its JSON keys them.
    key = env.model_dump_json()
    kept = _memo.get(env.name)
    if kept is None or kept[0] != key:
        kept = _memo[env.name] = (key, tuple(_render_env(env, each)))
    elif each is not None:
        for r in kept[1]:
            each(r)
    return list(kept[1])


def _render_env(env: Environment, each: Each = None) -> list[RenderedTemplate]:
    out: list[RenderedTemplate] = []

    def made(r: RenderedTemplate) -> None:
        out.append(r)
        if each is not None:
            each(r)

    hashes: dict[str, str] = {}
    for logical_id, builder in nested_builders(env):
        r = RenderedTemplate(
            env.name, naming.template_file(logical_id), to_text(builder()), env.region
        )
        hashes[logical_id] = r.sha256
        made(r)
    made(
        RenderedTemplate(
            env.name, naming.ROOT_TEMPLATE, to_text(root.build(env, hashes)), env.region
        )
    )
    # Deployed on its own (`bin/deploy bootstrap`), before the bucket the others need exists.
    made(
        RenderedTemplate(
            env.name, naming.BOOTSTRAP_TEMPLATE, to_text(bootstrap.build(env)), env.region
        )
    )
    return out


def render(
    platform: Platform, env_names: Iterable[str] | None = None, each: Each = None
) -> list[RenderedTemplate]:
    """Every template of these environments (default: all), in order; `each` is called with
    every template as soon as it is made (the build starts its lint process at the first one
    the lint cache does not answer)."""
    names = list(env_names) if env_names else list(platform.environments)
    return [r for name in names for r in render_env(platform.env(name), each)]
