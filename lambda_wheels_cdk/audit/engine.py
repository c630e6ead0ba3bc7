"""The bundle audit: does every file in a function bundle (and its layers) run on the target?

Two steps, kept apart:

1. :func:`collect` reads facts -- file sizes, what each file is by its first bytes, ELF load-time
   facts (:mod:`.elf`), ``*.dist-info`` names, ``WHEEL`` tags and ``RECORD`` ownership -- from
   folders or zips (zips are read with :mod:`zipfile`, never extracted). All I/O is here.
2. :func:`evaluate` turns those facts and a :class:`~.target.Target` into an
   :class:`AuditReport`. Pure: the policy tables are :mod:`.data` and :mod:`.runtimes`.

:func:`audit` runs both. Every finding names the distribution, the file, the reason in plain
words and the fix; the report holds all of them at once, grouped per distribution.

Where things live on Lambda (and so what the audit resolves ``DT_NEEDED`` against): the
function at ``/var/task``, layers merged at ``/opt``; Python imports from ``/var/task``,
``/opt/python`` and ``/opt/python/lib/python3.X/site-packages``; the loader searches
``LD_LIBRARY_PATH`` (which includes ``/var/task``, ``/var/task/lib`` and ``/opt/lib``), then
``DT_RUNPATH``. A layer may hold one install per Python version under
``python/lib/python3.Z/``: only the target's subtree (and ``python/`` itself) is audited, the
others count for size only.

Safe on anything, other people's zips included: a symbolic link is listed with its target text
and never followed (:mod:`.audit_links` works out where it leads from the listing); a named
pipe, socket or device is listed and never opened; a zip member is read through
:class:`~.zip_member.BoundedMember` (bounded memory, a capped number of bytes unzipped per
member and per zip), and a member that alone declares more than Lambda's 250 MiB is reported
without being unzipped.

Where each part lives: :mod:`.model` (report and facts), :mod:`.collect` (readers),
:mod:`.rules` (evaluation); this module is the entry point.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence

from ..errors import UsageError
from ..target.target import Target
from .collect import collect_tree, open_tree
from .model import KINDS, AuditReport, BundleFacts, BundleKind, TreeFacts
from .rules import evaluate


def collect(
    root: str | os.PathLike[str],
    *,
    python: tuple[int, int],
    layers: Sequence[str | os.PathLike[str]] = (),
    kind: BundleKind = "function",
) -> BundleFacts:
    """Read the facts of a bundle (folder or zip) and its layers; no judgement.

    Args:
        root: the function bundle (or a layer, with ``kind="layer"``): a folder or a zip.
        python: the target's Python version; decides which subtrees of a layer are audited.
        layers: the layers the function uses, in order: folders or zips.
        kind: what ``root`` is.

    Raises:
        InputError: a path does not exist, or is neither a folder nor a readable zip.
        UsageError: ``kind`` is not ``"function"``/``"layer"``, or ``layers`` is one path.
    """
    if kind not in KINDS:
        raise UsageError(f"kind must be 'function' or 'layer', not {kind!r}")
    if isinstance(layers, (str, bytes, os.PathLike)):
        raise UsageError(f"layers must be a list of paths, not the single path {layers!r}")
    sources: list[tuple[str | os.PathLike[str], BundleKind, str | None]] = [(root, kind, None)]
    sources += [(layer, "layer", label) for layer, label in zip(layers, _layer_labels(layers))]
    trees: list[TreeFacts] = []
    for path, tree_kind, label in sources:
        with open_tree(path) as reader:
            trees.append(collect_tree(reader, tree_kind, label, python))
    return BundleFacts(tuple(trees))


def audit(
    root: str | os.PathLike[str],
    target: Target,
    *,
    layers: Sequence[str | os.PathLike[str]] = (),
    kind: BundleKind = "function",
    built_for_target: Collection[str] = (),
) -> AuditReport:
    """Audit a function bundle (or a layer) and its layers for a Lambda target.

    Args:
        root: a folder or a ``.zip``; a function has its packages at its root, a layer under
            ``python/`` and/or ``python/lib/python3.X/site-packages/``.
        target: the runtime and architecture the bundle must run on.
        layers: the layers the function uses, in attach order (folders or zips).
        kind: ``"function"`` (default) or ``"layer"`` -- what ``root`` is.
        built_for_target: names of distributions compiled in the target's own build image
            (lambda-wheels' Docker path): their ``linux_<arch>`` WHEEL tag is expected, so it is
            not judged; their binaries are checked like every other file.

    Returns:
        every finding; call :meth:`AuditReport.raise_for_errors` to fail on errors.

    Raises:
        InputError: a path does not exist, or is neither a folder nor a readable zip.
        UsageError: ``kind`` is not ``"function"``/``"layer"``, or ``layers`` is one path.
    """
    facts = collect(root, python=target.python, layers=layers, kind=kind)
    return evaluate(facts, target, built_for_target=built_for_target)


def _layer_labels(layers: Sequence[str | os.PathLike[str]]) -> list[str]:
    labels: list[str] = []
    for layer in layers:
        name = os.path.basename(os.path.normpath(os.fspath(layer))) or os.fspath(layer)
        label, n = name, 1
        while label in labels:
            n += 1
            label = f"{name}#{n}"
        labels.append(label)
    return labels


#: The entry points and the types of their results; the rest of the audit's vocabulary
#: (findings, facts) is in :mod:`.model`.
__all__ = ["AuditReport", "BundleFacts", "BundleKind", "audit", "collect", "evaluate"]
