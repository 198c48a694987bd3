"""Golden files: templates/ is exactly what the code renders, and rendering is reproducible."""

from __future__ import annotations

from cfn import build, render
from tests.conftest import TEMPLATES


def test_committed_templates_equal_rendering():
    result = build.run(build.BuildRequest(mode="check", lint=False, out_dir=TEMPLATES))
    assert {r.path for r in result.templates} == {
        str(p.relative_to(TEMPLATES.parent)) for p in TEMPLATES.glob("*/*.json")
    }
    # Each difference names the file and the logical ids: "templates/prod/network.json: ...".
    assert not result.differences, "\n".join(map(str, result.differences))


def test_rendering_twice_gives_identical_bytes(platform, rendered):
    again = render.render(platform)
    assert [(r.path, r.text) for r in again] == [(r.path, r.text) for r in rendered]


def test_difference_names_the_logical_id(rendered):
    network = next(r for r in rendered if r.path == "dev/network.json")
    edited = network.text.replace('"MapPublicIpOnLaunch": false', '"MapPublicIpOnLaunch": true', 1)
    details = build.describe_difference(network.text, edited)
    assert details == ("Resources.PrivateSubnet1 changed",) or details == (
        "Resources.PublicSubnet1 changed",
    )


def test_root_points_at_nested_templates_by_content_hash(rendered, templates):
    for r in rendered:
        if r.filename in ("root.json", "bootstrap.json"):
            continue
        root = templates[f"{r.env}/root.json"]
        urls = [
            res["Properties"]["TemplateURL"]["Fn::Sub"]
            for res in root["Resources"].values()
            if res["Type"] == "AWS::CloudFormation::Stack"
        ]
        assert any(u.endswith(f"/{r.sha256}/{r.filename}") for u in urls), r.path
