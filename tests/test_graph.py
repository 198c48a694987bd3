"""The architecture diagrams: every resource of every deployed template is in its environment's
DOT, the references between them are, and the committed diagrams are current."""

from __future__ import annotations

import json
import re

import pytest

from cfn import graph, naming
from tests.conftest import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "architecture"


@pytest.fixture(scope="module")
def dots(rendered):
    return {
        env: graph.to_dot(env, [r for r in rendered if r.env == env])
        for env in ("dev", "staging", "prod")
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_dot_has_every_resource_grouped_by_stack(env, dots, templates):
    dot = dots[env]
    nodes = set(re.findall(r'^    "([^"]+)" \[label=', dot, re.M))
    expected = set()
    for path, t in templates.items():
        e, filename = path.split("/")
        if e != env or filename == naming.BOOTSTRAP_TEMPLATE:
            continue
        cluster = "root" if filename == naming.ROOT_TEMPLATE else filename.removesuffix(".json")
        assert f'subgraph "cluster_{cluster}"' in dot
        expected |= {f"{cluster}/{logical_id}" for logical_id in t["Resources"]}
    assert nodes == expected


def test_dot_has_the_references_and_the_nested_stack_wiring(dots):
    dot = dots["prod"]
    # Ref inside a template, GetAtt between nested stacks (their parameters), DependsOn.
    assert '"network/PublicSubnet1" -> "network/Vpc" [label="Ref"' in dot
    assert '"root/Edge" -> "root/Network" [label="GetAtt"' in dot
    assert (
        '"sportmonks-service/Service" -> "sportmonks-service/ListenerRule" [label="DependsOn"'
        in dot
    )
    assert (
        '"root/SportmonksService" -> "sportmonks-service/' in dot
        and 'lhead="cluster_sportmonks-service"' in dot
    )


def test_dot_is_deterministic(rendered, dots):
    again = graph.to_dot("prod", [r for r in rendered if r.env == "prod"])
    assert again == dots["prod"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_committed_diagrams_are_current(env, dots):
    assert graph.check(DOCS, env, dots[env]) == []
    svg = (DOCS / f"{env}.svg").read_text()
    assert graph.svg_source(svg) == graph.dot_sha(dots[env])
    assert "<svg" in svg


def test_check_reports_a_stale_diagram(tmp_path, dots):
    (tmp_path / "prod.dot").write_text(dots["prod"].replace("Vpc", "VPC", 1))
    (tmp_path / "prod.svg").write_text("<!-- insightxi-dot-sha256:" + "0" * 64 + " -->\n<svg/>")
    problems = graph.check(tmp_path, "prod", dots["prod"])
    assert len(problems) == 2 and "prod.dot: differs" in problems[0] and "prod.svg" in problems[1]
    assert graph.check(tmp_path, "dev", dots["dev"])[0].endswith(
        "missing (run bin/build-templates --graph)"
    )


def test_readme_embeds_the_prod_diagram():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "](docs/architecture/prod.svg)" in readme
    json.dumps(readme)  # plain text
