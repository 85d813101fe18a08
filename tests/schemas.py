"""Validate JSON output against the versioned schemas kept in fakescope_cli/schemas/."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource


@cache
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    schemas = {}
    registry: Registry = Registry()
    for name in ("result", "scan", "report"):
        text = (resources.files("fakescope_cli") / "schemas" / f"{name}.schema.json").read_text()
        schema = json.loads(text)
        schemas[name] = schema
        resource = Resource.from_contents(schema)
        registry = registry.with_resources([(f"{name}.schema.json", resource), (schema["$id"], resource)])
    return registry, schemas


def validate(document: Any, schema_name: str) -> None:
    """Raise jsonschema.ValidationError when ``document`` does not follow the named schema."""
    registry, schemas = _registry()
    validator = Draft202012Validator(schemas[schema_name], registry=registry, format_checker=FormatChecker())
    validator.validate(document)
