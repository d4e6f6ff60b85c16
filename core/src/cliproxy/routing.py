"""Model name -> the credentials that can serve it.

A credential's models are reachable by their client name (the alias, else the name) and,
when it has a ``prefix``, as ``prefix/name``. With ``force-model-prefix: true`` a prefixed
credential answers only to prefixed names. The prefix and alias never reach the upstream:
each candidate carries the upstream's own model name. The same client name on several
credentials forms a pool, ordered by ``priority``. A credential that serves any model
(``any_model``) answers to every ``prefix/<name>``. Models matching a credential's
``excluded-models`` patterns are never routed to it.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

import attrs

from cliproxy.credentials import Credential, ModelEntry
from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["Candidate", "ModelInfo", "Route", "Router"]

log = logging.getLogger("cliproxy.routing")

_ANY_ROUTES_KEPT = 1024  # resolved prefix/<any model> routes kept for reuse


@attrs.frozen(slots=True)
class Candidate:
    """One way to serve a model: a credential and the name to send upstream."""

    credential: Credential
    upstream_model: str


@attrs.frozen(slots=True)
class Route:
    """A resolved client model name: its candidates, highest priority first.

    Attributes:
        key: The pool's identity (the model id, or ``prefix/*`` for any-model
            credentials): round-robin rotates per key.
        candidates: Every candidate, highest priority first (config order within one).
        pairs: ``(credential id, upstream model)`` per candidate, for the state store.
        rotates: Some priority holds more than one candidate (round-robin has work).
    """

    key: str
    candidates: tuple[Candidate, ...]
    pairs: tuple[tuple[str, str], ...]
    rotates: bool

    # A route reads as its candidates (``route[0]``, ``len(route)``, ``for c in route``).
    def __getitem__(self, index: int) -> Candidate:
        return self.candidates[index]

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    @classmethod
    def of(cls, key: str, candidates: Iterable[Candidate]) -> Route:
        ordered = sorted(candidates, key=lambda c: -c.credential.priority)
        priorities = [c.credential.priority for c in ordered]
        return cls(
            key=key,
            candidates=tuple(ordered),
            pairs=tuple((c.credential.id, c.upstream_model) for c in ordered),
            rotates=len(set(priorities)) < len(priorities),
        )


@attrs.frozen
class ModelInfo:
    """A model id clients may request, who serves it, and whether it embeds (a provider
    of it says so: ``Provider.embeds``)."""

    id: str
    owned_by: str
    embeds: bool = False


class Router:
    """Resolves client model names; rebuilt whenever credentials or their models change."""

    def __init__(
        self,
        credentials: Iterable[Credential],
        *,
        force_model_prefix: bool = False,
        default_models: Callable[[Credential], Sequence[ModelEntry]] = lambda c: (),
    ) -> None:
        pools: dict[str, list[Candidate]] = {}
        self._any: dict[str, list[Credential]] = {}
        self._any_routes: dict[str, Route] = {}
        self.ambiguities: list[str] = []
        for cred in credentials:
            entries = cred.models or cred.discovered or tuple(default_models(cred))
            for entry in entries:
                if cred.excludes(entry.id) or cred.excludes(entry.name):
                    continue
                if cred.prefix:
                    _add(pools, f"{cred.prefix}/{entry.id}", cred, entry.name)
                if not cred.prefix or not force_model_prefix:
                    _add(pools, entry.id, cred, entry.name)
            if cred.any_model:
                if cred.prefix:
                    self._any.setdefault(cred.prefix, []).append(cred)
                else:
                    log.warning(
                        "%s credential %s (%s) lists no models and has no prefix, so no model name reaches it; "
                        "add 'models' or a 'prefix'",
                        cred.provider,
                        cred.label,
                        cred.source,
                    )
        self._routes = {model_id: Route.of(model_id, cands) for model_id, cands in pools.items()}
        for model_id, route in self._routes.items():
            self._note_ambiguity(model_id, [c.credential for c in route.candidates])
        for prefix, creds in self._any.items():
            creds.sort(key=lambda c: -c.priority)
            self._note_ambiguity(f"{prefix}/<any model>", creds)

    def _note_ambiguity(self, model_id: str, credentials: Sequence[Credential]) -> None:
        """Equal top priority across different upstream services (groups): which one a
        request reaches is left to rotation -- usually not what was meant."""
        top = credentials[0].priority
        groups: dict[str, Credential] = {}
        for cred in credentials:
            if cred.priority == top:
                groups.setdefault(cred.group, cred)
        if len(groups) > 1:
            sources = " and ".join(f"{c.group} ({c.source or c.label})" for c in groups.values())
            self.ambiguities.append(
                f"model '{model_id}' is served with equal priority {top} by {sources}: "
                "requests alternate between them; give the preferred one a higher 'priority', "
                "or a 'prefix' to keep them apart"
            )

    def log_ambiguities(self, skip: Collection[str] = ()) -> None:
        """Log each ambiguity (but those in ``skip``, already logged) as a warning."""
        for message in self.ambiguities:
            if message not in skip:
                log.warning("%s", message)

    def resolve(self, model: str) -> Route:
        """The route for ``model``; 404 ``model_not_found`` if nothing serves it."""
        found = self._routes.get(model)
        if found is not None:
            return found
        found = self._any_routes.get(model)
        if found is not None:
            return found
        prefix, sep, rest = model.partition("/")
        if sep and rest:
            creds = self._any.get(prefix)
            if creds:
                candidates = [Candidate(c, rest) for c in creds if not c.excludes(rest)]
                if candidates:
                    route = Route.of(f"{prefix}/*", candidates)
                    if len(self._any_routes) >= _ANY_ROUTES_KEPT:
                        self._any_routes.clear()
                    self._any_routes[model] = route
                    return route
        raise self.not_found(model)

    def knows(self, model: str) -> bool:
        """Whether ``model`` is a listed id (a prefix that serves any model aside)."""
        return model in self._routes

    def suggestions(self, model: str, limit: int = 3) -> list[str]:
        """Known ids closest to ``model``: the same name under a prefix first, then
        spelling neighbours."""
        known = list(self._routes)
        tail = "/" + model
        found = [k for k in known if k.endswith(tail)]
        if len(found) < limit:
            pool = known + [f"{p}/..." for p in self._any]
            for near in difflib.get_close_matches(model, pool, n=limit, cutoff=0.5):
                if near not in found:
                    found.append(near)
        return found[:limit]

    def not_found(self, model: str) -> GatewayError:
        close = self.suggestions(model)
        message = f"model '{model}' is not available on this gateway"
        if close:
            message += "; did you mean " + ", ".join(f"'{m}'" for m in close) + "? (GET /v1/models lists them all)"
        else:
            message += "; GET /v1/models lists the models you can use"
        return GatewayError(
            status=404, kind=ErrorKind.MODEL_NOT_FOUND, message=message, param="model", code="model_not_found"
        )

    def models(self) -> list[ModelInfo]:
        """Every model id a client may request, sorted."""
        return [
            ModelInfo(model_id, route.candidates[0].credential.provider)
            for model_id, route in sorted(self._routes.items())
        ]


def _add(pools: dict[str, list[Candidate]], model_id: str, cred: Credential, upstream: str) -> None:
    pool = pools.setdefault(model_id, [])
    if not any(c.credential is cred and c.upstream_model == upstream for c in pool):
        pool.append(Candidate(cred, upstream))
