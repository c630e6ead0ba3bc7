"""Findings about links (never followed) and zip members the audit did not unzip (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ..events import counted
from .collect import TREE_UNZIP_BUDGET
from .links import MAX_LINKS, LinkEnd, follow, link_above
from .model import (
    Finding,
    TreeFacts,
)

_LINK_ZIPS = (
    "CDK's zip of a folder asset stores a copy of what a link points to, read on the machine "
    "that runs cdk deploy, while a zip made with links kept (zip -y) holds the link itself, "
    "which Lambda resolves in its own file system (AWS does not document how Lambda unzips "
    "links)"
)
LINK_FIX = (
    "replace the link with a copy of the file the function needs (cp -L, or zip without -y), "
    "or delete it; a bundle must not point outside itself"
)


def link_findings(tree: TreeFacts) -> list[Finding]:
    """Every symbolic link: an error when it leaves the bundle or loops, a warning otherwise;
    and every zip member written through a linked folder, an error."""
    links = {f.path: f.link for f in tree.files if f.link is not None}
    if not links:
        return []
    files = {f.path for f in tree.files if f.link is None}
    folders = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}
    findings: list[Finding] = []
    for f in tree.files:
        shown = tree.display(f.path)
        owner = tree.owners.get(f.path)
        above = link_above(f.path, links)
        if above is not None:
            into = _link_end_words(follow(above, links), files, folders)
            findings.append(
                Finding(
                    "error",
                    owner,
                    shown,
                    "symlink",
                    f"{shown} lies under {tree.display(above)}, which the zip also holds as a "
                    f"symbolic link to {links[above]!r}; an unzip tool that makes the link "
                    f"first writes this file through it, {into}",
                    "rebuild the zip from a folder without links: a zip must not hold both a "
                    "link and files under the link's path",
                )
            )
        elif f.link is not None:
            findings.append(_link_finding(f.path, f.link, owner, tree, links, files, folders))
    return findings


def _link_finding(
    path: str,
    target: str,
    owner: str | None,
    tree: TreeFacts,
    links: Mapping[str, str],
    files: Collection[str],
    folders: Collection[str],
) -> Finding:
    shown = tree.display(path)
    end = follow(path, links)
    where = _link_end_words(end, files, folders)
    if end.kind != "inside":
        return Finding(
            "error",
            owner,
            shown,
            "symlink",
            f"{shown} is a symbolic link to {target!r}, {where}; {_LINK_ZIPS}",
            LINK_FIX,
        )
    if end.path not in files and end.path not in folders and end.path:
        fix = "delete the link, or put the file it should point to in the bundle"
    else:
        fix = (
            "replace the link with a copy of what it points to (cp -L, or zip without -y), so "
            "that every way of zipping ships the same files"
        )
    return Finding(
        "warning",
        owner,
        shown,
        "symlink",
        f"{shown} is a symbolic link to {target!r}, {where}; {_LINK_ZIPS}",
        fix,
    )


def _link_end_words(end: LinkEnd, files: Collection[str], folders: Collection[str]) -> str:
    if end.kind == "loop":
        return f"which loops: no file is reached after {MAX_LINKS} links, outside the bundle"
    if end.kind == "outside":
        if end.path == "..":
            return "which leads outside the bundle (through '..')"
        return f"the absolute path {end.path}, outside the bundle"
    if end.path in files:
        return f"the file {end.path} in the bundle"
    if not end.path or end.path in folders:
        return f"the folder {end.path or '.'} in the bundle"
    return f"which points to nothing in the bundle ({end.path} is missing)"


def unread_findings(tree: TreeFacts) -> list[Finding]:
    if not tree.unread:
        return []
    shown = tree.display(".")
    where = "the zip" if tree.label is None else f"layer {tree.label}"
    declared = sum(f.size for f in tree.files)
    listed = ", ".join(tree.unread[:3]) + (", ..." if len(tree.unread) > 3 else "")
    return [
        Finding(
            "error",
            None,
            shown,
            "zip-bomb",
            f"{where} made the audit unzip {TREE_UNZIP_BUDGET:,} bytes, its cap (four times "
            f"Lambda's 250 MiB), before every file was read: {counted(len(tree.unread), 'file')} "
            f"were not inspected ({listed}); its members declare {declared:,} bytes unzipped",
            "if the zip is yours, make it smaller: no Lambda bundle unzips to this much; if it "
            "is not, treat it as hostile (a zip bomb) and do not unzip it",
        )
    ]
