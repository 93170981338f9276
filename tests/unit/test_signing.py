"""Standard Webhooks signing: the reference vector, round trips and every refusal."""

from __future__ import annotations

import base64
import time

import pytest

from service.outbound import signing
from service.outbound.signing import SignatureError, headers, new_secret, sign, verify

BODY = b'{"type":"run.completed","data":{"run_id":"r1"}}'


def test_reference_vector_from_the_standard_webhooks_spec() -> None:
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_round_trip() -> None:
    secret = new_secret()
    sent = headers(secret, "evt-1", BODY)
    assert set(sent) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    verify(secret, sent, BODY)
    verify(secret, {k.title(): v for k, v in sent.items()}, BODY)  # header names any case


def test_wrong_secret_fails() -> None:
    sent = headers(new_secret(), "evt-1", BODY)
    with pytest.raises(SignatureError, match="no matching signature"):
        verify(new_secret(), sent, BODY)


def test_tampered_body_fails() -> None:
    secret = new_secret()
    sent = headers(secret, "evt-1", BODY)
    with pytest.raises(SignatureError):
        verify(secret, sent, BODY.replace(b"r1", b"r2"))


def test_tampered_id_or_timestamp_fails() -> None:
    secret = new_secret()
    sent = headers(secret, "evt-1", BODY)
    with pytest.raises(SignatureError):
        verify(secret, {**sent, "webhook-id": "evt-2"}, BODY)
    moved = str(int(sent["webhook-timestamp"]) - 1)
    with pytest.raises(SignatureError):
        verify(secret, {**sent, "webhook-timestamp": moved}, BODY)


def test_stale_and_future_timestamps_fail() -> None:
    secret = new_secret()
    now = int(time.time())
    old = headers(secret, "evt-1", BODY, timestamp=now - 301)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(secret, old, BODY)
    future = headers(secret, "evt-1", BODY, timestamp=now + 301)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(secret, future, BODY)
    verify(secret, old, BODY, tolerance=600)


def test_missing_or_malformed_headers_fail() -> None:
    secret = new_secret()
    sent = headers(secret, "evt-1", BODY)
    for name in sent:
        with pytest.raises(SignatureError, match="missing"):
            verify(secret, {k: v for k, v in sent.items() if k != name}, BODY)
    with pytest.raises(SignatureError, match="timestamp"):
        verify(secret, {**sent, "webhook-timestamp": "soon"}, BODY)
    with pytest.raises(SignatureError, match="malformed"):
        sign("whsec_not base64!", "evt-1", 1, BODY)


def test_any_of_several_signatures_verifies() -> None:
    """Receivers rotating secrets may see several space-separated signatures."""
    secret = new_secret()
    sent = headers(secret, "evt-1", BODY)
    other = sign(new_secret(), "evt-1", int(sent["webhook-timestamp"]), BODY)
    verify(secret, {**sent, "webhook-signature": f"{other} {sent['webhook-signature']}"}, BODY)


def test_id_is_stable_and_signature_follows_the_attempt_time() -> None:
    secret = new_secret()
    first = signing.headers(secret, "evt-1", BODY, timestamp=1_700_000_000)
    retry = signing.headers(secret, "evt-1", BODY, timestamp=1_700_000_060)
    assert first["webhook-id"] == retry["webhook-id"] == "evt-1"
    assert first["webhook-signature"] != retry["webhook-signature"]
    assert first == signing.headers(secret, "evt-1", BODY, timestamp=1_700_000_000)
