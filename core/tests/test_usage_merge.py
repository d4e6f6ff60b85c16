"""Usage.merge keeps the 'estimated' mark of the counts it keeps."""

from cliproxy.ir import Finish, ResponseBuilder, StreamFinish, Usage


def test_an_estimate_folded_into_nothing_stays_an_estimate():
    estimate = Usage(input_tokens=10, output_tokens=3, estimated=True)
    assert Usage().merge(estimate).estimated
    assert estimate.merge(Usage()).estimated
    assert not Usage(input_tokens=1).merge(estimate).estimated  # real counts were mixed in
    builder = ResponseBuilder()
    builder.add(StreamFinish(Finish(), estimate))
    assert builder.build().usage == estimate


def test_real_counts_stay_real():
    real = Usage(input_tokens=10, output_tokens=3)
    assert not Usage().merge(real).estimated
    assert Usage().merge(real) == real
