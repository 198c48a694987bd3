"""The architecture diagrams (Mermaid): every resource of every deployed template is in its
environment's diagram, the references between them are, the text is valid enough for Mermaid to
draw (every edge joins declared nodes), and the committed diagrams and README sections are what
the build writes."""

from __future__ import annotations

import re

import pytest

from cfn import build, docs, graph, naming
from tests.conftest import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "architecture"
NODE = re.compile(r"^\s+(\w+)\[\"", re.M)
SUBGRAPH = re.compile(r"^\s+subgraph (\w+)\[", re.M)
EDGE = re.compile(r"^\s+(\w+) (?:-->|==>|-\.->)(?:\|(\w+)\|)? (\w+)$", re.M)


def _env(rendered, env):
    return [r for r in rendered if r.env == env]


@pytest.fixture(scope="module")
def charts(platform, rendered):
    return {env: graph.flowchart(_env(rendered, env)) for env in platform.environments}


def test_every_resource_of_every_deployed_template_is_a_node(platform, charts, templates):
    for env in platform.environments:
        nodes = set(NODE.findall(charts[env]))
        expected = set()
        for path, t in templates.items():
            e, filename = path.split("/")
            if e != env or filename == naming.BOOTSTRAP_TEMPLATE:
                continue
            stack = "root" if filename == naming.ROOT_TEMPLATE else filename.removesuffix(".json")
            assert f'["{stack} ({filename})"]' in charts[env]
            expected |= {
                re.sub(r"\W", "_", f"{stack}_{logical_id}") for logical_id in t["Resources"]
            }
        assert nodes == expected, env


def test_every_edge_joins_declared_nodes(platform, charts):
    for env in platform.environments:
        declared = set(NODE.findall(charts[env])) | set(SUBGRAPH.findall(charts[env]))
        edges = EDGE.findall(charts[env])
        assert len(edges) > len(declared)  # a connected picture, not a list of boxes
        for source, _, target in edges:
            assert {source, target} <= declared, (env, source, target)


def test_references_of_each_kind():
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {}},
            "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "Group": {
                "Type": "AWS::EC2::SecurityGroup",
                "DependsOn": "Subnet",
                "Properties": {
                    "VpcId": {"Fn::GetAtt": "Vpc.VpcId"},
                    "GroupDescription": {"Fn::Sub": "in ${Subnet} of ${AWS::Region}"},
                    "Tags": [{"Key": "x", "Value": {"Fn::Sub": ["${Local}", {"Local": "y"}]}}],
                },
            },
            "Local": {"Type": "AWS::SNS::Topic"},
            "Lister": {
                "Type": "AWS::SNS::Topic",
                "DependsOn": ["Group"],
                "Properties": {"TopicName": {"Fn::GetAtt": ["Group", "GroupId"]}},
            },
        }
    }
    assert graph.references(template) == {
        ("Subnet", "Vpc", "Ref"),
        ("Group", "Vpc", "GetAtt"),
        ("Group", "Subnet", "Sub"),
        ("Group", "Subnet", "DependsOn"),
        ("Lister", "Group", "GetAtt"),
        ("Lister", "Group", "DependsOn"),
    }


def test_nested_stacks_wired_as_the_root_passes_outputs(platform, rendered, charts):
    env = list(platform.environments)[-1]
    chart = charts[env]
    first = naming.service_stack_id(platform.services[0])
    assert "root_Edge ==>|GetAtt| root_Network" in chart
    assert (
        f"root_{first} -.->|template| stack_{platform.services[0].name.replace('-', '_')}" in chart
    )
    root = next(r for r in _env(rendered, env) if r.filename == naming.ROOT_TEMPLATE)
    overview = graph.overview(root)
    for s in platform.services:
        assert f"  Network --> {naming.service_stack_id(s)}\n" in overview


def test_diagrams_are_deterministic(platform, rendered, charts):
    for env in platform.environments:
        assert graph.flowchart(list(reversed(_env(rendered, env)))) == charts[env]


def test_committed_diagrams_and_readme_sections_are_what_the_build_writes(platform, rendered):
    for g in docs.generated(
        platform, rendered, list(platform.environments), DOCS, PROJECT_ROOT / "README.md"
    ):
        assert g.text is not None, g.problem
        assert g.path.read_text() == g.text, f"{g.path}: run bin/build-templates"


def test_readme_shows_the_overview_and_links_every_diagram(platform, rendered):
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert docs.architecture(platform, rendered) in readme
    assert docs.environments_table(platform) in readme
    for env in platform.environments:
        assert f"(docs/architecture/{env}.md)" in readme
        assert (DOCS / f"{env}.md").is_file()


def test_check_names_a_stale_diagram_and_the_command_that_fixes_it(tmp_path, platform):
    docs_dir = tmp_path / "architecture"
    docs_dir.mkdir()
    env = next(iter(platform.environments))
    for page in DOCS.glob("*.md"):
        (docs_dir / page.name).write_text(page.read_text())
    (docs_dir / f"{env}.md").write_text((DOCS / f"{env}.md").read_text().replace("Vpc", "VPC"))
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    request = build.BuildRequest(mode="check", lint=False, docs_dir=docs_dir, readme=readme)
    result = build.run(request)
    messages = [str(d) for d in result.differences if d.kind != "template"]
    assert messages == [
        f"{docs_dir / env}.md: differs from the templates (run bin/build-templates)",
        f"{readme}: lacks the markers {docs.begin('architecture overview')} ... "
        f"{docs.end('architecture overview')} (restore them (git checkout README.md), then run "
        "bin/build-templates)",
    ]
    assert not result.ok
