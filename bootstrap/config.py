"""The bootstrap's configuration: one typed model of the YAML file, and errors that name the field.

`load_config(path)` is the only I/O here: it reads the file and checks that the Table manifests it
names exist and are Table manifests, so a bad configuration is refused before anything is created.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ack.manifests import ManifestError, parse_manifests
from ack.trail import DEFAULT_QUEUE

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "default.yaml"

# The only retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
# Subnets the network provides (two zones); MSK wants a broker count that is a multiple of it.
ZONES = 2

RdsEngine = Literal["mysql", "postgres", "aurora-mysql", "aurora-postgresql"]


class ConfigError(ValueError):
    """A configuration that cannot be used; `problems` holds one "field: what is wrong" line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(_Model):
    enabled: bool = True


class NetworkConfig(Section):
    use_default_vpc: bool = Field(True, description="Use the account's default VPC when it has one.")
    cidr: str = Field("10.42.0.0/16", description="CIDR of the VPC made when the default one is not used.")

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError:
            raise ValueError("must be an IPv4 network such as 10.42.0.0/16") from None
        if not 16 <= network.prefixlen <= 24:  # AWS allows /16../28; two subnets of a quarter each need /24 at most
            raise ValueError("the prefix length must be between /16 and /24")
        return value


class EksConfig(Section):
    version: str = Field("1.31", pattern=r"^1\.\d{2}$", description="Kubernetes version of the control plane.")
    node_instance_type: str = Field("t3.medium", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    desired_size: int = Field(2, ge=1, le=10, description="Nodes of the managed node group.")


class RdsConfig(Section):
    engine: RdsEngine = "postgres"
    engine_version: str | None = Field(None, description="None: the engine's default version.")
    instance_class: str = Field("db.t4g.micro", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    allocated_storage: int = Field(20, ge=20, le=65536, description="GiB; Aurora grows its storage itself.")

    @model_validator(mode="after")
    def _aurora_size(self) -> RdsConfig:
        if self.engine.startswith("aurora") and self.instance_class.endswith((".micro", ".small")):
            raise ValueError(f"instance_class: {self.engine} needs db.t4g.medium or larger "
                             f"(got {self.instance_class!r})")
        return self


class DocdbConfig(Section):
    enabled: bool = False
    instance_class: str = Field("db.t3.medium", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    instances: int = Field(1, ge=1, le=16)


class DynamodbConfig(Section):
    manifests: list[Path] = Field(
        default_factory=lambda: [Path("manifests/orders-table.yaml"), Path("manifests/sessions-table.yaml")],
        description="Table manifests applied through the ACK workflow; relative to the working directory.",
    )


class CodepipelineConfig(Section):
    source_key: str = Field("source/app.zip", min_length=1, description="S3 key in the artifacts bucket.")
    build_image: str = "aws/codebuild/standard:7.0"
    compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = (
        "BUILD_GENERAL1_SMALL"
    )


class MskConfig(Section):
    kafka_version: str = Field("3.6.0", pattern=r"^\d+\.\d+\.\d+(\.x)?$")
    broker_instance_type: str = Field("kafka.t3.small", pattern=r"^kafka\.[a-z0-9]+\.[a-z0-9]+$")
    brokers: int = Field(2, ge=ZONES, le=30)
    broker_storage_gib: int = Field(10, ge=1, le=16384)

    @field_validator("brokers")
    @classmethod
    def _brokers(cls, value: int) -> int:
        if value % ZONES:
            raise ValueError(f"must be a multiple of {ZONES}, the number of zones the network spans")
        return value


class AppmeshConfig(Section):
    pass


class ApigatewayConfig(Section):
    pass


class AlarmThresholds(_Model):
    node_cpu_percent: float = Field(80, gt=0, le=100)
    node_memory_percent: float = Field(80, gt=0, le=100)
    database_cpu_percent: float = Field(80, gt=0, le=100)


class CloudwatchConfig(Section):
    log_retention_days: int = 14
    alarms: AlarmThresholds = AlarmThresholds()

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            raise ValueError(f"must be one of CloudWatch Logs' retention periods: {allowed}")
        return value


class StorageConfig(Section):
    ebs_size_gib: int = Field(10, ge=1, le=16384)
    ebs_volume_type: Literal["gp3", "gp2"] = "gp3"
    efs: bool = True


class EcrConfig(Section):
    repository: str = Field("app", pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$", description="Named PREFIX/REPOSITORY.")
    scan_on_push: bool = True
    keep_last_images: int = Field(10, ge=1, le=1000)


class S3Config(Section):
    pass


class DriftEventsConfig(Section):
    queue: str = Field(DEFAULT_QUEUE, pattern=r"^[A-Za-z0-9_-]{1,76}$",
                       description="The SQS queue the controller reads (`flows.watch --drift-events`); its dead-letter "
                                   "queue is QUEUE-dlq, the EventBridge rule is named QUEUE.")


# What each service needs from the others (the flow's DAG follows the same edges).
NEEDS: dict[str, tuple[str, ...]] = {
    "eks": ("network",),
    "rds": ("network",),
    "docdb": ("network",),
    "msk": ("network",),
    "storage": ("network",),
    "codepipeline": ("s3", "ecr", "eks"),
}


class BootstrapConfig(_Model):
    prefix: str = Field(description="Starts every name the bootstrap gives, and is the ownership tag's value.")
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    target: Literal["sandbox", "aws"] = "sandbox"
    network: NetworkConfig = NetworkConfig()
    eks: EksConfig = EksConfig()
    rds: RdsConfig = RdsConfig()
    docdb: DocdbConfig = DocdbConfig()
    dynamodb: DynamodbConfig = DynamodbConfig()
    codepipeline: CodepipelineConfig = CodepipelineConfig()
    msk: MskConfig = MskConfig()
    appmesh: AppmeshConfig = AppmeshConfig()
    apigateway: ApigatewayConfig = ApigatewayConfig()
    cloudwatch: CloudwatchConfig = CloudwatchConfig()
    storage: StorageConfig = StorageConfig()
    ecr: EcrConfig = EcrConfig()
    s3: S3Config = S3Config()
    drift_events: DriftEventsConfig = DriftEventsConfig()

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        # Every service's naming rules at once: RDS wants a leading letter and no "--", S3 lowercase.
        if not re.fullmatch(r"[a-z](?:[a-z0-9]|-(?!-)){1,18}[a-z0-9]", value):
            raise ValueError("must be 3-20 lowercase letters, digits or single hyphens, starting with a letter "
                             "and not ending with a hyphen")
        return value

    @model_validator(mode="after")
    def _dependencies(self) -> BootstrapConfig:
        problems = [
            f"{service}.enabled: needs {need}.enabled: true"
            for service, needs in NEEDS.items()
            if getattr(self, service).enabled
            for need in needs
            if not getattr(self, need).enabled
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_config(path: str | Path = DEFAULT_CONFIG, base_dir: Path | None = None) -> BootstrapConfig:
    """The configuration in `path`; ConfigError naming the file and each bad field.

    Relative manifest paths are resolved against `base_dir` (default: the working directory, as for
    `flows.apply -f`) and returned absolute.
    """
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(source, [f"cannot be read: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(source, [f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(source, [f"the configuration must be a mapping of settings, not {kind}"])
    try:
        config = BootstrapConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(error) for error in exc.errors()]) from None
    if not config.dynamodb.enabled:
        return config
    base = base_dir or Path.cwd()
    manifests, problems = [], []
    for index, manifest in enumerate(config.dynamodb.manifests):
        resolved = manifest if manifest.is_absolute() else base / manifest
        try:
            kinds = {doc["kind"] for doc in parse_manifests(resolved.read_text(), str(manifest))}
            if kinds != {"Table"}:
                others = ", ".join(sorted(kinds - {"Table"}))
                problems.append(f"dynamodb.manifests[{index}]: {manifest} holds {others}; only Table manifests "
                                "belong here (apply others with python -m flows.apply)")
        except OSError as exc:
            problems.append(f"dynamodb.manifests[{index}]: cannot read {manifest}: {exc.strerror or exc}")
        except ManifestError as exc:
            problems.append(f"dynamodb.manifests[{index}]: {exc}")
        manifests.append(resolved.resolve())
    if problems:
        raise ConfigError(source, problems)
    return config.model_copy(update={"dynamodb": config.dynamodb.model_copy(update={"manifests": manifests})})


def _describe(error: dict[str, Any]) -> str:
    """One pydantic error as "rds.engine: Input should be ... (got 'oracle')"."""
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    if path and (field := re.match(r"(\w+): ", message)):  # a section's own check naming one of its fields
        path, message = f"{path}.{field[1]}", message[field.end():]
    if error["type"] == "extra_forbidden":
        message = "unknown setting (not one of this section's fields)"
    elif error["type"] != "missing" and path and not isinstance(error["input"], dict | list):
        message += f" (got {error['input']!r})"
    return f"{path}: {message}" if path else message
