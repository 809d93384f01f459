"""The structure of a network, found once: its layers and how pruning may cut between them.

Every part of the book asks the same questions about a model -- which modules define the region
code, which layers can be pruned, which BatchNorm normalises a layer's outputs, which layer reads
them, whether the spline view covers the model at all. A :class:`NetworkStructure` answers them
from **one walk** of the module tree (``model.named_modules``), done when it is built:

* ``modules`` -- every module as (qualified name, module), in registration order (each module
  once); ``leaves`` -- those without children;
* ``code_layers`` -- the code-defining nonlinearities (``nn.ReLU``, ``nn.LeakyReLU``,
  ``nn.MaxPool2d``), in registration order;
* ``prunable`` -- every ``nn.Linear`` / ``nn.Conv2d`` by name, each as a :class:`PrunableLayer`:
  the module, the BatchNorm over its outputs in its own block (``layer -> BN``), the leaves up
  to the next prunable layer, and -- through :meth:`NetworkStructure.consumer` -- the layer that
  reads its outputs (``BN -> consumer``);
* ``plain`` -- whether the model is a (nested) ``nn.Sequential`` of leaves, whose call order is
  its registration order (``call_leaves``, shared modules repeated where they are called again);
* the support check (:meth:`NetworkStructure.check_supported`: every module, every parameter
  and buffer finite, the operations of a custom ``forward``) and the check that the model treats
  the inputs of a batch independently, each run at most once per structure.

A plain ``nn.Sequential`` reads its layers in order: the consumer of a prunable layer is the next
one. A model with a custom ``forward`` (a residual network) describes its own edges through one
method, the **pruning-edge protocol**::

    def pruning_edges(self) -> dict[str, tuple[str, str]]:
        # {layer name: (name of the BatchNorm over its outputs, name of the layer reading them)}

for the layers whose output channels may be removed (in a pre-activation ResNet, the convolutions
inside each block; a layer that writes to the residual stream has no edge). The edges are checked
when the structure is built: each names a Linear / Conv2d, the BatchNorm right after it in its
block, with one feature per output unit, and a Linear / Conv2d reading as many inputs. So
pruning never needs to know the architecture's class.

Every public function that takes a ``model`` also takes a structure in its place: a caller that
runs several of them on one model builds the structure once (``NetworkStructure(model)``) and
its checks run once. A structure describes the model as it was when built: build a new one after
replacing or adding modules (changing weights in place is fine).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from ..checks import check_module
from .affine_operations import check_forward_ops
from .supported_modules import CODE_MODULES, CONTAINER_MODULES, check_module_supported

__all__ = ["BATCHNORMS", "NetworkStructure", "PRUNABLE", "PrunableLayer"]

#: the layers whose output units pruning removes
PRUNABLE: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d)
#: the normalisations that may follow a prunable layer
BATCHNORMS: tuple[type[nn.Module], ...] = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass(frozen=True, eq=False)
class PrunableLayer:
    """A Linear / Conv2d of a network and what surrounds it, as pruning needs it.

    Attributes:
        name: its qualified name (as in ``model.named_modules()``).
        module: the ``nn.Linear`` (weight (out, in)) or ``nn.Conv2d`` (weight
            (out, in / groups, kh, kw)); its ``out`` units are what pruning removes.
        batchnorm: the ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` registered right after it, in
            the same parent module, with one feature per output unit (``None``: none). A
            BatchNorm of the *next* block (after a residual addition) is not its own.
        batchnorm_name: that BatchNorm's qualified name (``None``: none).
        after: the leaves registered after it, up to the next prunable layer (excluded), as
            (name, module); in a plain ``nn.Sequential`` what its outputs pass through.
        next_layer: the next prunable layer in registration order, as (name, module), or
            ``None`` for the last one.
        structure: the :class:`NetworkStructure` it belongs to.
    """

    name: str
    module: nn.Module
    batchnorm: nn.Module | None
    batchnorm_name: str | None
    after: tuple[tuple[str, nn.Module], ...]
    next_layer: tuple[str, nn.Module] | None
    structure: NetworkStructure = field(repr=False)

    @property
    def units(self) -> int:
        """The number of output units (rows of a Linear, filters of a Conv2d)."""
        return self.module.weight.shape[0]

    def consumer(self) -> PrunableLayer:
        """The layer that reads this layer's outputs (:meth:`NetworkStructure.consumer`)."""
        return self.structure.consumer(self.name)


class NetworkStructure:
    """The layers of ``model`` and the pruning edges between them, from one walk (module doc).

    Args:
        model: any ``nn.Module``. Building the structure checks only that it is one, and the
            edges a model with a ``pruning_edges()`` method describes; the spline view's support
            check is :meth:`check_supported` (a pruning criterion such as magnitude does not
            need a piecewise-affine network).

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: the model's ``pruning_edges()`` names a layer, BatchNorm or consumer that
            does not fit (the message names it).

    Example:
        >>> net = su.make_mlp([2, 6, 6, 1], batch_norm=True)
        >>> structure = su.NetworkStructure(net)
        >>> [name for name, _ in structure.code_layers], list(structure.prunable)
        (['2', '5'], ['0', '3', '6'])
        >>> layer = structure.prunable["0"]
        >>> layer.batchnorm_name, layer.units, layer.consumer().name
        ('1', 6, '3')
        >>> structure.plain
        True
    """

    def __init__(self, model: torch.nn.Module):  # spelt out: the API page shows it as written
        check_module("model", model)
        self.model = model
        # the one walk: every module, with the ones called again (shared) repeated; in this
        # pre-order a module has children exactly when the next entry lies inside it
        called = list(model.named_modules(remove_duplicate=False))
        seen: set[int] = set()
        modules, leaf = [], {}
        for i, (name, module) in enumerate(called):
            if id(module) not in leaf:
                after = called[i + 1][0] if i + 1 < len(called) else None
                leaf[id(module)] = after is None or not (name == "" or after.startswith(name + "."))
            if id(module) not in seen:
                seen.add(id(module))
                modules.append((name, module))
        self.modules = modules
        self._leaf = leaf
        self.leaves = [(n, m) for n, m in modules if leaf[id(m)]]
        self.plain = all(type(m) is nn.Sequential or leaf[id(m)] for _, m in modules)
        #: the leaves in the order a plain Sequential calls them (shared modules repeated)
        self.call_leaves = [(n, m) for n, m in called if leaf[id(m)]]
        self._places = called  # every place of every module, for the check of tied layers
        self.code_layers = [(n, m) for n, m in modules if isinstance(m, CODE_MODULES)]
        self.prunable = self._prunable_layers()
        self.edges = self._described_edges()
        self._checked = {}  # support / batch checks done on this structure

    # ----------------------------------------------------------------------- construction
    def _prunable_layers(self) -> dict[str, PrunableLayer]:
        """Every Linear / Conv2d with its BatchNorm and the leaves after it, from the leaves."""
        leaves = self.leaves
        positions = [i for i, (_, m) in enumerate(leaves) if isinstance(m, PRUNABLE)]
        layers = {}
        for k, i in enumerate(positions):
            name, module = leaves[i]
            end = positions[k + 1] if k + 1 < len(positions) else len(leaves)
            bn_name, bn = None, None
            if i + 1 < len(leaves):
                after_name, after = leaves[i + 1]
                same_parent = name.rpartition(".")[0] == after_name.rpartition(".")[0]
                if (
                    isinstance(after, BATCHNORMS)
                    and same_parent
                    and after.num_features == module.weight.shape[0]
                ):
                    bn_name, bn = after_name, after
            layers[name] = PrunableLayer(
                name=name,
                module=module,
                batchnorm=bn,
                batchnorm_name=bn_name,
                after=tuple(leaves[i + 1 : end]),
                next_layer=leaves[end] if end < len(leaves) else None,
                structure=self,
            )
        # prunable modules that are not leaves (a Linear subclass with children) are still layers
        for name, module in self.modules:
            if isinstance(module, PRUNABLE) and name not in layers:
                layers[name] = PrunableLayer(name, module, None, None, (), None, self)
        return {name: layers[name] for name, m in self.modules if name in layers}

    def _described_edges(self) -> dict[str, tuple[str, str]] | None:
        """The model's own ``pruning_edges()`` (the protocol of the module doc), checked."""
        describe = getattr(self.model, "pruning_edges", None)
        if not callable(describe):
            return None
        edges = describe()
        kind = type(self.model).__name__
        if not isinstance(edges, dict):
            raise ValueError(
                f"{kind}.pruning_edges() must return a dict, got {type(edges).__name__}"
            )
        for layer, pair in edges.items():
            if layer not in self.prunable:
                raise ValueError(
                    f"{kind}.pruning_edges() names {layer!r}, which is not a Linear / Conv2d "
                    f"of the model"
                )
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(
                    f"{kind}.pruning_edges()[{layer!r}] must be (BatchNorm name, consumer name), "
                    f"got {pair!r}"
                )
            bn_name, consumer = pair
            own = self.prunable[layer]
            if own.batchnorm_name != bn_name:
                raise ValueError(
                    f"{kind}.pruning_edges()[{layer!r}] names the BatchNorm {bn_name!r}, but the "
                    f"BatchNorm registered right after that layer in its block is "
                    f"{own.batchnorm_name!r}"
                )
            if consumer not in self.prunable:
                raise ValueError(
                    f"{kind}.pruning_edges()[{layer!r}] names the consumer {consumer!r}, which "
                    "is not a Linear / Conv2d of the model"
                )
            reads = self.prunable[consumer].module
            width = reads.in_features if isinstance(reads, nn.Linear) else reads.in_channels
            if width != own.units:
                raise ValueError(
                    f"{kind}.pruning_edges()[{layer!r}]: its consumer {consumer!r} reads {width} "
                    f"inputs, but the layer has {own.units} outputs"
                )
        return dict(edges)

    @classmethod
    def of(cls, model) -> NetworkStructure:
        """``model``'s structure: ``model`` itself when it is a :class:`NetworkStructure`."""
        return model if isinstance(model, cls) else cls(model)

    # ----------------------------------------------------------------------- questions
    def layer(self, name) -> PrunableLayer:
        """The prunable layer (Linear / Conv2d) called ``name``; ``ValueError`` listing the
        layers if there is none."""
        if not isinstance(name, str) or name not in self.prunable:
            raise ValueError(
                f"unknown layer {name!r}: prunable layers (Linear / Conv2d) are "
                f"{sorted(self.prunable)}"
            )
        return self.prunable[name]

    def consumer(self, name: str) -> PrunableLayer:
        """The layer that reads the outputs of prunable layer ``name``: the next Linear / Conv2d
        of a plain ``nn.Sequential``; the consumer the model's ``pruning_edges()`` names.

        Raises:
            ValueError: an unknown layer, the last layer of a Sequential (nothing reads it), a
                layer without an edge in a model that describes its edges, or a model with a
                custom ``forward`` that does not describe them.
        """
        layer = self.layer(name)
        kind = type(self.model).__name__
        if self.edges is not None:
            if name not in self.edges:
                raise ValueError(
                    f"layer {name!r} has no pruning edge in this {kind}: it writes to the "
                    "residual stream (or is the classifier), and its outputs cannot be removed; "
                    f"layers with edges are {sorted(self.edges)[:3]}..."
                )
            return self.prunable[self.edges[name][1]]
        if type(self.model) is not nn.Sequential:
            raise ValueError(
                f"consumer lookup supports plain nn.Sequential models and models that describe "
                f"their pruning edges (a pruning_edges() method, as PreResNet), not {kind}"
            )
        if layer.next_layer is None:
            raise ValueError(f"layer {name!r} is the last layer: nothing reads its outputs")
        return self.prunable[layer.next_layer[0]]

    def batchnorms(self) -> dict[str, nn.Module]:
        """``{layer name: BatchNorm}`` of every prunable layer that has its own BatchNorm."""
        return {n: layer.batchnorm for n, layer in self.prunable.items() if layer.batchnorm}

    def dtype_device(self) -> tuple[torch.dtype, torch.device]:
        """dtype and device of the model's first parameter (float32 / CPU without parameters);
        read now, so it follows a model moved since the structure was built."""
        for _, module in self.modules:
            for p in module.parameters(recurse=False):
                return p.dtype, p.device
        return torch.get_default_dtype(), torch.device("cpu")

    def contains(self, module: nn.Module) -> bool:
        """Whether ``module`` is one of the model's modules."""
        return any(m is module for _, m in self.modules)

    def tied(self) -> list[str] | None:
        """Two places of one module with parameters or buffers, or of one parameter (a tied
        layer), as a list of their names; ``None`` when nothing is tied. Shared modules without
        state (one ``nn.ReLU`` called everywhere) are harmless and not reported."""
        places: dict[int, list[str]] = {}
        for name, module in self._places:
            own = list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))
            if own:
                places.setdefault(id(module), []).append(name)
            for pname, param in module.named_parameters(recurse=False):
                places.setdefault(id(param), []).append(f"{name}.{pname}" if name else pname)
        return next((names for names in places.values() if len(set(names)) > 1), None)

    # ----------------------------------------------------------------------- checks
    def check_supported(self, trace: bool = True) -> None:
        """Raise ``ValueError`` unless the model is a network the spline view covers (see
        :func:`~spline_utils.spline_view.model_walk.check_supported`); a check that passed
        is not run again on this structure (the finiteness of parameters is checked every
        time: training changes them)."""
        model = self.model
        if isinstance(getattr(model, "_orig_mod", None), nn.Module):
            raise ValueError(
                f"model is a torch.compile'd {type(model._orig_mod).__name__}: the spline view runs "
                "a model eagerly, with hooks on its layers, and a compiled forward cannot be traced "
                "or checked; pass the original module, model._orig_mod"
            )
        if not self._checked.get("modules"):
            if len(self.leaves) == len(self.modules) and all(
                isinstance(m, CONTAINER_MODULES) for _, m in self.modules
            ):
                raise ValueError(f"model {type(model).__name__} is empty: it has no layers")
            for name, module in self.modules:
                check_module_supported(name, module, leaf=self._leaf[id(module)])
            self._checked["modules"] = True
        self.check_finite()
        # only custom forward methods can hold functional operations: plain Sequentials of
        # supported leaves need no trace
        if trace and not self.plain and not self._checked.get("forward"):
            check_forward_ops(model)
            self._checked["forward"] = True

    def check_finite(self, name: str = "model") -> None:
        """Raise ``ValueError`` naming the first parameter or buffer holding NaN / inf."""
        for what, tensors in (
            ("parameter", self.named_parameters()),
            ("buffer", self.named_buffers()),
        ):
            for pname, tensor in tensors:
                if (
                    tensor.dtype.is_floating_point
                    and tensor.numel()
                    and not bool(torch.isfinite(tensor.detach().sum()))
                    and not bool(torch.isfinite(tensor.detach()).all())
                ):
                    raise ValueError(
                        f"{name} {what} {pname!r} must be finite, but it holds NaN or inf: "
                        "the network it defines is not a (finite) affine spline"
                    )

    def named_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        """As ``model.named_parameters()``, from the modules found by the walk."""
        return self._named("parameters")

    def named_buffers(self) -> Iterator[tuple[str, torch.Tensor]]:
        """As ``model.named_buffers()``, from the modules found by the walk."""
        return self._named("buffers")

    def _named(self, what: str):
        seen: set[int] = set()
        for prefix, module in self.modules:
            own = getattr(module, f"named_{what}")(recurse=False)
            for name, tensor in own:
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                yield (f"{prefix}.{name}" if prefix else name), tensor

    def batch_checked(self) -> bool:
        """Whether the model was found to treat a batch's inputs independently (on this
        structure, or on a copy it was made from)."""
        return bool(self._checked.get("batch"))

    def mark_batch_checked(self) -> None:
        """Record that the batch-independence check passed (it is not run again)."""
        self._checked["batch"] = True

    # ----------------------------------------------------------------------- copies
    def copy(self) -> NetworkStructure:
        """The structure of a deep copy of the model (the model itself is left alone), built
        without walking the copy: its modules are matched to this structure's through the copy.
        Checks that passed on this structure count for the copy (the same network)."""
        memo: dict[int, object] = {}
        copied = copy.deepcopy(self.model, memo)
        twin = object.__new__(NetworkStructure)
        twin.model = copied

        def match(pairs):
            return [(n, memo[id(m)]) for n, m in pairs]

        twin.modules, twin.leaves = match(self.modules), match(self.leaves)
        twin.call_leaves, twin._places = match(self.call_leaves), match(self._places)
        twin.plain, twin.code_layers = self.plain, match(self.code_layers)
        twin._leaf = {id(memo[key]): value for key, value in self._leaf.items()}
        twin.prunable = {
            name: PrunableLayer(
                name,
                memo[id(layer.module)],
                None if layer.batchnorm is None else memo[id(layer.batchnorm)],
                layer.batchnorm_name,
                tuple(match(layer.after)),
                None if layer.next_layer is None else match([layer.next_layer])[0],
                twin,
            )
            for name, layer in self.prunable.items()
        }
        twin.edges = self.edges
        twin._checked = self._checked  # the same network: one set of checks
        return twin

    def float64_copy(self) -> NetworkStructure:
        """:meth:`copy`, with the copy in float64 on the CPU and in eval mode."""
        twin = self.copy()
        twin.model.to(dtype=torch.float64, device="cpu").eval()
        return twin

    def __repr__(self) -> str:
        return (
            f"NetworkStructure({type(self.model).__name__}: {len(self.modules)} modules, "
            f"{len(self.code_layers)} code layers, {len(self.prunable)} prunable layers"
            f"{', plain' if self.plain else ''})"
        )
