"""The C2PA manifest store as a tree a person reads (like ``c2patool``): each manifest with its
claim generator, signer, assertions and actions, ingredients under the manifest that used them,
and the validation codes, failures said in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fakescope_cli.evidence.c2pa_check import plain_failure

MAX_DEPTH = 8  # ingredients of ingredients ...
MAX_CHILDREN = 100
MAX_NODES = 5000  # the whole tree: a crafted store must not make the walk explode


@dataclass
class Node:
    label: str
    children: list[Node] = field(default_factory=list)

    def add(self, label: str) -> Node:
        child = Node(label)
        if len(self.children) < MAX_CHILDREN:
            self.children.append(child)
        return child

    def lines(self, indent: str = "") -> list[str]:
        """The tree as indented text (for tests and plain output)."""
        out = [indent + self.label]
        for child in self.children:
            out += child.lines(indent + "  ")
        return out


def _generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name", "?"), info[0].get("version")
        return f"{name} {version}" if version else str(name)
    return str(manifest.get("claim_generator") or "unknown")


def _manifest_node(parent: Node, label: str, manifests: dict[str, Any], depth: int, seen: set[str]) -> None:
    """One manifest and, below it, its ingredients' manifests; each manifest is expanded once in
    the whole tree (``seen`` is shared), so the walk is linear in the store's size."""
    manifest = manifests.get(label)
    if not isinstance(manifest, dict):
        parent.add(f"manifest {label}: not in this file's store")
        return
    node = parent.add(f"manifest {label}")
    if label in seen or depth > MAX_DEPTH or len(seen) * MAX_CHILDREN > MAX_NODES:
        node.add("(shown above)" if label in seen else "(not expanded: the tree is deep or large)")
        return
    seen.add(label)
    node.add(f"title: {manifest.get('title', '')}")
    node.add(f"claim generator: {_generator(manifest)}")
    signature = manifest.get("signature_info") or {}
    if isinstance(signature, dict):
        who = signature.get("common_name") or "unknown"
        node.add(
            f"signed by: {who} (issuer {signature.get('issuer', 'unknown')}, {signature.get('alg', '?')})"
        )
        if signature.get("time"):
            node.add(f"signed at: {signature['time']}")
    assertions = node.add("assertions")
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        entry = assertions.add(str(assertion.get("label", "?")))
        data = assertion.get("data")
        actions = data.get("actions") if isinstance(data, dict) else None
        for action in actions if isinstance(actions, list) else []:
            if isinstance(action, dict):
                source = str(action.get("digitalSourceType", "")).rsplit("/", 1)[-1]
                entry.add(
                    f"{action.get('action', '?')}" + (f" (digitalSourceType {source})" if source else "")
                )
    ingredients = [i for i in manifest.get("ingredients") or [] if isinstance(i, dict)]
    if ingredients:
        used = node.add("ingredients")
        for ingredient in ingredients:
            item = used.add(f"{ingredient.get('title', '?')} ({ingredient.get('relationship', '?')})")
            inner = ingredient.get("active_manifest")
            if isinstance(inner, str):
                _manifest_node(item, inner, manifests, depth + 1, seen)


def store_tree(store: dict[str, Any]) -> Node:
    """The tree of a manifest store as c2pa-python reports it."""
    manifests = store.get("manifests") if isinstance(store.get("manifests"), dict) else {}
    root = Node(f"C2PA manifest store: {store.get('validation_state', 'unknown')}")
    active = store.get("active_manifest")
    if isinstance(active, str):
        _manifest_node(root, active, manifests or {}, 0, set())
    others = [label for label in manifests or {} if label != active]
    if others:
        root.add(f"{len(others)} more manifest(s) in the store (ingredients' history)")
    codes = [s for s in store.get("validation_status") or [] if isinstance(s, dict)]
    status = root.add("validation status" if codes else "validation status: no problems reported")
    for code in codes:
        text = str(code.get("code", "?"))
        words = plain_failure([text])
        status.add(text + (f": {words}" if words else f" ({code.get('explanation', '')})"))
    return root
