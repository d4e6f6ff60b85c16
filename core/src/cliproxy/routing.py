"""Model name -> the credentials that can serve it.

A credential's models are reachable by their client name (the alias, else the name) and,
when it has a ``prefix``, as ``prefix/name``. With ``force-model-prefix: true`` a prefixed
credential answers only to prefixed names. The same name on several credentials forms a
pool, ordered by ``priority``. A credential that serves any model (``any_model``) answers
to every ``prefix/<name>``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Sequence

import attrs

from cliproxy.credentials import Credential, ModelEntry
from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["Candidate", "ModelInfo", "Router"]

log = logging.getLogger("cliproxy.routing")


@attrs.frozen
class Candidate:
    """One way to serve a model: a credential and the name to send upstream."""

    credential: Credential
    upstream_model: str


@attrs.frozen
class ModelInfo:
    """A model id clients may request, and who serves it."""

    id: str
    owned_by: str


class Router:
    """Resolves client model names; rebuilt whenever credentials or their models change."""

    def __init__(
        self,
        credentials: Iterable[Credential],
        *,
        force_model_prefix: bool = False,
        default_models: Callable[[Credential], Sequence[ModelEntry]] = lambda c: (),
    ) -> None:
        self._routes: dict[str, list[Candidate]] = {}
        self._any: dict[str, list[Credential]] = {}
        self.ambiguities: list[str] = []
        for cred in credentials:
            entries = cred.models or cred.discovered or tuple(default_models(cred))
            for entry in entries:
                if cred.excludes(entry.id) or cred.excludes(entry.name):
                    continue
                if cred.prefix:
                    self._add(f"{cred.prefix}/{entry.id}", cred, entry.name)
                if not cred.prefix or not force_model_prefix:
                    self._add(entry.id, cred, entry.name)
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
        for model_id, candidates in self._routes.items():
            candidates.sort(key=lambda c: -c.credential.priority)
            self._note_ambiguity(model_id, candidates)

    def _add(self, model_id: str, cred: Credential, upstream: str) -> None:
        pool = self._routes.setdefault(model_id, [])
        if not any(c.credential is cred and c.upstream_model == upstream for c in pool):
            pool.append(Candidate(cred, upstream))

    def _note_ambiguity(self, model_id: str, candidates: list[Candidate]) -> None:
        top = candidates[0].credential.priority
        providers = {c.credential.provider: c.credential for c in candidates if c.credential.priority == top}
        if len(providers) > 1:
            sources = ", ".join(f"{p} ({c.source or c.label})" for p, c in providers.items())
            message = (
                f"model '{model_id}' is served with equal priority {top} by {sources}: "
                "requests will alternate between them; set 'priority' to prefer one"
            )
            self.ambiguities.append(message)

    def log_ambiguities(self) -> None:
        for message in self.ambiguities:
            log.warning("%s", message)

    def resolve(self, model: str) -> list[Candidate]:
        """Candidates for ``model``, highest priority first; 404 ``model_not_found`` if none."""
        found = self._routes.get(model)
        if found:
            return found
        prefix, sep, rest = model.partition("/")
        if sep and rest:
            creds = self._any.get(prefix)
            if creds:
                candidates = [Candidate(c, rest) for c in creds if not c.excludes(rest)]
                if candidates:
                    candidates.sort(key=lambda c: -c.credential.priority)
                    return candidates
        raise self.not_found(model)

    def not_found(self, model: str) -> GatewayError:
        known = list(self._routes) + [f"{p}/..." for p in self._any]
        close = difflib.get_close_matches(model, known, n=3, cutoff=0.5)
        message = f"model '{model}' is not available on this gateway"
        if close:
            message += "; did you mean " + ", ".join(f"'{m}'" for m in close) + "?"
        else:
            message += "; GET /v1/models lists the models you can use"
        return GatewayError(
            status=404, kind=ErrorKind.MODEL_NOT_FOUND, message=message, param="model", code="model_not_found"
        )

    def models(self) -> list[ModelInfo]:
        """Every model id a client may request, sorted."""
        return [ModelInfo(model_id, cands[0].credential.provider) for model_id, cands in sorted(self._routes.items())]
