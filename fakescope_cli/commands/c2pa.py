"""`fakescope c2pa IMAGE`: the Content Credentials (C2PA manifest store) of one file as a tree."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from fakescope_cli.commands._common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_UNREADABLE,
    C2paTrustOption,
    error_line,
    read_trust_anchors,
    safe,
    stdout,
)


def c2pa(
    image: Annotated[Path, typer.Argument(help="The image whose Content Credentials to show.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest store as JSON.")] = False,
    c2pa_trust: C2paTrustOption = None,
) -> None:
    """Manifests, signer, assertions, ingredients and validation codes, as `c2patool` shows them;
    a failed validation is said in plain words. Exit 0 with or without a store, 3 if unreadable."""
    from rich.tree import Tree

    from fakescope_cli.evidence.c2pa_check import has_store_marker, read_manifest_store
    from fakescope_cli.evidence.c2pa_tree import Node, store_tree
    from fakescope_cli.imageio import read_image_file, sniff_format

    trust = read_trust_anchors(c2pa_trust)
    if not image.exists():
        error_line(f"{image}: no such file")
        raise typer.Exit(EXIT_ERROR)  # a usage error, as in every other command
    try:
        data = read_image_file(image)
    except Exception as exc:
        error_line(str(exc))
        raise typer.Exit(EXIT_UNREADABLE) from None
    image_format = sniff_format(data[:16]) or "unknown"
    try:
        store = read_manifest_store(data, image_format, trust)
    except ValueError as exc:
        damaged = has_store_marker(data)
        error_line(
            f"{image}: "
            + (f"C2PA data present but unreadable ({exc})" if damaged else f"cannot be read ({exc})")
        )
        raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        sys.stdout.write(
            json.dumps({"path": str(image), "store": store}, indent=2, ensure_ascii=False) + "\n"
        )
        raise typer.Exit(EXIT_OK)
    if store is None:
        stdout.print(f"{safe(image)}: no Content Credentials (C2PA) in this file")
        raise typer.Exit(EXIT_OK)
    tree = store_tree(store)
    if not stdout.is_terminal:  # piped: indented lines, never wrapped
        stdout.print(f"{safe(image)}: {safe(tree.label)}")
        for line in tree.lines()[1:]:
            stdout.print(safe(line))
        raise typer.Exit(EXIT_OK)

    def build(node: Node, into: Tree) -> None:
        for child in node.children:
            build(child, into.add(safe(child.label)))

    root = Tree(f"[bold]{safe(image)}[/]: {safe(tree.label)}")
    build(tree, root)
    stdout.print(root)
    raise typer.Exit(EXIT_OK)
