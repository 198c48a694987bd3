"""`diff`: the committed templates and parameters against the deployed stacks, read-only.

For people who may read the stacks but not create change sets: nothing is uploaded and no change
set is made. GetTemplate gives each deployed template (the root, then each nested stack found
through ListStackResources); each is compared with the committed one in `templates/<env>/`,
resource by resource. The root's parameters (artifacts prefix, and the image tags given) and the
stack tags are compared with what a plan would pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cfn import naming
from cfn.config import Environment
from cfn.deploy import changesets
from cfn.deploy.errors import DeployError

_SECTIONS = ("Parameters", "Conditions", "Mappings", "Outputs", "Metadata", "Rules")


@dataclass
class StackDiff:
    stack: str  # "(root)" or the nested stack's logical id path
    name: str  # the deployed stack's name
    differences: list[str] = field(default_factory=list)


@dataclass
class DiffResult:
    environment: str
    stacks: list[StackDiff]

    @property
    def same(self) -> bool:
        return not any(s.differences for s in self.stacks)

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "same": self.same, **asdict(self)}

    def to_text(self) -> str:
        lines = []
        for s in self.stacks:
            if s.differences:
                lines.append(f"{s.stack} ({s.name}): {len(s.differences)} difference(s)")
                lines += [f"    {d}" for d in s.differences]
        checked = f"{len(self.stacks)} stack(s) of {self.environment}"
        if not lines:
            return f"no differences: {checked} match the committed templates"
        return "\n".join(
            [*lines, f"{sum(1 for s in self.stacks if s.differences)} of {checked} differ"]
        )


def _body(template: Any) -> dict[str, Any]:
    # boto3 decodes a JSON TemplateBody into a dict; a YAML one stays text.
    if isinstance(template, dict):
        return json.loads(json.dumps(template))
    try:
        return json.loads(template)
    except ValueError:
        return {"(not JSON)": template}


def _changed_keys(old: Any, new: Any) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return []


def compare_templates(deployed: Mapping[str, Any], committed: Mapping[str, Any]) -> list[str]:
    """One line per resource or section that differs, naming logical ids and properties."""
    found = []
    old_res, new_res = deployed.get("Resources", {}), committed.get("Resources", {})
    for logical in sorted(set(old_res) | set(new_res)):
        old, new = old_res.get(logical), new_res.get(logical)
        if old == new:
            continue
        if old is None:
            found.append(f"+ {logical} ({new.get('Type', '')}): not deployed")
        elif new is None:
            found.append(f"- {logical} ({old.get('Type', '')}): deployed, not in the templates")
        else:
            keys = _changed_keys(old.get("Properties", {}), new.get("Properties", {}))
            other = [k for k in _changed_keys(old, new) if k != "Properties"]
            what = ", ".join([*(f"Properties.{k}" for k in keys), *other])
            found.append(f"~ {logical} ({new.get('Type', '')}): {what}")
    for section in _SECTIONS:
        keys = _changed_keys(deployed.get(section, {}), committed.get(section, {}))
        if keys:
            found.append(f"~ {section}: {', '.join(keys)}")
    for key in ("AWSTemplateFormatVersion", "Description", "Transform"):
        if deployed.get(key) != committed.get(key):
            found.append(f"~ {key}")
    return found


def _nested(cfn: Any, stack_id: str, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(logical id path, logical id, stack id) of every nested stack under a stack."""
    for page in changesets.pages(cfn.list_stack_resources, StackName=stack_id):
        for r in page.get("StackResourceSummaries", []):
            physical = r.get("PhysicalResourceId") or ""
            if r.get("ResourceType") == "AWS::CloudFormation::Stack" and physical:
                logical = r["LogicalResourceId"]
                child = f"{path}/{logical}" if path else logical
                yield child, logical, physical
                yield from _nested(cfn, physical, child)


def _committed(templates_dir: Path, env: Environment, filename: str) -> dict[str, Any] | None:
    path = templates_dir / env.name / filename
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _deployed(cfn: Any, stack: str) -> dict[str, Any]:
    return _body(cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"])


def _root_inputs(
    env: Environment, state: changesets.StackState, tags: Mapping[str, str], stack_tags: Any
) -> list[str]:
    found = []
    expected = {naming.ARTIFACTS_PREFIX_PARAMETER: naming.artifacts_prefix(env)}
    for service in env.services:
        if service.name in tags:
            expected[naming.image_tag_parameter(service)] = tags[service.name]
    for key, value in sorted(expected.items()):
        deployed = state.parameters.get(key)
        if deployed != value:
            found.append(f"~ parameter {key}: deployed {deployed or '∅'}, committed {value}")
    deployed_tags = {t["Key"]: t["Value"] for t in stack_tags}
    for key, value in sorted(naming.tag_dict(env).items()):
        if deployed_tags.get(key) != value:
            found.append(
                f"~ stack tag {key}: deployed {deployed_tags.get(key) or '∅'}, committed {value}"
            )
    return found


def run(
    cfn: Any, env: Environment, *, templates_dir: Path, image_tags: Mapping[str, str]
) -> DiffResult:
    stack = naming.root_stack(env)
    state = changesets.stack_state(cfn, stack)
    if not state.exists or state.status == "REVIEW_IN_PROGRESS":
        raise DeployError(
            f"{stack} is not deployed: nothing to compare with",
            f"bin/deploy plan --env {env.name} shows what a first deploy would create",
        )
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    root = StackDiff("(root)", stack)
    committed_root = _committed(templates_dir, env, naming.ROOT_TEMPLATE) or {}
    root.differences = compare_templates(_deployed(cfn, stack), committed_root)
    root.differences += _root_inputs(env, state, image_tags, described.get("Tags", []))
    result = [root]
    for path, logical, stack_id in _nested(cfn, state.stack_id or stack):
        name = stack_id.split("/")[1] if stack_id.startswith("arn:") else stack_id
        committed = _committed(templates_dir, env, naming.template_file(logical))
        if committed is None:
            result.append(StackDiff(path, name, ["no committed template for this nested stack"]))
            continue
        result.append(StackDiff(path, name, compare_templates(_deployed(cfn, stack_id), committed)))
    return DiffResult(env.name, result)
