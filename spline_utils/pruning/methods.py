"""The one registry of pruning methods: every name, its kind and where the book uses it.

Four kinds of method carry names in this book, and they share one namespace, so a name means one
thing wherever it appears:

* a **criterion** scores units (:class:`~.criterion.Criterion`; ``unit_scores(model, name)``);
* a **selection** is a criterion with a scope, as Chapter 6's protocol runs it
  (``spline-layerwise``, ``spline-global``; a criterion the protocol runs directly has its scope
  on its own entry);
* a **merge rule** is a node-pruning rule of :mod:`.merging` (Chapter 3's greedy delete-or-merge
  by the spline redundancy bounds);
* a **detector** is an early-bird detector (Chapter 4). Its registry name starts with ``eb-``
  (as the runs of its tickets do, ``eb-spline-slimming-p50``); results files, experiment settings
  and the command line keep their short names ``spline`` and ``mask`` (``recorded_as``), in a
  field of their own.

The names of the other modules are derived from this table: the criteria
(:data:`CRITERIA`), the merge rules (:data:`MERGE_RULES`), the names node pruning accepts
(:func:`node_criteria`), the protocol's methods (:data:`METHODS`, in its order), the rules an
early-bird ticket may be pruned by (:data:`EB_RULES`), the detectors (:data:`DETECTORS`) and a
chapter's methods (:func:`methods_of`). Adding a criterion takes one class and one entry
(:func:`register_criterion`); a name taken by any method of any kind is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

from ..checks import check_choice
from .criterion import Criterion, FromMask, Magnitude, Random, Slimming, SplinePolicy
from .library_criteria import TorchPruningCriterion

__all__ = [
    "CRITERIA",
    "DETECTORS",
    "EB_RULES",
    "MERGE_RULES",
    "METHODS",
    "PruningMethod",
    "REGISTRY",
    "get_criterion",
    "get_method",
    "methods_of",
    "node_criteria",
    "register_criterion",
]

#: the kinds of pruning method
CRITERION, SELECTION, MERGE_RULE, DETECTOR = "criterion", "selection", "merge rule", "detector"
KINDS = (CRITERION, SELECTION, MERGE_RULE, DETECTOR)
#: how Chapter 6's protocol selects units by a method's scores
SCOPES = ("layerwise", "global", "eb-threshold")


@dataclass(frozen=True)
class PruningMethod:
    """One entry of the registry.

    Attributes:
        name: unique over every kind.
        kind: ``"criterion"``, ``"selection"``, ``"merge rule"`` or ``"detector"``.
        does: what it does, in a line (a criterion: what it scores unit ``k`` by).
        literature: its name in the literature, with a reference.
        chapters: the chapters that use it.
        criterion: a criterion's :class:`~.criterion.Criterion` object (``None`` otherwise).
        selects_by: a selection's criterion (its name).
        scope: how Chapter 6's protocol selects by it: ``"layerwise"``, ``"global"`` or
            ``"eb-threshold"`` (network slimming's global threshold on ``|gamma|``); ``None``:
            the protocol does not run it.
        protocol: its position among the protocol's methods (tables, ``--methods``).
        eb_rule: an early-bird ticket may be pruned by it (Chapter 4).
        recorded_as: a detector's name in results files, settings and the command line.
    """

    name: str
    kind: str
    does: str
    literature: str
    chapters: tuple[int, ...]
    criterion: Criterion | None = None
    selects_by: str | None = None
    scope: str | None = None
    protocol: int | None = None
    eb_rule: bool = False
    recorded_as: str | None = None


def _criterion(criterion: Criterion, does: str, chapters, **protocol) -> PruningMethod:
    return PruningMethod(
        criterion.name,
        CRITERION,
        does,
        criterion.paper_name,
        tuple(chapters),
        criterion,
        **protocol,
    )


#: every pruning method, name -> :class:`PruningMethod`, in the order of the table above (the
#: order of every derived list)
#:
#: :meta hide-value:
REGISTRY: dict[str, PruningMethod] = {
    m.name: m
    for m in (
        _criterion(
            Random(),
            "a seeded uniform number",
            (3, 4, 5, 6),
            scope="layerwise",
            protocol=6,
            eb_rule=True,
        ),
        _criterion(
            Magnitude(1),
            "``||w_k||_1``, its weights (the whole filter of a conv)",
            (5, 6),
            scope="layerwise",
            protocol=3,
        ),
        _criterion(Magnitude(2), "``||w_k||_2``, its incoming row", (3, 5)),
        _criterion(
            Slimming(),
            "``|gamma_k|`` of the BatchNorm after the layer",
            (4, 5, 6),
            scope="eb-threshold",
            protocol=0,
            eb_rule=True,
        ),
        _criterion(
            SplinePolicy(),
            "the data's mean distance beyond the unit's spline, times ``||v_k||``, discounted "
            "when "
            "a more important unit's spline nearly coincides (spline_policy)",
            (5, 6),
        ),
        PruningMethod(
            "spline-layerwise",
            SELECTION,
            "the spline policy's scores, the same ratio in every layer",
            "this book's Chapter 5",
            (5, 6),
            selects_by="spline",
            scope="layerwise",
            protocol=1,
        ),
        PruningMethod(
            "spline-global",
            SELECTION,
            "the spline policy's scores, one threshold over scores normalised per layer",
            "this book's Chapter 5",
            (4, 5, 6),
            selects_by="spline",
            scope="global",
            protocol=2,
            eb_rule=True,
        ),
        _criterion(FromMask(), "1 if a given mask keeps it, 0 if it prunes it", (4,)),
        _criterion(
            TorchPruningCriterion("group-l1"),
            "the L1 norm of the channel's dependency group (Torch-Pruning)",
            (6,),
            scope="layerwise",
            protocol=4,
        ),
        _criterion(
            TorchPruningCriterion("taylor"),
            "``|w * dL/dw|`` of the channel's group on a training batch (Torch-Pruning)",
            (6,),
            scope="layerwise",
            protocol=5,
        ),
        PruningMethod(
            "spline-merge",
            MERGE_RULE,
            "greedily deletes or merges, whichever bound of "
            "redundancy_bounds is smaller, recomputing the bounds after each step",
            "spline merging: this book's Chapter 3 rule, after You et al., 2022",
            (3, 5),
        ),
        PruningMethod(
            "spline-delete",
            MERGE_RULE,
            "the same greedy rule with the deletion bound only: nothing is merged",
            "spline deletion",
            (3,),
        ),
        PruningMethod(
            "spline-merge-picks",
            MERGE_RULE,
            "the units spline-merge picks, all deleted: the "
            "same units, without merging's compensation",
            "the ablation of merging",
            (3,),
        ),
        PruningMethod(
            "eb-spline",
            DETECTOR,
            "fires when the codes of a probe canvas stop changing between epochs",
            "the spline early-bird detector (You et al., 2022)",
            (4, 6),
            recorded_as="spline",
        ),
        PruningMethod(
            "eb-mask",
            DETECTOR,
            "fires when network slimming's channel masks stop changing between epochs",
            "mask-distance early-bird detector (You et al., 2020)",
            (4, 6),
            recorded_as="mask",
        ),
    )
}


class _CriteriaView(MutableMapping):
    """The registry's criteria as ``{name: Criterion}``, in registry order; adding or removing
    one adds or removes its registry entry."""

    def __getitem__(self, name: str) -> Criterion:
        method = REGISTRY.get(name)
        if method is None or method.kind != CRITERION:
            raise KeyError(name)
        return method.criterion

    def __setitem__(self, name: str, criterion: Criterion) -> None:
        if not isinstance(criterion, Criterion) or criterion.name != name:
            raise ValueError(f"CRITERIA[{name!r}] must be a Criterion named {name!r}")
        register_criterion(criterion, replace=True)

    def __delitem__(self, name: str) -> None:
        self[name]  # noqa: B018  (KeyError for a name that is not a criterion)
        del REGISTRY[name]

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, m in REGISTRY.items() if m.kind == CRITERION])

    def __len__(self) -> int:
        return sum(m.kind == CRITERION for m in REGISTRY.values())

    def __repr__(self) -> str:
        return repr(dict(self))


#: the criteria, name -> :class:`~.criterion.Criterion` (a live view of the registry)
#:
#: :meta hide-value:
CRITERIA: MutableMapping[str, Criterion] = _CriteriaView()


def methods_of(kind: str | None = None, chapter: int | None = None) -> list[PruningMethod]:
    """The registry's methods of one kind and / or used by one chapter, in registry order."""
    if kind is not None:
        check_choice("kind", kind, KINDS)
    return [
        m
        for m in REGISTRY.values()
        if (kind is None or m.kind == kind) and (chapter is None or chapter in m.chapters)
    ]


#: the node-pruning rules of :mod:`.merging` (the spline redundancy bounds)
MERGE_RULES: tuple[str, ...] = tuple(m.name for m in methods_of(MERGE_RULE))
#: Chapter 6's protocol-1 methods, in the protocol's order (results tables, ``--methods``)
METHODS: tuple[str, ...] = tuple(
    m.name
    for m in sorted(REGISTRY.values(), key=lambda m: (m.protocol is None, m.protocol or 0))
    if m.protocol is not None
)
#: the rules an early-bird ticket may be pruned by, in the protocol's order
EB_RULES: tuple[str, ...] = tuple(name for name in METHODS if REGISTRY[name].eb_rule)
#: the early-bird detectors, by the names results files and settings give them
DETECTORS: tuple[str, ...] = tuple(m.recorded_as for m in methods_of(DETECTOR))


def get_method(name: str) -> PruningMethod:
    """The registry entry called ``name``; ``ValueError`` listing the names otherwise."""
    return REGISTRY[check_choice("method", name, tuple(REGISTRY))]


def get_criterion(criterion: str | Criterion) -> Criterion:
    """The registered criterion of that name (a :class:`~.criterion.Criterion` is returned as
    it is)."""
    if isinstance(criterion, Criterion):
        return criterion
    return CRITERIA[check_choice("criterion", criterion, tuple(CRITERIA))]


def criterion_of(method: str) -> Criterion:
    """The criterion whose scores a protocol method selects by (its own, or a selection's)."""
    entry = get_method(method)
    return get_criterion(entry.selects_by or entry.name)


def register_criterion(
    criterion: Criterion, replace: bool = False, chapters: tuple[int, ...] = (), does: str = ""
) -> Criterion:
    """Add ``criterion`` to the registry under ``criterion.name`` and return it.

    Args:
        criterion: an object of a :class:`~.criterion.Criterion` subclass.
        replace: replace a criterion registered under that name already (refused otherwise).
        chapters: the chapters that use it (for the registry's table).
        does: what it scores a unit by, in a line (default: the class docstring's first line).

    Raises:
        TypeError: ``criterion`` is not a Criterion.
        ValueError: its name is empty, belongs to a method of another kind (a merge rule, a
            selection, a detector), or to a criterion already registered and ``replace`` is
            False.
    """
    if not isinstance(criterion, Criterion):
        raise TypeError(f"criterion must be a Criterion instance, got {type(criterion).__name__}")
    name = criterion.name
    taken = REGISTRY.get(name)
    if not isinstance(name, str) or not name or (taken is not None and taken.kind != CRITERION):
        others = tuple(n for n, m in REGISTRY.items() if m.kind != CRITERION)
        raise ValueError(
            f"a criterion's name must be a non-empty string other than {others} (the names of "
            f"the other pruning methods), got {name!r}"
        )
    if taken is not None and not replace:
        raise ValueError(f"criterion {name!r} is registered already: pass replace=True")
    first_line = (type(criterion).__doc__ or "").strip().split("\n")[0]
    REGISTRY[name] = PruningMethod(
        name, CRITERION, does or first_line, criterion.paper_name, tuple(chapters), criterion
    )
    return criterion


def node_criteria(batch_norm: bool = True) -> tuple[str, ...]:
    """The names :func:`~.merging.prune_units` accepts: the merge rules and every registered
    criterion that needs neither a mask nor a data batch (``batch_norm=False``: and none that
    reads a BatchNorm, for MLPs without one such as the FCNet)."""
    return MERGE_RULES + tuple(
        name
        for name, c in CRITERIA.items()
        if not c.needs_mask and not c.needs_data and (batch_norm or not c.needs_batchnorm)
    )


def method_table() -> str:
    """The registry as a reStructuredText table (appended to this module's documentation)."""
    rows = [
        f"   * - ``{m.name}``\n     - {m.kind}\n     - {m.does}\n     - {m.literature}\n"
        f"     - {', '.join(str(c) for c in m.chapters)}"
        for m in REGISTRY.values()
    ]
    return (
        ".. list-table:: The registry\n   :header-rows: 1\n   :widths: 18 10 40 32 10\n\n"
        "   * - name\n     - kind\n     - what it does\n     - in the literature\n"
        "     - chapters\n" + "\n".join(rows) + "\n"
    )


__doc__ = f"{__doc__}\n{method_table()}"
