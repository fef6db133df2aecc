"""Manifests as users write them (Table, Backup, FieldExport): YAML text, one or more documents, checked before
anything is sent."""

from __future__ import annotations

from typing import Any

import yaml

from ack.kinds import KINDS, kind_named


class ManifestError(ValueError):
    """A manifest that cannot be applied; the message names the source, the document and the field."""


def parse_manifests(text: str, source: str) -> list[dict[str, Any]]:
    """Every document of `text` that is not empty, each of a kind served; all are checked before any is returned."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{source}: not valid YAML{where}: {problem}") from None
    if not documents:
        raise ManifestError(f"{source}: no manifest in it")
    for index, doc in enumerate(documents, start=1):
        where = f"{source} (document {index})" if len(documents) > 1 else source
        if not isinstance(doc, dict):
            raise ManifestError(f"{where}: a manifest must be a mapping, not a {type(doc).__name__}")
        if kind_named(doc.get("apiVersion"), doc.get("kind")) is None:
            served = ", ".join(f"{kind.api_version}/{kind.kind}" for kind in KINDS.values())
            raise ManifestError(
                f"{where}: apiVersion/kind is {doc.get('apiVersion')!r}/{doc.get('kind')!r}; only {served} can be "
                "applied here"
            )
        metadata = doc.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
            raise ManifestError(f"{where}: metadata.name: Required value")
        if not isinstance(doc.get("spec"), dict):
            raise ManifestError(f"{where}: spec: Required value (a mapping)")
    return documents
