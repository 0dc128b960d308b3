"""The check that lets most activities skip the scrub never lets an unstorable character through."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.untrusted import may_hold_unstorable, scrub

# Every code point, surrogates included, with the unstorable ones made common.
_chars = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.sampled_from(["\x00", "\x07", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff", "\t", "\n", "한"]),
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(_chars, max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(_chars, max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def _bodies(value: object) -> list[bytes]:
    bodies = [json.dumps(value).encode()]
    unescaped = json.dumps(value, ensure_ascii=False)
    for encoding in ("utf-8", "utf-16", "utf-16-le", "utf-32"):
        bodies.append(unescaped.encode(encoding, "surrogatepass"))
    return bodies


@settings(max_examples=400, deadline=None)
@given(_json)
def test_whatever_the_reader_would_decode_to_something_unstorable_is_scrubbed(value):
    for body in _bodies(value):
        payload = json.loads(body)
        if scrub(payload) != payload:
            assert may_hold_unstorable(body), body


def test_ordinary_activities_skip_the_scrub():
    text = "Reported – Zoë’s 한국어 café\nline two"
    body = json.dumps({"type": "message", "text": text}, ensure_ascii=False)
    assert not may_hold_unstorable(body.encode())
    assert may_hold_unstorable(json.dumps({"text": "a\u0000b"}).encode())
