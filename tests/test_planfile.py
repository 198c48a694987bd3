"""The plan file: a typed, versioned record; every broken file is one clear line, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfn.deploy import planfile
from cfn.deploy.errors import DeployError


def _plan() -> planfile.Plan:
    return planfile.Plan(
        environment="dev",
        account="123456789012",
        region="eu-west-1",
        stack="insightxi-dev",
        stack_id="arn:aws:cloudformation:eu-west-1:123456789012:stack/insightxi-dev/1",
        change_set_id="arn:aws:cloudformation:eu-west-1:123456789012:changeSet/cs/1",
        change_set_name="cs",
        change_set_type="UPDATE",
        stack_status="UPDATE_COMPLETE",
        stack_last_updated="2026-11-30T06:00:00+00:00",
        artifacts_bucket="bucket",
        templates={"root.json": planfile.TemplateArtifact(key="k", sha256="0" * 64)},
        parameters={"SportmonksServiceImageTag": {"value": "1a2b3c4"}},
        change_count=1,
        created_at="2026-11-30T06:01:00Z",
    )


def test_a_written_plan_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    planfile.write(path, _plan())
    assert planfile.read(path) == _plan()
    assert json.loads(path.read_text())["version"] == planfile.PLAN_VERSION


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "not found"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "is not a plan"),
        ('{"version": 1, "environment": "dev"}', "has version 1; this tool reads version 2"),
        ('{"version": 2, "environment": "dev"}', "is not a valid plan (check: account"),
    ],
)
def test_a_broken_plan_file_is_one_clear_error(tmp_path: Path, content, expected) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DeployError) as info:
        planfile.read(path)
    assert expected in str(info.value)


def test_a_plan_with_a_field_of_the_wrong_type_names_the_field(tmp_path: Path) -> None:
    data = _plan().model_dump(mode="json")
    data["change_count"] = "many"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DeployError) as info:
        planfile.read(path)
    assert "check: change_count" in str(info.value)
