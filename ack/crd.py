"""The CustomResourceDefinitions of the kinds served (ack/kinds.py), generated from their pydantic models.

The output is a structural schema a v1.20 kube-apiserver accepts: every node typed, no $ref and no
anyOf/oneOf/allOf, `required` and `enum` where the models have them, and no CEL rules (v1.20 has none;
immutability is checked by ack.validate instead). Optional fields are simply not required: v1.20
prunes nulls from fields that are not nullable, so a null means the same as an absent field.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from typing import Any

from pydantic import BaseModel

from ack.kinds import KINDS, TABLE, Kind

_KUBE_FIELDS = {
    "apiVersion": {"type": "string", "description": "The versioned schema of this representation of an object."},
    "kind": {"type": "string", "description": "The REST resource this object represents."},
    "metadata": {"type": "object"},
}


_LIMITS = ("minLength", "maxLength", "pattern", "minimum", "maximum", "minItems", "maxItems")


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a model, from its pydantic JSON schema."""
    schema = model.model_json_schema(by_alias=True)
    return _structural(schema, schema.get("$defs", {}))


def _structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = _resolve(node, defs)
    kind = node.get("type")
    if kind is None:
        raise ValueError(f"no structural type for schema node {node}")
    out: dict[str, Any] = {"type": kind}
    if "description" in node:
        out["description"] = node["description"]
    if "enum" in node:
        out["enum"] = list(node["enum"])
    # Limits the API server checks itself (pydantic and OpenAPI v3 share these names).
    out.update({key: node[key] for key in _LIMITS if key in node})
    if kind == "integer":
        out["format"] = "int64"
    elif "format" in node:
        out["format"] = node["format"]
    if kind == "array":
        out["items"] = _structural(node["items"], defs)
    if kind == "object":
        if "properties" in node:
            out["properties"] = {name: _structural(sub, defs) for name, sub in node["properties"].items()}
        if isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = _structural(node["additionalProperties"], defs)
    if node.get("required"):
        out["required"] = list(node["required"])
    return out


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref`s and collapse pydantic's `X | None` (anyOf [X, null]) into X.

    Keys next to a `$ref` or `anyOf` (the field's own description) win over the target's (the class
    docstring), so each field keeps its own description.
    """
    outer = {key: value for key, value in node.items() if key not in ("$ref", "anyOf")}
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return _resolve({**target, **outer}, defs)
    if "anyOf" in node:
        variants = [variant for variant in node["anyOf"] if variant.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"a union has no structural form: {node}")
        return _resolve({**variants[0], **outer}, defs)
    return node


def crd(kind: Kind = TABLE) -> dict[str, Any]:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) of `kind`."""
    root = {
        "type": "object",
        "description": inspect.getdoc(kind.model),
        "required": ["spec"],
        "properties": {**_KUBE_FIELDS, "spec": openapi_schema(kind.spec), "status": openapi_schema(kind.status)},
    }
    version: dict[str, Any] = {"name": kind.version, "served": True, "storage": True, "subresources": {"status": {}}}
    if kind.printer_columns:
        version["additionalPrinterColumns"] = list(kind.printer_columns)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": kind.group,
            "names": {"kind": kind.kind, "listKind": kind.list_kind, "plural": kind.plural,
                      "singular": kind.singular},
            "scope": "Namespaced",
            "versions": [{**version, "schema": {"openAPIV3Schema": root}}],
        },
    }


# The server adds defaults to what it stores, so what was installed is told by a digest of what was generated.
SCHEMA_DIGEST = "ackflow.dev/schema-digest"


def crd_manifest(kind: Kind = TABLE) -> dict[str, Any]:
    """crd(kind) as it is installed: with the digest of its schema, by which an install recognises it as current
    (the controller chart's crds/ holds these, written by `python -m ack.crd DIR`)."""
    manifest = crd(kind)
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    manifest["metadata"]["annotations"] = {SCHEMA_DIGEST: digest}
    return manifest


# Words YAML 1.1 reads as booleans. Helm and kubectl read YAML 1.1 (an unquoted enum value N is false there);
# PyYAML writes some of them bare, as YAML 1.2 allows.
YAML11_BOOLEANS = frozenset("y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF".split())


def crd_yaml(kind: Kind = TABLE) -> str:
    """crd_manifest(kind) as the YAML file the chart holds, every string a YAML 1.1 reader would take for a boolean
    quoted."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"' if value in YAML11_BOOLEANS else None)

    Dumper.add_representer(str, text)
    return yaml.dump(crd_manifest(kind), Dumper=Dumper, sort_keys=False)


def crd_file(kind: Kind) -> str:
    """The file name of `kind`'s CRD in the chart's crds/ folder."""
    return f"{kind.plural}.yaml"


if __name__ == "__main__":  # python -m ack.crd deploy/charts/ackflow-controller/crds
    import sys
    from pathlib import Path

    for served in KINDS.values():
        (Path(sys.argv[1]) / crd_file(served)).write_text(crd_yaml(served), encoding="utf-8")
