"""The review of a change set: parameter changes, each resource change with its property paths,
before and after values and cause, its risk, security broadenings and the drift it overwrites.

Built from `describe_change_set` output (the root's and each nested change set's, property values
included); classified by `cfn.deploy.risk` and `cfn.deploy.security`; rendered by
`cfn.deploy.reviewtext` as text for the terminal, Markdown for a pull request, or a dict for
`--output json`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from cfn.deploy.changesets import DescribedChangeSet
from cfn.deploy.drift import DriftReport, ResourceDrift

# What AWS puts in a property value it cannot know before the change set runs.
KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"
# What AWS shows for a NoEcho parameter's value.
MASKED = "****"
SECRET = "(secret, not shown)"

RISKY, SECURITY, CHECK, ROUTINE, NO_OP = "risky", "security", "check", "routine", "no-op"


@dataclass
class Detail:
    """One property (or attribute) a change touches, and why."""

    path: str  # e.g. /Properties/ContainerDefinitions/0/Image, or Properties.Tags
    before: str | None = None
    after: str | None = None
    recreation: str = ""  # Never, Conditionally, Always
    evaluation: str = ""  # Static or Dynamic
    source: str = ""  # ChangeSource: DirectModification, ParameterReference, ...
    cause: str = ""  # CausingEntity: a parameter, a logical id, or X.Outputs.Y
    change_type: str = ""  # Add, Remove, Modify
    no_op: bool = False  # a Dynamic evaluation whose cause does not change (cfn.deploy.risk)

    @property
    def replaces(self) -> bool:
        return self.recreation in ("Always", "Conditionally")


@dataclass
class Change:
    stack: str  # "" for the root, else the nested stack's logical id path
    action: str
    logical_id: str
    resource_type: str
    replacement: str  # "True", "Conditional", "False" or "" (not applicable)
    physical_id: str = ""
    details: list[Detail] = field(default_factory=list)
    risk: str = ROUTINE  # RISKY, SECURITY, CHECK, ROUTINE or NO_OP (see cfn.deploy.risk)
    why: str = ""  # one line: what this change means
    security: list[str] = field(default_factory=list)  # broadenings found in its values
    drift: list[str] = field(default_factory=list)  # console changes it would overwrite
    before_context: str = field(default="", repr=False)
    after_context: str = field(default="", repr=False)

    @property
    def where(self) -> str:
        return f"{self.stack}/{self.logical_id}" if self.stack else self.logical_id

    @property
    def rank(self) -> int:
        return {RISKY: 0, SECURITY: 1, CHECK: 2, ROUTINE: 3}.get(self.risk, 9)


@dataclass
class ParameterChange:
    stack: str  # "" for the root
    name: str
    before: str | None
    after: str | None

    @property
    def image_tag(self) -> bool:
        return self.name.endswith("ImageTag")


@dataclass
class Review:
    stack_name: str
    change_set_name: str
    change_set_id: str
    change_set_type: str
    region: str
    stack_id: str
    changes: list[Change]
    parameters: list[ParameterChange] = field(default_factory=list)
    drift: DriftReport | None = None
    plan_file: str = ""
    deployment_mode: str = ""
    # What the safety envelope puts in force for this change set (rollback triggers, ...).
    safety: list[str] = field(default_factory=list)

    @property
    def console_url(self) -> str:
        r = self.region
        return (
            f"https://{r}.console.aws.amazon.com/cloudformation/home?region={r}#/stacks/"
            f"changesets/changes?stackId={quote(self.stack_id, safe='')}"
            f"&changeSetId={quote(self.change_set_id, safe='')}"
        )

    @property
    def real(self) -> list[Change]:
        """The changes that change something (not the Dynamic evaluations that cannot)."""
        return [c for c in self.changes if c.risk != NO_OP]

    @property
    def no_ops(self) -> list[Change]:
        return sorted((c for c in self.changes if c.risk == NO_OP), key=lambda c: c.where)

    @property
    def has_changes(self) -> bool:
        return bool(self.real)

    @property
    def risky(self) -> list[Change]:
        return sorted((c for c in self.changes if c.risk == RISKY), key=lambda c: c.where)

    @property
    def broadening(self) -> list[str]:
        return [f"{c.where} ({c.resource_type}): {s}" for c in self.changes for s in c.security]

    @property
    def untouched_drift(self) -> list[ResourceDrift]:
        """Drifted resources this change set does not touch."""
        if self.drift is None:
            return []
        touched = {(c.stack, c.logical_id) for c in self.real}
        return [d for d in self.drift.resources if (d.stack, d.logical_id) not in touched]

    @property
    def counts(self) -> dict[str, int]:
        count = {"add": 0, "modify": 0, "remove": 0, "replace": 0}
        for c in self.real:
            key = {"Add": "add", "Modify": "modify", "Remove": "remove"}.get(c.action)
            if key:
                count[key] += 1
            if c.replacement == "True":
                count["replace"] += 1
        count["stacks"] = len({c.stack for c in self.real})
        count["no_op"] = len(self.no_ops)
        return count

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for c in d["changes"]:
            c.pop("before_context")
            c.pop("after_context")
        d["drift"] = self.drift.to_dict() if self.drift else None
        d["console_url"] = self.console_url
        d["counts"] = self.counts
        d["broadening"] = self.broadening
        d["has_changes"] = self.has_changes
        return d


def _detail(d: Mapping[str, Any]) -> Detail:
    target = d.get("Target", {})
    path = target.get("Path") or ".".join(
        x for x in (target.get("Attribute"), target.get("Name")) if x
    )
    return Detail(
        path=path or "(resource)",
        before=target.get("BeforeValue"),
        after=target.get("AfterValue"),
        recreation=target.get("RequiresRecreation", "") or "",
        evaluation=d.get("Evaluation", "") or "",
        source=d.get("ChangeSource", "") or "",
        cause=d.get("CausingEntity", "") or "",
        change_type=target.get("AttributeChangeType", "") or "",
    )


def _changes(tree: DescribedChangeSet) -> list[Change]:
    changes: list[Change] = []
    for node in tree.walk():
        for item in node.description.get("Changes", []):
            rc = item.get("ResourceChange")
            if not rc:
                continue
            changes.append(
                Change(
                    stack=node.stack_path,
                    action=rc.get("Action", ""),
                    logical_id=rc.get("LogicalResourceId", ""),
                    resource_type=rc.get("ResourceType", ""),
                    replacement=rc.get("Replacement", "") or "",
                    physical_id=rc.get("PhysicalResourceId", "") or "",
                    details=[_detail(d) for d in rc.get("Details", [])],
                    before_context=rc.get("BeforeContext", "") or "",
                    after_context=rc.get("AfterContext", "") or "",
                )
            )
    return changes


def _shown(value: str | None, secret: bool) -> str | None:
    if value is None:
        return None
    return SECRET if secret or value == MASKED else value


def parameter_changes(
    changes: list[Change],
    root_before: Mapping[str, str],
    root_after: Mapping[str, str],
    secrets: Collection[str] = (),
) -> list[ParameterChange]:
    """Root parameters old -> new, then each nested stack's from its Stack resource's details.

    Image tags first; a NoEcho parameter (named in `secrets`) or a value AWS masked is never
    shown. A nested parameter whose change is a Dynamic evaluation that changes nothing is left
    out (see `cfn.deploy.risk`).
    """
    found: list[ParameterChange] = []
    for name in sorted(set(root_before) | set(root_after)):
        before, after = root_before.get(name), root_after.get(name)
        if before != after:
            secret = name in secrets
            found.append(ParameterChange("", name, _shown(before, secret), _shown(after, secret)))
    for c in changes:
        if c.resource_type != "AWS::CloudFormation::Stack" or c.risk == NO_OP:
            continue
        stack = f"{c.stack}/{c.logical_id}" if c.stack else c.logical_id
        for d in c.details:
            prefix = "/Properties/Parameters/"
            if not d.path.startswith(prefix) or d.no_op:
                continue
            name = d.path[len(prefix) :]
            if d.before == d.after:
                continue
            secret = name in secrets
            found.append(
                ParameterChange(stack, name, _shown(d.before, secret), _shown(d.after, secret))
            )
    return sorted(found, key=lambda p: (not p.image_tag, p.stack, p.name))


def from_described(
    tree: DescribedChangeSet,
    region: str,
    plan_file: str = "",
    *,
    root_before: Mapping[str, str] | None = None,
    root_after: Mapping[str, str] | None = None,
    secrets: Collection[str] = (),
    drift: DriftReport | None = None,
) -> Review:
    """The review of a described change set tree; `root_before`/`root_after` are the root
    stack's parameter values before (deployed) and after (planned)."""
    from cfn.deploy import risk, security

    root = tree.description
    changes = _changes(tree)
    changed_root = {
        k
        for k in set(root_before or {}) | set(root_after or {})
        if (root_before or {}).get(k) != (root_after or {}).get(k)
    }
    risk.classify(changes, changed_root)
    for c in changes:
        c.security = security.broadenings(c)
        if c.security and c.risk != RISKY:
            c.risk, c.why = SECURITY, "broadens access: see the security section"
    if drift is not None:
        for c in changes:
            c.drift = drift.overwritten_by(c)
    return Review(
        stack_name=root.get("StackName", ""),
        change_set_name=root.get("ChangeSetName", ""),
        change_set_id=root.get("ChangeSetId", ""),
        change_set_type=root.get("ChangeSetType", "") or "",
        region=region,
        stack_id=root.get("StackId", ""),
        changes=changes,
        parameters=parameter_changes(changes, root_before or {}, root_after or {}, secrets),
        drift=drift,
        plan_file=plan_file,
        deployment_mode=root.get("DeploymentMode", "") or "",
    )


def secret_parameters(template_texts: list[str]) -> set[str]:
    """Names of the NoEcho parameters of these templates: their values are never shown."""
    names: set[str] = set()
    for text in template_texts:
        for name, p in json.loads(text).get("Parameters", {}).items():
            if str(p.get("NoEcho", "")).lower() == "true":
                names.add(name)
    return names


def to_text(review: Review) -> str:
    from cfn.deploy.reviewtext import to_text as render

    return render(review)


def to_markdown(review: Review) -> str:
    from cfn.deploy.reviewtext import to_markdown as render

    return render(review)
