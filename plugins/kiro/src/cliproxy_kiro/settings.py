"""What a Kiro credential needs to call the API (tokens live in the token manager)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

__all__ = ["DEFAULT_MAX_PAYLOAD_BYTES", "KiroSettings", "region_of"]

DEFAULT_MAX_PAYLOAD_BYTES = 1_085_435
"""Kiro refuses conversations whose body (image data aside) is much over a megabyte;
this is the limit other Kiro proxies measured. The gateway refuses larger ones itself,
with a message that says what to do, instead of spending a request on a vague 400."""

_ARN_REGION = re.compile(r"^arn:aws[\w-]*:codewhisperer:([a-z0-9-]+):")


def region_of(profile_arn: str | None) -> str | None:
    """The region named by a CodeWhisperer profile ARN."""
    if not profile_arn:
        return None
    match = _ARN_REGION.match(profile_arn)
    return match.group(1) if match else None


@attrs.frozen
class KiroSettings:
    """Per-credential settings.

    Attributes:
        base_url: The API base (default ``https://q.{region}.amazonaws.com``).
        region: The credential's region (the profile ARN's region wins for the API).
        profile_arn: The CodeWhisperer profile; a refresh may replace it.
        headers: Extra request headers.
        max_payload_bytes: Largest request body sent to Kiro.
    """

    base_url: str | None = None
    region: str | None = None
    profile_arn: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
