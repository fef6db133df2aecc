"""How drift classes a resource from reconcile's own decision, and what remediation did to each difference."""

from __future__ import annotations

from ack.drift import Action, DriftClass, check_of, remediation_actions
from ack.lifecycle import decide
from ack.result import Requeue, Synced, Terminal
from tests.unit.resources import SPEC, live, resource


def check(res, table, default="remediate", error=""):
    return check_of(res, table, None if error else decide(res, table), default, error)


def test_in_sync_drifted_and_busy():
    assert check(resource(), live()).drift_class == DriftClass.IN_SYNC
    drifted = check(resource({**SPEC, "tableClass": "STANDARD_INFREQUENT_ACCESS"}), live())
    assert drifted.drift_class == DriftClass.DRIFTED and drifted.remediable
    assert [d.path for d in drifted.differences] == ["spec.tableClass"]
    busy = check(resource({**SPEC, "tableClass": "STANDARD_INFREQUENT_ACCESS"}), live(status="UPDATING"))
    assert busy.drift_class == DriftClass.NOT_READY and not busy.remediable


def test_what_reconcile_refuses_is_reported_once_with_its_reason_and_never_remediated():
    for res, table, reason in [
        (resource(), live(owner=None), "TableExists"),
        (resource(namespace="other"), live(owner="shop/orders"), "OwnedElsewhere"),
        (resource({**SPEC, "tableName": "orders-v2"}, owned="orders"), None, "RequiresReplacement"),
    ]:
        found = check(res, table)
        assert (found.drift_class, found.reason, found.remediable, found.differences) == (
            DriftClass.REFUSED, reason, False, [])


def test_read_only_differences_are_drift_reported_never_remediated():
    found = check(resource({**SPEC, "tableClass": "STANDARD_INFREQUENT_ACCESS"},
                           {"services.k8s.aws/read-only": "true"}), live())
    assert found.drift_class == DriftClass.DRIFTED and not found.remediable
    assert found.policy == "detect-only" and "read-only" in found.message


def test_an_index_made_out_of_band_is_drift_left_alone_without_the_opt_in():
    extra = {"IndexName": "extra", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}, "IndexStatus": "ACTIVE"}
    found = check(resource(), live(GlobalSecondaryIndexes=[extra]))
    assert found.drift_class == DriftClass.DRIFTED and not found.remediable
    assert [d.path for d in found.differences] == ["spec.globalSecondaryIndexes[byName:extra]"]


def test_missing_tables_are_recreated_only_on_opt_in_and_new_ones_are_not_ready():
    missing = check(resource(owned="orders"), None)
    assert missing.drift_class == DriftClass.MISSING and not missing.remediable
    assert "ackflow.dev/recreate-missing" in missing.message
    opted_in = check(resource(annotations={"ackflow.dev/recreate-missing": "true"}, owned="orders"), None)
    assert opted_in.drift_class == DriftClass.MISSING and opted_in.remediable
    assert check(resource(), None).drift_class == DriftClass.NOT_READY


def test_a_failed_read_is_an_error():
    found = check(resource(), None, error="DescribeTable: InternalServerError: ...")
    assert found.drift_class == DriftClass.ERROR and found.failed


def test_remediation_outcomes_per_difference():
    drifted = check(resource({**SPEC, "tableClass": "STANDARD_INFREQUENT_ACCESS",
                              "tags": [{"key": "team", "value": "a"}]}), live())
    paths = [d.path for d in drifted.differences]
    assert remediation_actions(drifted, Synced(), set(paths)) == {p: (Action.REMEDIATED, "") for p in paths}
    retry = remediation_actions(drifted, Requeue("RetryLater", "UpdateTable: ... once every 24 hours", 86400),
                                {"spec.tableClass"})
    assert retry["spec.tableClass"] == (Action.RETRY_LATER, "UpdateTable: ... once every 24 hours")
    assert retry["spec.tags[byKey:team]"] == (Action.REMEDIATED, "")
    failed = remediation_actions(drifted, Terminal("ValidationException", "UpdateTable: ..."), set(paths))
    assert {a for a, _ in failed.values()} == {Action.FAILED}
    missing = check(resource(annotations={"ackflow.dev/recreate-missing": "true"}, owned="orders"), None)
    assert remediation_actions(missing, Synced(), set()) == {"": (Action.REMEDIATED, "created again (empty)")}


def test_tags_confirmed_table_by_table_replace_the_bulk_reads_and_say_who_owns_it():
    from ack.normalize import with_tags
    from ack.tags import OWNER_TAG

    stale = live(owner="shop/orders")
    confirmed = with_tags(stale, [{"Key": OWNER_TAG, "Value": "other/orders"}, {"Key": "team", "Value": "a"}])
    assert confirmed.owner == "other/orders"
    assert [(t.key, t.value) for t in confirmed.observed.spec.tags] == [(OWNER_TAG, "other/orders"), ("team", "a")]
    # Everything but the tags is as the table was read.
    assert confirmed.observed.spec.model_copy(update={"tags": None}) == stale.observed.spec.model_copy(
        update={"tags": None})
    assert (confirmed.describe, confirmed.observed.arn) == (stale.describe, stale.observed.arn)
