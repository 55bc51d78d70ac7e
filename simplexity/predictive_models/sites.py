"""Named activation sites: what a model computes at each, read out of its forward pass or replaced inside it.

A model that derives from `AbstractSiteModel` names the places of its forward pass where an activation can be read
or edited (`sites`, in the order the forward pass reaches them) and runs that pass with a `SiteHooks`, which records
the sites asked for and applies the edits given. Every site's activation has its batch axis first: `(batch, seq,
features)` for a residual stream or a hidden state, `(batch, heads, seq, seq)` for an attention pattern (query
positions, then key positions).
"""

import abc
from collections.abc import Callable, Collection, Mapping

import equinox as eqx
from jaxtyping import Array, Float, Int

Edit = Callable[[Array], Array]


class UnknownSiteError(ValueError):
    """A site name that the model does not have."""


class SiteHooks:
    """What one forward pass reads and replaces at a model's sites.

    Arguments:
        record: the sites whose activations to keep (after any edit), in `captured`.
        edits: site name to the function that replaces its activation (`activation -> activation`, same shape
            and dtype); the forward pass goes on with what it returns.
    """

    def __init__(self, record: Collection[str] = (), edits: Mapping[str, Edit] | None = None):
        self.record = frozenset(record)
        self.edits: dict[str, Edit] = dict(edits or {})
        self.captured: dict[str, Array] = {}

    def wants(self, site: str) -> bool:
        """Returns whether `site` is recorded or edited (a model may skip work no one asked for)."""
        return site in self.record or site in self.edits

    def __call__(self, site: str, activation: Array) -> Array:
        """Returns the activation the forward pass continues with at `site`, recording it when asked.

        Raises:
            ValueError: when an edit returns another shape or dtype than it was given.
        """
        edit = self.edits.get(site)
        if edit is not None:
            edited = edit(activation)
            if edited.shape != activation.shape or edited.dtype != activation.dtype:
                raise ValueError(
                    f"the edit of site {site!r} returned shape {edited.shape} {edited.dtype}; it must return the "
                    f"activation's shape {activation.shape} {activation.dtype}"
                )
            activation = edited
        if site in self.record:
            self.captured[site] = activation
        return activation

    def with_edits_first(self, edits: Mapping[str, Edit]) -> "SiteHooks":
        """Returns hooks that apply `edits` before these hooks' own edits, recording into the same `captured`."""
        combined = dict(edits)
        for site, outer in self.edits.items():
            inner = combined.get(site)
            combined[site] = outer if inner is None else _compose(outer, inner)
        hooks = SiteHooks(self.record, combined)
        hooks.captured = self.captured
        return hooks


def _compose(outer: Edit, inner: Edit) -> Edit:
    def edit(activation: Array) -> Array:
        return outer(inner(activation))

    return edit


class AbstractSiteModel(eqx.Module):
    """A predictive model with named activation sites that can be read (`activations`) and edited (`intervene`).

    A subclass declares its sites and runs its forward pass through a `SiteHooks`, calling `hooks(name, value)`
    at each site in turn; calling the model and reading its activations come from here.
    """

    @property
    @abc.abstractmethod
    def sites(self) -> tuple[str, ...]:
        """Every site's name, in the order the forward pass reaches them."""

    @property
    @abc.abstractmethod
    def default_sites(self) -> tuple[str, ...]:
        """The sites the belief-geometry analysis probes unless told otherwise.

        They are the embedding and each layer's output: the residual stream after each block of a transformer, each
        recurrent layer's hidden state.
        """

    @abc.abstractmethod
    def forward_with_hooks(self, tokens: Int[Array, "batch seq"], hooks: SiteHooks) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits, passing every site's activation through `hooks`."""

    def __call__(self, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits for a batch of sequences."""
        return self.forward_with_hooks(tokens, SiteHooks())

    def activations(self, tokens: Int[Array, "batch seq"], sites: Collection[str] | None = None) -> dict[str, Array]:
        """Returns the activation at each of `sites` (`default_sites` when None), batch axis first, in site order.

        Raises:
            UnknownSiteError: for a site the model does not have.
        """
        names = check_sites(self, self.default_sites if sites is None else sites)
        hooks = SiteHooks(record=names)
        self.forward_with_hooks(tokens, hooks)
        return {name: hooks.captured[name] for name in names}


def check_sites(model: AbstractSiteModel, names: Collection[str], key: str = "sites") -> tuple[str, ...]:
    """Returns `names` in the order of the model's sites.

    Raises:
        UnknownSiteError: naming the first unknown site, `key`, and the sites the model has.
    """
    if isinstance(names, str):
        names = (names,)
    known = model.sites
    for name in names:
        if name not in known:
            raise UnknownSiteError(
                f"{key}: {type(model).__name__} has no site {name!r}; its sites are {', '.join(known)}"
            )
    return tuple(name for name in known if name in set(names))


class Intervened(AbstractSiteModel):
    """A model whose forward pass replaces the activation at each edited site by the edit's result.

    Built by `intervene`. The edits are part of the pytree: an edit that is an Equinox module holding arrays (a
    patch, say) is traced under `eqx.filter_jit`, so one compiled program serves every value of those arrays; a
    plain function is static.

    Arguments:
        model: the model intervened on.
        edits: site name to `activation -> activation`.
    """

    model: AbstractSiteModel
    edits: dict[str, Edit]

    @property
    def sites(self) -> tuple[str, ...]:
        """The intervened model's sites."""
        return self.model.sites

    @property
    def default_sites(self) -> tuple[str, ...]:
        """The intervened model's default sites."""
        return self.model.default_sites

    def forward_with_hooks(self, tokens: Int[Array, "batch seq"], hooks: SiteHooks) -> Float[Array, "batch seq vocab"]:
        """Returns the logits with this model's edits applied before any that `hooks` adds."""
        return self.model.forward_with_hooks(tokens, hooks.with_edits_first(self.edits))


def intervene(model: AbstractSiteModel, edits: Mapping[str, Edit]) -> Intervened:
    """Returns `model` with the activation at each site of `edits` replaced by `edit(activation)` in its forward pass.

    The result is a predictive model like `model` (tokens in, logits out) and has the same sites; later sites and
    the logits see the edited activation, earlier ones are unchanged. Each edit gets the whole site's activation,
    batch axis first, and returns one of the same shape and dtype.

    Raises:
        UnknownSiteError: for a site the model does not have.

    Example:
        >>> zeroed = intervene(model, {"block_0.attn_out": jnp.zeros_like})
        >>> zeroed(tokens).shape == model(tokens).shape
        True
    """
    if not isinstance(model, AbstractSiteModel):
        raise TypeError(f"{type(model).__name__} has no named activation sites to intervene on")
    check_sites(model, list(edits), key="edits")
    return Intervened(model, dict(edits))
