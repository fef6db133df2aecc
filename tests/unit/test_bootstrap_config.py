"""The bootstrap's configuration: the shipped default loads, and every bad one is refused naming its field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ack.model import Table
from ack.validate import validate
from ack.field_export import FieldExport
from bootstrap import cluster_manifests
from bootstrap.config import DEFAULT_CONFIG, BootstrapConfig, ConfigError, load_config

ROOT = DEFAULT_CONFIG.parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    return path


def test_the_default_configuration_loads() -> None:
    config = load_config(DEFAULT_CONFIG, base_dir=ROOT)
    assert config.prefix == "ackflow-demo" and config.region == "us-east-1" and config.target == "sandbox"
    assert config.rds.engine == "postgres" and not config.docdb.enabled
    enabled = [name for name in BootstrapConfig.model_fields if getattr(getattr(config, name), "enabled", False)]
    assert set(enabled) == {"network", "eks", "rds", "dynamodb", "codepipeline", "msk", "appmesh", "apigateway",
                            "cloudwatch", "storage", "ecr", "s3", "drift_events"}
    assert config.drift_events.queue == "ackflow-drift-events"
    assert config.dynamodb.manifests == [ROOT / "manifests/orders-table.yaml", ROOT / "manifests/sessions-table.yaml"]


def test_the_default_file_says_what_the_model_defaults_say() -> None:
    """The YAML documents the defaults: the two must not drift apart."""
    loaded, defaults = load_config(DEFAULT_CONFIG, base_dir=ROOT), BootstrapConfig(prefix="ackflow-demo")
    assert loaded.model_dump(exclude={"dynamodb"}) == defaults.model_dump(exclude={"dynamodb"})
    assert [p.relative_to(ROOT) for p in loaded.dynamodb.manifests] == defaults.dynamodb.manifests


@pytest.mark.parametrize("path", sorted((ROOT / "manifests").glob("*.yaml")), ids=lambda p: p.stem)
def test_the_shipped_table_manifests_are_valid_tables(path: Path) -> None:
    table = Table.model_validate(yaml.safe_load(path.read_text()))
    assert validate(table.spec) == []


def test_the_manifests_cover_on_demand_with_gsi_ttl_pitr_and_provisioned_with_tags() -> None:
    orders, sessions = (Table.model_validate(yaml.safe_load((ROOT / f"manifests/{n}-table.yaml").read_text())).spec
                        for n in ("orders", "sessions"))
    assert orders.billing_mode == "PAY_PER_REQUEST" and orders.global_secondary_indexes
    assert orders.time_to_live.enabled and orders.continuous_backups.point_in_time_recovery_enabled
    assert sessions.billing_mode == "PROVISIONED" and sessions.tags
    assert (sessions.provisioned_throughput.read_capacity_units, sessions.provisioned_throughput.write_capacity_units) \
        == (5, 5)


def test_relative_manifests_resolve_against_the_base_directory(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text((ROOT / "manifests/sessions-table.yaml").read_text())
    config = load_config(write(tmp_path, "prefix: abc\ndynamodb: {manifests: [t.yaml]}\n"), base_dir=tmp_path)
    assert config.dynamodb.manifests == [tmp_path / "t.yaml"]


BAD = {
    "engine": ("prefix: abc\nrds: {engine: oracle}",
               "rds.engine: Input should be 'mysql', 'postgres', 'aurora-mysql' or 'aurora-postgresql' (got 'oracle')"),
    "prefix-case": ("prefix: Ackflow", "prefix: must be 3-20 lowercase letters, digits or single hyphens"),
    "prefix-long": ("prefix: abcdefghijklmnopqrstu", "prefix: must be 3-20 lowercase letters"),
    "prefix-hyphen": ("prefix: ab--c", "(got 'ab--c')"),
    "prefix-missing": ("region: us-east-1", "prefix: Field required"),
    "unknown-section": ("prefix: abc\nrdss: {}", "rdss: unknown setting"),
    "unknown-field": ("prefix: abc\nrds: {engin: postgres}", "rds.engin: unknown setting"),
    "section-not-mapping": ("prefix: abc\nrds: big", "rds: Input should be a valid dictionary"),
    "nodes": ("prefix: abc\neks: {desired_size: 11}",
              "eks.desired_size: Input should be less than or equal to 10 (got 11)"),
    "retention": ("prefix: abc\ncloudwatch: {log_retention_days: 10}",
                  "cloudwatch.log_retention_days: must be one of CloudWatch Logs' retention periods: 1, 3, 5, 7, 14"),
    "threshold": ("prefix: abc\ncloudwatch: {alarms: {node_cpu_percent: 150}}",
                  "cloudwatch.alarms.node_cpu_percent: Input should be less than or equal to 100 (got 150)"),
    "cidr": ("prefix: abc\nnetwork: {cidr: 10.0.0.0/8}", "network.cidr: the prefix length must be between /16 and /24"),
    "cidr-text": ("prefix: abc\nnetwork: {cidr: somewhere}", "network.cidr: must be an IPv4 network"),
    "target": ("prefix: abc\ntarget: prod", "target: Input should be 'sandbox' or 'aws' (got 'prod')"),
    "region": ("prefix: abc\nregion: useast1", "region: String should match pattern"),
    "brokers": ("prefix: abc\nmsk: {brokers: 3}", "msk.brokers: must be a multiple of 2"),
    "storage-size": ("prefix: abc\nstorage: {ebs_size_gib: 0}", "storage.ebs_size_gib: Input should be greater than"),
    "ecr-images": ("prefix: abc\necr: {keep_last_images: many}",
                   "ecr.keep_last_images: Input should be a valid integer"),
    "aurora-size": ("prefix: abc\nrds: {engine: aurora-postgresql}",
                    "rds.instance_class: aurora-postgresql needs db.t4g.medium or larger (got 'db.t4g.micro')"),
    "needs-network": ("prefix: abc\nnetwork: {enabled: false}\nrds: {enabled: false}\ndocdb: {enabled: false}\n"
                      "msk: {enabled: false}\nstorage: {enabled: false}", "eks.enabled: needs network.enabled: true"),
    "needs-s3": ("prefix: abc\ns3: {enabled: false}", "codepipeline.enabled: needs s3.enabled: true"),
    "manifest-missing": ("prefix: abc\ndynamodb: {manifests: [nope.yaml]}",
                         "dynamodb.manifests[0]: cannot read nope.yaml: No such file or directory"),
    # x.yaml is the configuration file itself: a mapping, but no Table.
    "manifest-not-table": ("prefix: abc\ndynamodb: {manifests: [x.yaml]}",
                           "dynamodb.manifests[0]: x.yaml: apiVersion/kind"),
    "manifest-a-backup": ("prefix: abc\ndynamodb: {manifests: [b.yaml]}",
                          "dynamodb.manifests[0]: b.yaml holds Backup; only Table manifests belong here"),
    "not-yaml": ("prefix: [abc", "x.yaml: not valid YAML at line 1, column 13: expected ',' or ']'"),
    "not-mapping": ("- prefix: abc", "x.yaml: the configuration must be a mapping of settings, not a list"),
    "empty": ("", "x.yaml: the configuration must be a mapping of settings, not empty"),
}


@pytest.mark.parametrize("text, expected", BAD.values(), ids=BAD.keys())
def test_a_bad_configuration_is_refused_naming_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    (tmp_path / "b.yaml").write_text("apiVersion: dynamodb.services.k8s.aws/v1alpha1\nkind: Backup\n"
                                     "metadata: {name: b}\nspec: {backupName: nightly, tableName: orders}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path, base_dir=tmp_path)
    assert str(raised.value).startswith(f"{path}: ")
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)  # the flows print the first line only


def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, "prefix: A\nrds: {engine: oracle}\neks: {desired_size: 0}"), base_dir=tmp_path)
    assert [p.split(":")[0] for p in raised.value.problems] == ["prefix", "eks.desired_size", "rds.engine"]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot be read: No such file or directory"):
        load_config(tmp_path / "nope.yaml")


def test_the_sample_app_reads_each_tables_name_and_arn_through_field_exports() -> None:
    manifests = cluster_manifests.table_exports(["orders", "user-sessions"])
    config_map, *exports = manifests
    assert (config_map["kind"], config_map["metadata"]["name"]) == ("ConfigMap", cluster_manifests.TABLES_CONFIG_MAP)
    assert [(e["spec"]["from"]["resource"]["name"], e["spec"]["from"]["path"], e["spec"]["to"]["key"])
            for e in exports] == [("orders", ".spec.tableName", "ORDERS_TABLE_NAME"),
                                  ("orders", ".status.ackResourceMetadata.arn", "ORDERS_TABLE_ARN"),
                                  ("user-sessions", ".spec.tableName", "USER_SESSIONS_TABLE_NAME"),
                                  ("user-sessions", ".status.ackResourceMetadata.arn", "USER_SESSIONS_TABLE_ARN")]
    for export in exports:  # each one the API server will take: the FieldExport model's own check
        assert FieldExport.model_validate(export).spec.to.name == cluster_manifests.TABLES_CONFIG_MAP
    assert cluster_manifests.sample_app_values("repo", tables=True)["tablesConfigMap"] == "sample-app-tables"
    assert cluster_manifests.sample_app_values("repo", tables=False)["tablesConfigMap"] == ""
