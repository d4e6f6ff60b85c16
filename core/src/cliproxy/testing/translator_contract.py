"""The translator contract: the properties every wire translator has, run by subclassing.

::

    from cliproxy.testing import Sample, TranslatorContract

    class TestMyWire(TranslatorContract):
        translator = MyWireTranslator()
        samples = [Sample(stream=Path("recorded.sse").read_bytes(), whole=Path("recorded.json").read_bytes())]

A translator with both roles (it decodes what it encodes) is checked on IR values drawn
by :mod:`cliproxy.testing.strategies`; an upstream-only one on ``samples`` of what its
upstream sends. See docs/plugins.md, "Testing your plugin".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy import ir
from cliproxy.errors import GatewayError
from cliproxy.testing.checks import Contract, check
from cliproxy.testing.strategies import decode_in_pieces, requests, responses
from cliproxy.translate import EncodeContext

__all__ = ["Sample", "TranslatorContract"]

_CLIENT_SIDE = ("decode_request", "encode_response", "stream_encoder")
_UPSTREAM_SIDE = ("encode_request", "decode_response", "stream_decoder")


@attrs.frozen
class Sample:
    """One answer as the translator's upstream sends it.

    Attributes:
        stream: The streamed answer's bytes, as they came off the network.
        whole: The same answer as a whole (not streamed) body, when the upstream has one:
            the stream folds to what it decodes to. Kiro-like upstreams that always stream
            pass the same bytes again.
        name: Names the sample in failure messages.
    """

    stream: bytes
    whole: bytes | None = None
    name: str = ""


class TranslatorContract(Contract):
    """The translator contract. Subclass it in a test module (named ``Test...``) and fill in:

    Attributes:
        translator: The translator under test (an instance).
        samples: Recorded answers of its upstream (:class:`Sample`); needed when the
            translator cannot encode responses itself (an upstream-only translator).
        request_strategy: IR requests to round-trip (default: ``strategies.requests()``);
            narrow it to what the wire carries.
        response_strategy: IR responses to round-trip and stream (default:
            ``strategies.responses()``).
        context: The :class:`~cliproxy.EncodeContext` responses are encoded with.
        examples: Hypothesis examples per property.
        opt_out: ``{check name: reason}`` for checks that cannot apply (an upstream-only
            translator has no request to decode: opt out of ``request_round_trip``).

    Override :meth:`normalize_request` / :meth:`normalize_response` to take out of both
    sides of a comparison what the wire cannot carry (they return the value unchanged).
    """

    translator: ClassVar[Any] = None
    samples: ClassVar[Sequence[Sample]] = ()
    request_strategy: ClassVar[st.SearchStrategy[ir.Request] | None] = None
    response_strategy: ClassVar[st.SearchStrategy[ir.Response] | None] = None
    context: ClassVar[EncodeContext] = EncodeContext(model="model-x", body={}, created=1)
    examples: ClassVar[int] = 50

    checks: ClassVar[Mapping[str, str]] = {
        "request_round_trip": "an IR request encoded for the upstream and decoded again is the same request",
        "response_round_trip": "an IR response encoded whole and decoded again is the same response",
        "stream_is_whole": "a streamed answer folds to the same response as the whole answer",
        "any_split": "a stream cut into pieces anywhere decodes to the same events as in one piece",
    }

    def normalize_request(self, request: ir.Request) -> ir.Request:
        """``request`` less what the wire cannot carry (applied to both sides)."""
        return request

    def normalize_response(self, response: ir.Response) -> ir.Response:
        """``response`` less what the wire cannot carry (applied to both sides)."""
        return response

    # -- checks ------------------------------------------------------------------------------

    @check("request_round_trip")
    def test_request_round_trip(self) -> None:
        translator = self._translator("request_round_trip", "encode_request", "decode_request")

        def prop(request: ir.Request) -> None:
            body = translator.encode_request(request, request.model)
            body = orjson.loads(orjson.dumps(body))  # what the upstream receives is JSON
            decoded = translator.decode_request(body, model=request.model, stream=request.stream)
            assert self.normalize_request(decoded) == self.normalize_request(request)

        self._run(prop, self.request_strategy or requests())

    @check("response_round_trip")
    def test_response_round_trip(self) -> None:
        translator = self._translator("response_round_trip", "encode_response", "decode_response")

        def prop(response: ir.Response) -> None:
            decoded = translator.decode_response(translator.encode_response(response, self.context))
            assert self.normalize_response(decoded) == self.normalize_response(response)

        self._run(prop, self.response_strategy or responses())

    @check("stream_is_whole")
    def test_stream_folds_to_the_whole_response(self) -> None:
        translator = self.translator
        wholes = [s for s in self.samples if s.whole is not None]
        if not wholes:
            self._translator("stream_is_whole", *_CLIENT_SIDE[1:], *_UPSTREAM_SIDE[1:], samples=True)
        for sample in wholes:
            assert sample.whole is not None
            streamed = self._outcome(_fold_stream, translator, sample.stream)
            whole = self._outcome(translator.decode_response, sample.whole)
            assert streamed == whole, (
                f"sample {sample.name or self.samples.index(sample)}: the stream folds to {streamed!r}, the whole "
                f"answer decodes to {whole!r}"
            )
        if _has(translator, *_CLIENT_SIDE[1:], *_UPSTREAM_SIDE[1:]):

            def prop(response: ir.Response) -> None:
                streamed = _fold(decode_in_pieces(translator.stream_decoder(), [self._encode_stream(response)]))
                whole = translator.decode_response(translator.encode_response(response, self.context))
                assert self.normalize_response(streamed) == self.normalize_response(whole)

            self._run(prop, self.response_strategy or responses())

    @check("any_split")
    def test_a_stream_split_anywhere_decodes_the_same(self) -> None:
        translator = self.translator
        if not self.samples:
            self._translator("any_split", "stream_encoder", "stream_decoder", samples=True)
        generated = (
            (self.response_strategy or responses()).map(
                lambda response: _Stream(f"the stream of {response!r}", self._encode_stream(response))
            )
            if _has(translator, "stream_encoder", "stream_decoder")
            else st.nothing()
        )
        named = [_Stream(f"sample {s.name or i}", s.stream) for i, s in enumerate(self.samples)]
        recorded = st.sampled_from(named) if named else st.nothing()

        @st.composite
        def cut(draw: Any) -> tuple[_Stream, list[int]]:
            stream = draw(recorded | generated)
            return stream, sorted(draw(st.lists(st.integers(0, len(stream.data)), max_size=12)))

        def prop(case: tuple[_Stream, list[int]]) -> None:
            stream, cuts = case
            pieces = [stream.data[start:end] for start, end in zip([0, *cuts], [*cuts, len(stream.data)], strict=True)]
            whole = decode_in_pieces(translator.stream_decoder(), [stream.data])
            assert decode_in_pieces(translator.stream_decoder(), pieces) == whole, f"{stream} decodes otherwise cut"

        self._run(prop, cut())

    # -- machinery ---------------------------------------------------------------------------

    def _translator(self, check_name: str, *members: str, samples: bool = False) -> Any:
        translator = self.translator
        if translator is None:
            pytest.fail(f"{type(self).__name__}.translator must be the translator to check", pytrace=False)
        missing = [m for m in members if not callable(getattr(translator, m, None))]
        if missing:
            name = type(translator).__name__
            give = "give samples of its upstream's answers, or " if samples else ""
            pytest.fail(
                f"{name} has no {', '.join(missing)}, which {check_name!r} needs: {give}opt out of "
                f"{check_name!r} with the reason",
                pytrace=False,
            )
        return translator

    def _outcome(self, decode: Callable[..., ir.Response], *args: Any) -> object:
        """The normalized response ``decode(*args)`` gives, or the error it raises (an
        answer that is an error must be the same error streamed and whole)."""
        try:
            return self.normalize_response(decode(*args))
        except GatewayError as error:
            return ("error", error.status, error.kind, error.message)

    def _encode_stream(self, response: ir.Response) -> bytes:
        encoder = self.translator.stream_encoder(self.context)
        return bytes(encoder.encode(list(ir.response_events(response))) + encoder.close())

    def _run(self, prop: Callable[[Any], None], strategy: st.SearchStrategy[Any]) -> None:
        run = settings(
            max_examples=self.examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            database=None,
        )(given(strategy)(prop))
        run()


class _Stream:
    """Stream bytes with a short name (Hypothesis shows it, not the bytes, on a failure)."""

    __slots__ = ("data", "name")

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data

    def __repr__(self) -> str:
        return f"<{self.name}: {len(self.data)} bytes>"


def _has(translator: object, *members: str) -> bool:
    return all(callable(getattr(translator, m, None)) for m in members)


def _fold_stream(translator: Any, data: bytes) -> ir.Response:
    return _fold(decode_in_pieces(translator.stream_decoder(), [data]))


def _fold(events: list[ir.StreamEvent]) -> ir.Response:
    builder = ir.ResponseBuilder()
    builder.feed(events)
    return builder.build()
