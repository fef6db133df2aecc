"""The controller's own tags on each table, as ACK writes them (docs/ack-table.md, "Tags").

ACK tags every resource it manages with the tags of its `--resource-tags` flag (by default
`services.k8s.aws/controller-version` and `services.k8s.aws/namespace`), values expanded from templates; tools
that compare tags leave out the controller's own by the `services.k8s.aws/` prefix. Ownership is recorded the
same way: `services.k8s.aws/resource: NAMESPACE/NAME`, under that prefix, so it is never taken for a user's tag.
Tables tagged before with the former ownership tag `ackflow.dev/resource` are recognised and retagged.
"""

from __future__ import annotations

from dataclasses import dataclass

OWNER_TAG = "services.k8s.aws/resource"
LEGACY_OWNER_TAG = "ackflow.dev/resource"  # the ownership tag of ackflow 0.1; moved to OWNER_TAG on reconcile
# AWS's own tags, the controller's (ACK's convention) and this project's: never the spec's, so never drift.
SYSTEM_TAG_PREFIXES = ("aws:", "services.k8s.aws/", "ackflow.dev/")

# ACK's defaults, in the syntax of its --resource-tags flag (and of the ACK_RESOURCE_TAGS variable its chart sets).
DEFAULT_RESOURCE_TAGS = ("services.k8s.aws/controller-version=%CONTROLLER_SERVICE%-%CONTROLLER_VERSION%,"
                         "services.k8s.aws/namespace=%K8S_NAMESPACE%")
CONTROLLER_SERVICE = "dynamodb"
TEMPLATE_VARIABLES = ("%CONTROLLER_SERVICE%", "%CONTROLLER_VERSION%", "%K8S_NAMESPACE%", "%K8S_RESOURCE_NAME%")


def is_user_tag(key: str) -> bool:
    return not key.startswith(SYSTEM_TAG_PREFIXES)


def owner_of(tags: dict[str, str]) -> str | None:
    """The resource ("namespace/name") a table's tags say manages it, by the ownership tag or its former name."""
    return tags.get(OWNER_TAG) or tags.get(LEGACY_OWNER_TAG)


@dataclass(frozen=True)
class ResourceTags:
    """The tags of `--resource-tags`: (key, value template) pairs."""

    templates: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str, source: str = "--resource-tags") -> ResourceTags:
        """ACK's syntax: comma-separated KEY=VALUE; empty means none. Where ACK skips an item it cannot read,
        this refuses it, naming `source` and the item."""
        pairs = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = (part.strip() for part in item.partition("="))
            if not sep or not key or not value or "=" in value:
                raise ValueError(f"{source}: {item!r} is not KEY=VALUE (comma-separated, one '=' each)")
            if key.startswith("aws:"):
                raise ValueError(f"{source}: {key!r}: the \"aws:\" prefix is reserved for AWS")
            pairs.append((key, value))
        return cls(tuple(pairs))

    def render(self, namespace: str, name: str, version: str) -> dict[str, str]:
        """The tags for the resource `namespace/name`, templates expanded (%CONTROLLER_VERSION%: `version`)."""
        values = dict(zip(TEMPLATE_VARIABLES, (CONTROLLER_SERVICE, version, namespace, name)))
        rendered = {}
        for key, template in self.templates:
            for variable, value in values.items():
                template = template.replace(variable, value)
            rendered[key] = template
        return rendered


def controller_tags(resource_tags: dict[str, str], spec_tags: dict[str, str], owner: str) -> dict[str, str]:
    """The tags the controller keeps on a table: the resource tags (the spec's own value wins, as in ACK) and the
    ownership tag (always the resource's)."""
    return {**{key: spec_tags.get(key, value) for key, value in resource_tags.items()}, OWNER_TAG: owner}


def retag(live: dict[str, str], wanted: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """What to tag and untag so that the table carries `wanted` (and no former ownership tag)."""
    tag = {key: value for key, value in wanted.items() if live.get(key) != value}
    untag = [LEGACY_OWNER_TAG] if LEGACY_OWNER_TAG in live else []
    return tag, untag
