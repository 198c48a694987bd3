"""`execute`: run exactly the reviewed change set, then follow it until it settles, the ECS
rollouts included, and give a verdict per service.

Refuses (and says to plan again) when the change set is no longer executable or the stack has
moved since the plan; the CLI asks for confirmation first where the environment is protected.

`ExecuteChangeSet` carries a `ClientRequestToken` derived from the change set, so a retried
execute (after a throttle, a timeout or a second `bin/deploy execute`) is recognised as the same
operation and followed instead of failing. Ctrl-C tells what happened: before the execute was
accepted, nothing started; after, the deployment goes on (`bin/deploy status --watch`).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cfn import naming
from cfn.config import Environment, Service
from cfn.deploy import changesets, events, planfile, rollout, stackpolicy
from cfn.deploy.aws import Clients, error_code, explain
from cfn.deploy.errors import DeployError, Interrupted, StalePlan

_EXECUTED = ("EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE", "EXECUTE_FAILED")
_RETRY_CODES = {"Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
EXECUTE_ATTEMPTS = 3


def ours_already(cfn: Any, plan: planfile.Plan) -> bool:
    """Whether this plan's execution already started (an event carries its token)."""
    token = events.token_for(plan.change_set_id)
    page = cfn.describe_stack_events(StackName=plan.stack_id)
    return any(e.get("ClientRequestToken") == token for e in page.get("StackEvents", []))


def check_still_valid(clients: Clients, plan: planfile.Plan) -> dict[str, Any]:
    """The change set's description, if the plan can still be executed (or followed) as reviewed."""
    env = plan.environment
    again = f"plan again: bin/deploy plan --env {env}"
    account = clients.sts.get_caller_identity()["Account"]
    if account != plan.account or clients.region != plan.region:
        raise StalePlan(
            f"the plan was made for account {plan.account} in {plan.region}; these "
            f"credentials are for account {account} in {clients.region}",
            "use the same profile and region as the plan",
        )
    try:
        desc = clients.cloudformation.describe_change_set(ChangeSetName=plan.change_set_id)
    except Exception as exc:
        if error_code(exc) in (
            "ChangeSetNotFound",
            "ChangeSetNotFoundException",
            "ValidationError",
        ):
            raise StalePlan(f"change set {plan.change_set_name} no longer exists", again) from None
        raise
    status, execution = desc.get("Status"), desc.get("ExecutionStatus")
    if execution in _EXECUTED and ours_already(clients.cloudformation, plan):
        return desc  # executed by an earlier run of this plan: follow it
    if status != "CREATE_COMPLETE" or execution != "AVAILABLE":
        raise StalePlan(
            f"change set {plan.change_set_name} cannot be executed (status {status}, "
            f"execution status {execution})",
            again,
        )
    state = changesets.stack_state(clients.cloudformation, plan.stack)
    if (state.status, state.last_updated) != (
        plan.stack_status,
        plan.stack_last_updated,
    ) and not (plan.change_set_type == "CREATE" and state.status == "REVIEW_IN_PROGRESS"):
        raise StalePlan(
            f"stack {plan.stack} changed since the plan (was {plan.stack_status} at "
            f"{plan.stack_last_updated}, now {state.status} at {state.last_updated})",
            again,
        )
    return desc


def changed_services(env: Environment, description: Mapping[str, Any]) -> list[Service]:
    """The services whose nested stack the root change set adds or modifies."""
    touched = {
        c.get("ResourceChange", {}).get("LogicalResourceId")
        for c in description.get("Changes", [])
        if c.get("ResourceChange", {}).get("Action") in ("Add", "Modify")
    }
    return [s for s in env.services if naming.service_stack_id(s) in touched]


@dataclass
class Outcome:
    """How the stack operation ended (status None: stopped following before it did)."""

    stack: str
    status: str | None
    failures: list[str] = field(default_factory=list)
    verdicts: list[rollout.Verdict] = field(default_factory=list)
    # Protected environments: the stacks given the stack policy after success
    # (`stackpolicy.protect`).
    protected_stacks: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.status is not None
            and events.succeeded(self.status)
            and all(v.ok for v in self.verdicts)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "status": self.status,
            "ok": self.ok,
            "failures": self.failures,
            "services": [v.to_dict() for v in self.verdicts],
        }


@dataclass
class Display:
    """Where each thing followed goes (the CLI prints lines or JSON events)."""

    on_event: Callable[[events.Event], None] = lambda e: None
    on_change: Callable[[rollout.Change], None] = lambda c: None
    # A one-line note for the person at the terminal (progress: stderr).
    on_note: Callable[[str], None] = lambda s: print(s, file=sys.stderr)


