"""What a request cost: prices per model, and the cost of one answer's usage.

A :class:`Price` is USD per million tokens of each kind: fresh input, output (reasoning
included, as every vendor bills it), cache reads and cache writes -- and, for models billed
higher past a prompt length (Gemini 2.5/3 Pro, Claude Sonnet 4/4.5, Claude Haiku 5.5),
the price of a longer prompt. :data:`CATALOGUE` holds the public list prices of the models
the bundled plugins serve; a :class:`PriceTable` adds the config's ``pricing:`` overrides
(model globs) in front of it and answers :meth:`PriceTable.cost`.

Costs are integers in nano-dollars (1e-9 USD), so they add up exactly in counters; a
model the table does not know costs ``None`` -- unknown, never 0. When the upstream reports
what the request cost (OpenRouter's ``usage.cost``, carried as :attr:`Usage.cost`), that
figure is used instead of the table. The price of a subscription account's model
(Claude Code, Gemini CLI, Kiro sign-ins) is the pay-as-you-go list price: what the same
tokens would cost on the API.

Usage follows the IR's convention (:class:`cliproxy.ir.Usage`): ``input_tokens`` is the
whole prompt, cache reads and writes included; ``output_tokens`` includes reasoning.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Iterable, Mapping

import attrs

from cliproxy.ir import Usage

__all__ = [
    "CATALOGUE",
    "NANOS_PER_USD",
    "Price",
    "PriceTable",
    "catalogue_key",
    "nanos_to_usd",
    "usd_to_nanos",
]

NANOS_PER_USD = 1_000_000_000
_NANOS_PER_USD_PER_MTOK = 1000  # one token at $1 per million tokens costs 1000 nano-dollars
_CACHE_LIMIT = 1024  # model names whose price a table remembers


def usd_to_nanos(usd: float) -> int:
    """``usd`` in nano-dollars, rounded."""
    return round(usd * NANOS_PER_USD)


def nanos_to_usd(nanos: int) -> float:
    """Nano-dollars as USD (for display and JSON)."""
    return nanos / NANOS_PER_USD


@attrs.frozen(slots=True)
class Price:
    """USD per million tokens of one model.

    Attributes:
        input: Fresh (uncached) prompt tokens.
        output: Generated tokens, reasoning included.
        cache_read: Prompt tokens read from the cache; None: billed as ``input``.
        cache_write: Prompt tokens written to the cache; None: billed as ``input``. (The
            usage does not say how long an entry is cached, so Anthropic's 5-minute rate
            is the one listed.)
        above: A prompt (input, cache reads and writes) longer than this many tokens is
            billed at ``longer`` -- all of its tokens, output included.
        longer: The price of such a prompt.
    """

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    above: int | None = None
    longer: Price | None = None

    def cost(self, usage: Usage) -> int:
        """Nano-dollars for ``usage`` at these prices."""
        prompt = usage.input_tokens or 0
        if self.above is not None and self.longer is not None and prompt > self.above:
            return self.longer.cost(usage)
        read = usage.cache_read_tokens or 0
        written = usage.cache_write_tokens or 0
        fresh = max(0, prompt - read - written)
        read_price = self.input if self.cache_read is None else self.cache_read
        write_price = self.input if self.cache_write is None else self.cache_write
        per_mtok = (
            fresh * self.input + read * read_price + written * write_price + (usage.output_tokens or 0) * self.output
        )
        return round(per_mtok * _NANOS_PER_USD_PER_MTOK)

    def as_dict(self) -> dict[str, float | int | dict[str, float] | None]:
        out: dict[str, float | int | dict[str, float] | None] = {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
        }
        if self.above is not None and self.longer is not None:
            out["above_tokens"] = self.above
            out["longer"] = {k: v for k, v in self.longer.as_dict().items() if isinstance(v, float)}
        return out


@attrs.frozen(slots=True)
class Listed:
    """One catalogue price of a model, in force from ``since`` (``YYYY-MM-DD``, UTC; None:
    always) until a later listing of the same model."""

    model: str
    price: Price
    since: str | None = None


def _claude(input: float, output: float, read: float, write: float, **longer: float | int) -> Price:
    if not longer:
        return Price(input, output, read, write)
    above = int(longer.pop("above"))
    tier = Price(float(longer["i"]), float(longer["o"]), float(longer["r"]), float(longer["w"]))
    return Price(input, output, read, write, above, tier)


# Anthropic: https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing",
# "Long context pricing"), as published on 2026-10-24 (Sonnet 5.5's cache-read cut of
# 2026-10-07 and Claude Haiku 5.5's two prompt-length bands included) and re-checked against
# the model overview pages (platform.claude.com/docs/en/models/...) of 2026-12-01.
# Cache writes: the 5-minute rate (1.25x input); 1-hour writes cost 2x input.
_OPUS_45 = _claude(5, 25, 0.50, 6.25)
_OPUS_4 = _claude(15, 75, 1.50, 18.75)
_SONNET_4 = _claude(3, 15, 0.30, 3.75, above=200_000, i=6, o=22.50, r=0.60, w=7.50)
_SONNET_46 = _claude(3, 15, 0.30, 3.75)
_SONNET_5 = _claude(2, 10, 0.20, 2.50)
_FABLE_5 = _claude(10, 50, 1, 12.50)
_FABLE_51 = _claude(10, 50, 0.25, 12.50)
_ANTHROPIC: tuple[Listed, ...] = (
    Listed("claude-fable-5-1", _FABLE_51),
    Listed("claude-mythos-5-1", _FABLE_51),
    Listed("claude-fable-5", _FABLE_5),
    Listed("claude-mythos-5", _FABLE_5),
    Listed("claude-opus-5-5", _claude(4, 20, 0.20, 5)),
    Listed("claude-opus-5", _OPUS_45),
    Listed("claude-opus-4-8", _OPUS_45),
    Listed("claude-opus-4-7", _OPUS_45),
    Listed("claude-opus-4-6", _OPUS_45),
    Listed("claude-opus-4-5", _OPUS_45),
    Listed("claude-opus-4-1", _OPUS_4),
    Listed("claude-opus-4", _OPUS_4),
    Listed("claude-opus-4-0", _OPUS_4),
    Listed("claude-sonnet-5-5", _SONNET_5),
    Listed("claude-sonnet-5-5", _claude(2, 10, 0.10, 2.50), since="2026-10-07"),
    Listed("claude-sonnet-5", _SONNET_5),
    Listed("claude-sonnet-4-6", _SONNET_46),
    Listed("claude-sonnet-4-5", _SONNET_4),
    Listed("claude-sonnet-4", _SONNET_4),
    Listed("claude-sonnet-4-0", _SONNET_4),
    Listed("claude-3-7-sonnet", _SONNET_46),
    Listed("claude-haiku-5-5", _claude(0.10, 0.50, 0.01, 0.125, above=100_000, i=0.50, o=2.50, r=0.05, w=0.625)),
    Listed("claude-haiku-4-5", _claude(1, 5, 0.10, 1.25)),
    Listed("claude-3-5-haiku", _claude(0.80, 4, 0.08, 1)),
    Listed("claude-3-haiku", _claude(0.25, 1.25, 0.03, 0.30)),
)

# Google: https://ai.google.dev/gemini-api/docs/pricing (paid tier, text input), as published
# on 2026-09-20 and 2026-10-07 (Gemini 3.8 Flash: its introductory price through 2026-12-31,
# the list price from 2027-01-01); Gemini 3 Flash and 3.1 Flash-Lite cache prices as of
# 2026-03-03. Output includes thinking tokens. Gemini bills no cache writes (it bills cache
# storage per hour, which no request reports). Not listed, so unknown: Gemini 3.6 and 3.7 Flash.
_GEMINI_3_PRO = Price(2, 12, 0.20, None, 200_000, Price(4, 18, 0.40))
_GOOGLE: tuple[Listed, ...] = (
    Listed("gemini-3.8-flash", Price(0.75, 3.75)),
    Listed("gemini-3.8-flash", Price(1.50, 7.50), since="2027-01-01"),
    Listed("gemini-3.5-flash", Price(1.50, 9)),
    Listed("gemini-3.5-flash-lite", Price(0.30, 2.50)),
    Listed("gemini-3.1-pro", _GEMINI_3_PRO),
    Listed("gemini-3.1-flash-lite", Price(0.25, 1.50, 0.025)),
    Listed("gemini-3-pro", _GEMINI_3_PRO),
    Listed("gemini-3-flash", Price(0.50, 3, 0.05)),
    Listed("gemini-2.5-pro", Price(1.25, 10, 0.125, None, 200_000, Price(2.50, 15, 0.25))),
    Listed("gemini-2.5-flash", Price(0.30, 2.50, 0.03)),
    Listed("gemini-2.5-flash-lite", Price(0.10, 0.40, 0.01)),
)

# OpenAI: https://platform.openai.com/docs/pricing (standard tier), as published in June 2026
# (GPT-5.5, GPT-5.4) and May 2026 (the Codex models, GPT-5.2), and in August 2025 for GPT-5,
# GPT-4.1, GPT-4o and the o-series. No cache writes are billed; a model without a cached-input
# price (the -pro models) bills cached tokens as input.
_GPT_5 = Price(1.25, 10, 0.125)
_GPT_52 = Price(1.75, 14, 0.175)
_OPENAI: tuple[Listed, ...] = (
    Listed("gpt-5.5", Price(5, 30, 0.50)),
    Listed("gpt-5.5-pro", Price(30, 180)),
    Listed("gpt-5.4", Price(2.50, 15, 0.25)),
    Listed("gpt-5.4-mini", Price(0.75, 4.50, 0.075)),
    Listed("gpt-5.4-nano", Price(0.20, 1.25, 0.02)),
    Listed("gpt-5.4-pro", Price(30, 180)),
    Listed("gpt-5.3-codex", _GPT_52),
    Listed("gpt-5.2", _GPT_52),
    Listed("gpt-5.2-codex", _GPT_52),
    Listed("gpt-5.1", _GPT_5),
    Listed("gpt-5.1-codex", _GPT_5),
    Listed("gpt-5.1-codex-max", _GPT_5),
    Listed("gpt-5.1-codex-mini", Price(0.25, 2, 0.025)),
    Listed("gpt-5", _GPT_5),
    Listed("gpt-5-codex", _GPT_5),
    Listed("gpt-5-mini", Price(0.25, 2, 0.025)),
    Listed("gpt-5-nano", Price(0.05, 0.40, 0.005)),
    Listed("gpt-4.1", Price(2, 8, 0.50)),
    Listed("gpt-4.1-mini", Price(0.40, 1.60, 0.10)),
    Listed("gpt-4.1-nano", Price(0.10, 0.40, 0.025)),
    Listed("gpt-4o", Price(2.50, 10, 1.25)),
    Listed("gpt-4o-mini", Price(0.15, 0.60, 0.075)),
    Listed("o3", Price(2, 8, 0.50)),
    Listed("o4-mini", Price(1.10, 4.40, 0.275)),
)

CATALOGUE: tuple[Listed, ...] = _ANTHROPIC + _GOOGLE + _OPENAI
"""The built-in list prices (see the sources above each group in this module)."""

_VERSION_TAIL = re.compile(
    r"(?:-\d{8}|-\d{4}-\d{2}-\d{2}|-\d{3}|-latest|-thinking|-preview(?:-[a-z0-9-]*)?|\[[^\]]*\])$"
)


def catalogue_key(model: str) -> str:
    """The catalogue's name for ``model``: lower case, without a ``models/`` or vendor
    prefix (``anthropic/``), version tails (``-20250929``, ``-2025-08-07``, ``-001``,
    ``-latest``, ``-preview...``, ``[1m]``), and Claude versions with dashes (Kiro and
    OpenRouter write ``claude-sonnet-4.5``)."""
    name = model.strip().lower().rpartition("/")[2]
    while True:
        shorter = _VERSION_TAIL.sub("", name)
        if shorter == name:
            break
        name = shorter
    if name.startswith("claude-"):
        name = name.replace(".", "-")
    return name


def _specificity(pattern: str) -> tuple[bool, int]:
    """How closely a glob names models: an exact name first, then more literal characters."""
    wild = sum(pattern.count(c) for c in "*?[")
    return wild == 0, len(pattern) - wild


@attrs.frozen(eq=False)
class PriceTable:
    """The prices a gateway charges by: ``overrides`` (the config's ``pricing:``, model
    globs, the most specific matching one wins: an exact name, then the glob with the most
    literal characters), then the :data:`CATALOGUE`.

    Tables compare by their overrides (a reload that changes none keeps "the same" table).
    """

    overrides: tuple[tuple[str, Price], ...] = ()
    catalogue: tuple[Listed, ...] = attrs.field(default=CATALOGUE, repr=False)
    _listed: dict[str, tuple[tuple[str, Price], ...]] = attrs.field(init=False, repr=False)
    _found: dict[str, tuple[tuple[str, Price], ...]] = attrs.field(init=False, repr=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        listed: dict[str, list[tuple[str, Price]]] = {}
        for entry in self.catalogue:
            listed.setdefault(entry.model, []).append((entry.since or "", entry.price))
        by_model = {model: tuple(sorted(prices, key=lambda p: p[0])) for model, prices in listed.items()}
        object.__setattr__(self, "_listed", by_model)
        ordered = tuple(sorted(self.overrides, key=lambda o: _specificity(o[0]), reverse=True))
        object.__setattr__(self, "overrides", ordered)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PriceTable):
            return NotImplemented
        return set(self.overrides) == set(other.overrides) and self.catalogue == other.catalogue

    def __hash__(self) -> int:
        return hash(frozenset(self.overrides))

    @classmethod
    def of(cls, overrides: Mapping[str, Price] | Iterable[tuple[str, Price]] = ()) -> PriceTable:
        items = overrides.items() if isinstance(overrides, Mapping) else overrides
        return cls(tuple(items))

    def price_for(self, model: str, day: str | None = None) -> Price | None:
        """The price of ``model`` on ``day`` (``YYYY-MM-DD``, UTC; None: today); None when
        neither the overrides nor the catalogue know it."""
        prices = self._found.get(model)
        if prices is None:
            prices = self._lookup(model)
            if len(self._found) >= _CACHE_LIMIT:
                self._found.clear()
            self._found[model] = prices
        if not prices:
            return None
        if day is None:
            day = time.strftime("%Y-%m-%d", time.gmtime())
        chosen = prices[0][1]
        for since, price in prices:
            if since <= day:
                chosen = price
        return chosen

    def _lookup(self, model: str) -> tuple[tuple[str, Price], ...]:
        key = catalogue_key(model)
        for pattern, price in self.overrides:
            if fnmatch.fnmatchcase(model, pattern) or fnmatch.fnmatchcase(key, pattern):
                return (("", price),)
        return self._listed.get(key, ())

    def cost(self, model: str, usage: Usage | None, day: str | None = None) -> int | None:
        """Nano-dollars ``usage`` of ``model`` cost on ``day``: what the upstream reported
        when it did, else the table's price; 0 for no tokens; None when the model has no
        price (unknown, not free)."""
        if usage is None:
            return 0
        if usage.cost is not None and usage.cost >= 0:
            return usd_to_nanos(usage.cost)
        if not (usage.input_tokens or usage.output_tokens):
            return 0
        price = self.price_for(model, day)
        return None if price is None else price.cost(usage)
