"""What to do with a Table resource, given the live table: ACK's reconciler's decisions as one pure function.

`decide` is the only place that says whether a resource may create, adopt, change or delete a table. The
reconciler (controller/reconciler.py) carries out its answer, for every caller alike (apply, reconcile, the
controller, drift's remediation, the bootstrap), so no path can skip a guard: ownership, adoption, renames,
replacements, read-only, deletion policy, and the opt-ins for what would destroy data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ack.delta import Difference, delta
from ack.ignore import with_live
from ack.model import (
    ADOPTION_FIELDS,
    ADOPTION_POLICY,
    ALLOW_DESTRUCTIVE,
    NAMESPACE_DELETION_POLICY,
    RECREATE_MISSING,
    TableSpec,
)
from ack.normalize import LiveTable
from ack.plan import Plan, Step, busy, create_table_params, delete_table, plan, sdk_tags, tag_steps
from ack.resource import DELETION_POLICIES, DeletionPolicy, Policies, TableResource
from ack.tags import controller_tags, is_user_tag, retag
from ack.validate import effective, unsupported


@dataclass(frozen=True)
class Capabilities:
    """What the AWS endpoint serves. A spec that uses anything else is refused before any AWS call, naming the
    field (`unsupported` holds spec paths such as `tableReplicas`)."""

    unsupported: tuple[str, ...] = ()
    where: str = "this AWS endpoint"


AWS = Capabilities()
SANDBOX = Capabilities(unsupported=("sseSpecification.kmsMasterKeyRef",),
                       where="the sandbox's AWS endpoint")


@dataclass(frozen=True)
class Refuse:
    """Nothing is done: the condition ACK.Terminal says why, until the resource changes."""

    reason: str
    message: str


@dataclass(frozen=True)
class Create:
    """CreateTable with these parameters (the ownership tag among the tags)."""

    params: dict[str, Any]


@dataclass(frozen=True)
class Adopt:
    """Take over an existing table (the adoption annotations allow it): tag it as this resource's, mark the resource
    `services.k8s.aws/adopted: "true"`, and, for ACK's `adopt`, write the table as it is into the resource's spec
    (`spec`; None for `adopt-or-create`, whose spec is then applied to the table)."""

    step: Step
    spec: dict[str, Any] | None = None


@dataclass(frozen=True)
class AwaitTable:
    """ACK's `adopt` and no table of that name yet: nothing is created; looked for again after the resource's
    backoff (ACK: "adopted resource not found", retried), ACK.Recoverable meanwhile."""

    message: str


@dataclass(frozen=True)
class Converge:
    """This round's calls (`plan`), for the `differences` between the spec and the table it owns; `ignored` the
    differences left as they are live (ack/ignore.py), with why."""

    plan: Plan
    differences: list[Difference] = field(default_factory=list)
    ignored: list[tuple[Difference, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Observe:
    """services.k8s.aws/read-only: report the differences, change nothing."""

    differences: list[Difference]
    ignored: list[tuple[Difference, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Retain:
    """The resource is being deleted and its table stays (policy retain, read-only, or not this resource's)."""

    message: str


@dataclass(frozen=True)
class Delete:
    """The resource is being deleted: the calls that delete its table, in order; none when it is gone."""

    plan: Plan


Decision = Refuse | Create | Adopt | AwaitTable | Converge | Observe | Retain | Delete


def refusal(resource: TableResource, capabilities: Capabilities) -> Refuse | None:
    """What refuses the resource whatever AWS holds: checked before any AWS call."""
    policies = resource.policies
    if resource.deleting:
        return _bad_deletion_policy(policies)
    if policies.problems:
        return Refuse("InvalidAnnotation", "; ".join(map(str, policies.problems)))
    problems = list(resource.spec_problems)
    spec = resource.spec
    if spec is not None:
        reason = f"is not served by {capabilities.where}"
        problems += unsupported(spec, capabilities.unsupported, reason)
    if problems:
        kind = "Unsupported" if all(p.kind == "unsupported" for p in problems) else "InvalidSpec"
        return Refuse(kind, "; ".join(map(str, problems)))
    assert spec is not None
    owned = resource.owned_arn
    if owned and not owned.endswith(f":table/{spec.table_name}"):
        old = owned.rsplit("/", 1)[-1]
        return Refuse("RequiresReplacement", f'spec.tableName: renaming needs a new resource: the table "{old}" '
                                             f'stays; create a new Table resource for "{spec.table_name}"')
    named = policies.adoption_table_name
    if policies.adoption and named is not None and named != spec.table_name:
        return Refuse("InvalidAnnotation", f"metadata.annotations[{ADOPTION_FIELDS}]: tableName {named!r} differs "
                                           f"from spec.tableName {spec.table_name!r}")
    return None


def decide(resource: TableResource, live: LiveTable | None, capabilities: Capabilities = AWS,
           namespace_deletion_policy: str | None = None, default_deletion_policy: DeletionPolicy = "delete",
           resource_tags: dict[str, str] | None = None) -> Decision:
    """The one decision for `resource`, given its live table (None: no table of that name exists). For a
    deletion, the resource's own deletion policy, else `namespace_deletion_policy` (its namespace's annotation),
    else `default_deletion_policy` (the controller's --deletion-policy, as ACK's) decides. `resource_tags` are
    the controller's tags for this resource (ack/tags.py: ResourceTags.render), kept on its table."""
    if resource.deleting:
        return _deletion(resource, live, namespace_deletion_policy, default_deletion_policy)
    if refused := refusal(resource, capabilities):
        return refused
    spec, policies = resource.spec, resource.policies
    assert spec is not None  # refusal() refuses a spec that does not fit the model
    if policies.read_only:
        if live is None:
            return Refuse("TableMissing", f"read-only: no table {spec.table_name} exists")
        spec, ignored = with_live(spec, live.observed.spec, (*policies.ignored, *live.autoscaled))
        return Observe(delta(spec, live.observed.spec), ignored)
    if live is None:
        if resource.owned_arn and not policies.recreate_missing:
            return Refuse("TableMissing", f"the table {spec.table_name} was deleted outside the cluster; annotate "
                                          f'{RECREATE_MISSING}: "true" to create it again (empty)')
        if policies.adoption == "adopt":
            return AwaitTable(f"{ADOPTION_POLICY} is adopt but no table {spec.table_name} exists (yet): nothing is "
                              f"created; looked for again later")
        params = create_table_params(spec)
        tags = {**_tags(spec), **_wanted_tags(resource, resource_tags)}
        params["Tags"] = sdk_tags(tags)
        return Create(params)
    if live.owner == resource.key:
        return _converge(resource, live, resource_tags)
    if live.owner:
        return Refuse("OwnedElsewhere", f"the table {spec.table_name} is managed by the resource {live.owner}")
    if not policies.adoption:
        return Refuse("TableExists", f"a table named {spec.table_name} already exists and this resource does not "
                                     f"own it; annotate {ADOPTION_POLICY}: adopt to take it over")
    tag, _ = retag(_tags(live.observed.spec), _wanted_tags(resource, resource_tags))
    return Adopt(Step("TagResource", {"ResourceArn": live.observed.arn, "Tags": sdk_tags(tag)},
                      f"adopt the table {spec.table_name}"),
                 spec=adopted_spec(live.observed.spec, spec) if policies.adoption == "adopt" else None)


def adopted_spec(observed: TableSpec, named: TableSpec) -> dict[str, Any]:
    """The spec ACK's `adopt` writes into the resource: the table as it is (its user tags only). Settings read
    only when the spec names them (contributor insights, the resource policy) are kept as the spec says."""
    spec, _ = effective(observed.model_copy(update={  # effective(): AWS's 0/0 throughput of an on-demand table
        "tags": [tag for tag in observed.tags or [] if is_user_tag(tag.key)] or None,
        "contributor_insights": named.contributor_insights,
        "resource_policy": named.resource_policy if observed.resource_policy is None else observed.resource_policy}))
    return {key: value for key, value in spec.dump().items() if value not in ([], None)}


def _tags(spec: TableSpec) -> dict[str, str]:
    return {tag.key: tag.value for tag in spec.tags or []}


def _wanted_tags(resource: TableResource, resource_tags: dict[str, str] | None) -> dict[str, str]:
    assert resource.spec is not None
    return controller_tags(resource_tags or {}, _tags(resource.spec), resource.key)


def _retag_steps(resource: TableResource, live: LiveTable, resource_tags: dict[str, str] | None) -> list[Step]:
    """The calls that bring the controller's own tags up to date (a former ownership tag, a new version, a changed
    --resource-tags): never drift, done with the next round that reads the table."""
    tag, untag = retag(_tags(live.observed.spec), _wanted_tags(resource, resource_tags))
    return tag_steps(live.observed.arn, tag, untag, "the controller's tags")


def _converge(resource: TableResource, live: LiveTable, resource_tags: dict[str, str] | None) -> Refuse | Converge:
    assert resource.spec is not None
    # What is left to others is asked for as it is live: no plan touches it.
    spec, ignored = with_live(resource.spec, live.observed.spec, (*resource.policies.ignored, *live.autoscaled))
    resource = replace(resource, spec=spec)
    differences = delta(spec, live.observed.spec)
    retags = _retag_steps(resource, live, resource_tags)
    if not differences:  # as the spec says, but synced only once AWS is done with it (ACK: ACTIVE)
        return Converge(Plan(steps=retags, wait=busy(live.observed)), ignored=ignored)
    round_ = plan(differences, live.observed, spec, allow_destructive=resource.policies.allow_destructive,
                  known_indexes=resource.managed_indexes, known_replicas=resource.managed_replicas)
    if round_.replacements:
        return Refuse("RequiresReplacement", "; ".join(map(str, round_.replacements)))
    if round_.terminal:
        return Refuse("TableUnavailable", round_.terminal)
    if not round_.steps and not round_.wait and round_.refused:
        return Refuse("DestructiveChange", "not done without an opt-in: " + "; ".join(
            s.reason for s in round_.refused) + f'; annotate {ALLOW_DESTRUCTIVE}: "true" to allow it')
    return Converge(replace(round_, steps=[*retags, *round_.steps]), differences, ignored)


def _deletion(resource: TableResource, live: LiveTable | None, namespace_policy: str | None,
              default_policy: DeletionPolicy) -> Decision:
    if not resource.has_finalizer:
        return Delete(Plan())  # nothing of ours holds the resource
    kept = keeps(resource.policies, namespace_policy, default_policy)
    if isinstance(kept, Refuse):
        return kept
    name = resource.table_name
    if kept:
        return Retain(f"the table {name} was kept")
    if resource.spec is None or live is None:
        return Delete(Plan())  # never made, or already gone
    if live.owner != resource.key:  # never delete a table this resource does not own
        return Retain(f"the table {name} is not managed by this resource: kept")
    deletion = delete_table(live.observed, resource.spec)
    if deletion.terminal:
        return Refuse("DeletionProtected", deletion.terminal)
    return Delete(deletion)


def _bad_deletion_policy(policies: Policies) -> Refuse | None:
    bad = [p for p in policies.problems if "deletion-policy" in p.field]
    return Refuse("InvalidAnnotation", "; ".join(map(str, bad))) if bad else None


def keeps(policies: Policies, namespace_policy: str | None, default_policy: DeletionPolicy) -> bool | Refuse:
    """Whether a resource being deleted (of any kind) keeps what it made in AWS: ACK's read-only, else its own
    deletion policy, else its namespace's (`namespace_policy`), else the controller's; a refusal naming an annotation
    not understood (the namespace's only when it applies)."""
    if refused := _bad_deletion_policy(policies):
        return refused
    if policies.deletion is None and namespace_policy is not None and namespace_policy not in DELETION_POLICIES:
        return Refuse("InvalidAnnotation", f"the namespace's {NAMESPACE_DELETION_POLICY}: {namespace_policy!r} is not "
                                           "one of 'delete', 'retain'")
    return policies.read_only or (policies.deletion or namespace_policy or default_policy) == "retain"


def managed_by(resource: TableResource, live: LiveTable | None) -> dict[str, Any]:
    """What an applied spec named, which later rounds must remember (the status's managed* fields): what this
    spec names, and what an earlier one named that the table (`live`; None: as the spec says) still has."""
    spec = resource.spec
    assert spec is not None
    has = live.observed.spec if live is not None else spec
    indexes = {i.index_name for i in spec.global_secondary_indexes or []} | (
        resource.managed_indexes & {i.index_name for i in has.global_secondary_indexes or []})
    regions = {r.region_name for r in spec.table_replicas or []} | (
        resource.managed_replicas & {r.region_name for r in has.table_replicas or []})
    policy = bool(spec.resource_policy) or (bool(resource.status.managed_resource_policy) and bool(has.resource_policy))
    return {"managedIndexes": sorted(indexes), "managedReplicas": sorted(regions), "managedResourcePolicy": policy}


def recorded(resource: TableResource) -> dict[str, Any]:
    """The managed* fields as the resource's status has them (absent: nothing managed), in managed_by()'s form."""
    return {"managedIndexes": sorted(resource.managed_indexes), "managedReplicas": sorted(resource.managed_replicas),
            "managedResourcePolicy": bool(resource.status.managed_resource_policy)}