def watch(
    clients: Clients,
    op: events.Operation,
    env: Environment,
    services: Sequence[Service],
    tags: Mapping[str, str],
    display: Display,
    *,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> Outcome:
    """Follow the operation's events and the services' rollouts until the stack settles (or
    `deadline` seconds pass: then the outcome's status is None and the deployment goes on)."""
    started = time.monotonic()
    delays = iter(changesets.POLL_DELAYS)
    watchers: list[rollout.ServiceRollout] | None = None
    stack = naming.root_stack(env)
    while True:
        status = events.settled(clients.cloudformation, op.root_id)
        for event in op.poll():
            display.on_event(event)
        if watchers is None and op.started is not None:
            watchers = [_watcher(clients, env, s, tags.get(s.name), op.started) for s in services]
        for w in list(watchers or []):
            for change in _poll_watcher(w, watchers or []):
                display.on_change(change)
        if status:
            failed = not events.succeeded(status)
            verdicts = [w.verdict(failed) for w in watchers or [] if w.ours is not None]
            return Outcome(stack, status, op.failure_lines(), verdicts)
        if deadline is not None and time.monotonic() - started > deadline:
            return Outcome(stack, None)
        sleep(next(delays, changesets.POLL_DELAYS[-1]))


def _poll_watcher(
    w: rollout.ServiceRollout, watchers: list[rollout.ServiceRollout]
) -> list[rollout.Change]:
    """The watcher's changes; an AWS error (e.g. no permission to read ECS) ends that watcher
    with one line, not the following of the stack."""
    try:
        return w.poll()
    except Exception as exc:
        why = explain(exc)
        if why is None:
            raise
        watchers.remove(w)
        return [rollout.Change(w.name, "watch_stopped", f"rollout not watched: {why.message}")]


def in_progress(cfn: Any, env: Environment) -> tuple[events.Operation | None, str]:
    """The operation under way on the environment's root stack (to follow), and what to say."""
    state = changesets.stack_state(cfn, naming.root_stack(env))
    if not state.exists or not (state.status or "").endswith("_IN_PROGRESS"):
        return None, f"nothing in progress on {state.name}"
    stack_id = state.stack_id or state.name
    found = events.in_progress_operation(cfn, stack_id)
    if found is None:
        return None, (
            f"{state.name} is {state.status}, started without a request token: its events "
            "cannot be told apart; see the console"
        )
    return events.Operation.resume(
        cfn, stack_id, *found
    ), f"following {state.name} ({state.status})"


def _watcher(
    clients: Clients, env: Environment, service: Service, tag: str | None, since: Any
) -> rollout.ServiceRollout:
    return rollout.ServiceRollout(
        name=service.name,
        cluster=naming.cluster(env),
        ecs_service=naming.ecs_service(env, service),
        tag=tag,
        health_check_path=service.health_check_path,
        since=since,
        ecs=clients.ecs,
        elbv2=clients.elbv2,
    )


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[list[bool]]:
    """Hold Ctrl-C until the block ends: an execute request is sent whole, and we know its
    answer. Yields a list that holds True if Ctrl-C came meanwhile."""
    caught: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


def _execute(cfn: Any, plan: planfile.Plan, token: str) -> None:
    """ExecuteChangeSet with the plan's token; a retry that finds it already ours is success."""
    for attempt in range(1, EXECUTE_ATTEMPTS + 1):
        try:
            cfn.execute_change_set(ChangeSetName=plan.change_set_id, ClientRequestToken=token)
            return
        except Exception as exc:
            code = error_code(exc)
            if code == "InvalidChangeSetStatus" and ours_already(cfn, plan):
                return  # an earlier attempt went through: the same operation, followed
            if code not in _RETRY_CODES or attempt == EXECUTE_ATTEMPTS:
                raise


def run(
    clients: Clients,
    plan: planfile.Plan,
    env: Environment,
    services: Sequence[Service],
    display: Display,
    *,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> Outcome:
    """Execute the plan's change set (once, whatever the retries) and follow it."""
    cfn = clients.cloudformation
    token = events.token_for(plan.change_set_id)
    try:
        resuming = ours_already(cfn, plan)  # a second run of the same plan: follow it only
        if resuming:
            found = events.in_progress_operation(cfn, plan.stack_id)
            since = found[1] if found and found[0] == token else None
            op = events.Operation.resume(cfn, plan.stack_id, token, since)
        else:
            op = events.Operation.before_execute(cfn, plan.stack_id, token)
    except KeyboardInterrupt:
        raise not_started(plan) from None
    # The policy in force during this update: CloudFormation refuses what the plan did not
    # allow. Loosened for --allow-replace, it is put back whenever the run does not succeed.
    policy = not resuming and env.protected and plan.change_set_type == "UPDATE"
    ok = False
    try:
        if policy:
            stackpolicy.apply(cfn, plan.stack, plan.allow_replace)
        outcome = _execute_and_watch(
            clients, plan, env, services, display, op, resuming, sleep=sleep, deadline=deadline
        )
        ok = outcome.ok
    finally:
        if policy and plan.allow_replace and not ok:
            stackpolicy.restore(cfn, plan, display.on_note)
    if outcome.ok:
        outcome.protected_stacks = stackpolicy.protect(cfn, plan, env)
    return outcome


def _execute_and_watch(
    clients: Clients,
    plan: planfile.Plan,
    env: Environment,
    services: Sequence[Service],
    display: Display,
    op: events.Operation,
    resuming: bool,
    *,
    sleep: Callable[[float], None],
    deadline: float | None,
) -> Outcome:
    cfn = clients.cloudformation
    goes_on = Interrupted(
        "stopped following; the deployment goes on in CloudFormation. Follow it again: "
        f"bin/deploy status --env {plan.environment} --watch"
    )
    if not resuming:
        with _sigint_deferred() as interrupted:
            _execute(cfn, plan, events.token_for(plan.change_set_id))
        if interrupted:
            raise goes_on
    tags = {k: v["value"] for k, v in plan.parameters.items() if "value" in v}
    by_service = {s.name: tags.get(naming.image_tag_parameter(s), "") for s in services}
    try:
        return watch(
            clients, op, env, services, by_service, display, sleep=sleep, deadline=deadline
        )
    except KeyboardInterrupt:
        raise goes_on from None
    except Exception as exc:
        why = exc if isinstance(exc, DeployError) else explain(exc)
        if why is None:
            raise
        # The change set was executed: whatever stopped the following, the deployment goes on.
        raise DeployError(
            f"stopped following: {why.message}; the deployment goes on in CloudFormation",
            f"follow it again: bin/deploy status --env {plan.environment} --watch",
        ) from None


def not_started(plan: planfile.Plan) -> Interrupted:
    return Interrupted(
        f"interrupted: not started; the change set {plan.change_set_name} is kept. Run execute "
        "again when ready"
    )
