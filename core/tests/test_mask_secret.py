"""``mask_secret`` labels credentials without giving away the key."""

from __future__ import annotations

from cliproxy import mask_secret
from hypothesis import given
from hypothesis import strategies as st


def test_long_keys_show_four_characters_at_each_end():
    key = "sk-or-v1-0123456789abcdef0123456789abcdef9f3c"
    assert mask_secret(key) == "sk-o...9f3c"


def test_a_thirteen_character_key_shows_only_its_ends():
    # it used to show 12 of 13 characters ("sk-proj-...6789" of "sk-proj-x6789")
    assert mask_secret("sk-proj-x6789") == "sk...89"


def test_short_keys_show_only_their_length():
    assert mask_secret("hunter2") == "*** (7 chars)"
    assert mask_secret("0123456789a") == "*** (11 chars)"
    assert mask_secret("") == mask_secret(None) == "(none)"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=200))
def test_never_more_than_a_third_of_a_key_shows(key):
    masked = mask_secret(key)
    shown = masked.replace("...", "") if "..." in masked else ""
    assert len(shown) * 3 <= len(key)
    assert key not in masked or len(key) <= 2
