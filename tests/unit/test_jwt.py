"""Bearer-token verification under the safe profile (RELIABILITY S1).

Tokens are built here with ``hmac`` and ``cryptography`` directly, not with python-jose,
so the probes stay meaningful if the library behind ``service.auth.jwt`` is swapped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from service.auth.jwt import TokenVerifier, mint_token
from service.domain.principal import Principal
from service.errors import NotAuthenticated
from service.settings import Environment, Settings, TrustedIssuer

SECRET = "unit-test-secret-" + "s" * 40
AUD = "countersign"
DEV_ISS = "countersign-dev"
ISS_RSA = "https://idp-rsa.example.test"  # RS256, keys rsa-1 and rsa-2
ISS_EC = "https://idp-ec.example.test"  # ES256, keys ec-1 and ec-2
ISS_SINGLE = "https://idp-single.example.test"  # RS256, one usable key (rsa-3) plus junk
ISS_TWIN = "https://idp-twin.example.test"  # RS256, reuses kid "rsa-1" for another key
ISS_MIXED = "https://idp-mixed.example.test"  # RS256 + ES256, rsa-1 and ec-1
ISS_URL = "https://idp-url.example.test"
JWKS_URL = "https://idp-url.example.test/.well-known/jwks.json"

ALLOWED_DETAILS = {
    "Missing bearer token.",
    "Invalid token.",
    "Token expired.",
    "Token issuer not trusted.",
    "Token signing keys unavailable.",
}


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


RSA_1, RSA_2, RSA_3, RSA_TWIN, RSA_ATTACKER = (_rsa() for _ in range(5))
EC_1, EC_2 = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
RSA_1_PUBLIC_PEM = RSA_1.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


# --------------------------------------------------------------------------- helpers


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or (value.bit_length() + 7) // 8, "big")


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str | None) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    jwk: dict[str, Any] = {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "n": b64url(_int_bytes(numbers.n)),
        "e": b64url(_int_bytes(numbers.e)),
    }
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "kid": kid,
        "crv": "P-256",
        "x": b64url(_int_bytes(numbers.x, 32)),
        "y": b64url(_int_bytes(numbers.y, 32)),
    }


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def signature(alg: str, key: Any, data: bytes) -> bytes:
    digest = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
    if alg.startswith("HS"):
        return hmac.new(key, data, getattr(hashlib, "sha" + alg[2:])).digest()
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), digest[alg[2:]]())
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest[alg[2:]]())))
        size = (key.curve.key_size + 7) // 8
        return _int_bytes(r, size) + _int_bytes(s, size)
    return b""  # "none"


def sign(
    claims: Any,
    *,
    alg: str,
    key: Any = None,
    kid: str | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    header.update(headers or {})
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64url(signature(alg, key, signing_input.encode()))}"


DROP = object()


def claims_for(iss: str, /, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": iss,
        "aud": AUD,
        "sub": "user-1",
        "tenant": "acme",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "jti-1",
        "roles": ["reviewer"],
    }
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def hs(*, secret: str = SECRET, alg: str = "HS256", headers: Any = None, **over: Any) -> str:
    return sign(claims_for(DEV_ISS, **over), alg=alg, key=secret.encode(), headers=headers)


def rs(
    *,
    iss: str = ISS_RSA,
    key: Any = RSA_1,
    kid: str | None = "rsa-1",
    alg: str = "RS256",
    headers: Any = None,
    **over: Any,
) -> str:
    return sign(claims_for(iss, **over), alg=alg, key=key, kid=kid, headers=headers)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.test,
        "data_dir": tmp_path / "data",
        "jwt_secret": SECRET,
        "jwt_issuer": DEV_ISS,
        "jwt_audience": AUD,
        "jwt_algorithms": ["HS256"],
    }
    values.update(overrides)
    return Settings(**values)


def write_jwks(path: Path, keys: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps({"keys": keys}))
    return str(path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    junk = [
        {"kty": "oct", "kid": "oct-1", "k": b64url(b"k" * 32)},  # symmetric: never used
        {**rsa_jwk(RSA_2, "enc-1"), "use": "enc"},  # encryption key: never used
    ]
    issuers = [
        TrustedIssuer(
            issuer=ISS_RSA,
            tenants="*",
            jwks=write_jwks(
                tmp_path / "rsa.json", [rsa_jwk(RSA_1, "rsa-1"), rsa_jwk(RSA_2, "rsa-2")]
            ),
        ),
        TrustedIssuer(
            issuer=ISS_EC,
            tenants=["acme", "globex"],
            jwks=write_jwks(tmp_path / "ec.json", [ec_jwk(EC_1, "ec-1"), ec_jwk(EC_2, "ec-2")]),
            algorithms=["ES256"],
        ),
        TrustedIssuer(
            issuer=ISS_SINGLE,
            tenants="globex",
            jwks=write_jwks(tmp_path / "single.json", [*junk, rsa_jwk(RSA_3, "rsa-3")]),
        ),
        TrustedIssuer(
            issuer=ISS_TWIN,
            tenants="*",
            jwks=write_jwks(tmp_path / "twin.json", [rsa_jwk(RSA_TWIN, "rsa-1")]),
        ),
        TrustedIssuer(
            issuer=ISS_MIXED,
            tenants="*",
            jwks=write_jwks(
                tmp_path / "mixed.json", [rsa_jwk(RSA_1, "rsa-1"), ec_jwk(EC_1, "ec-1")]
            ),
            algorithms=["RS256", "ES256"],
        ),
    ]
    return make_settings(tmp_path, jwt_issuers=issuers)


@pytest.fixture
async def verifier(settings: Settings) -> AsyncIterator[TokenVerifier]:
    v = TokenVerifier(settings)
    yield v
    await v.aclose()


async def assert_rejected(verifier: TokenVerifier, token: Any) -> NotAuthenticated:
    with pytest.raises(NotAuthenticated) as excinfo:
        await verifier.verify(token)
    error = excinfo.value
    assert error.status_code == 401
    assert error.detail in ALLOWED_DETAILS
    if isinstance(token, str) and token:
        assert token not in error.detail
    return error


# --------------------------------------------------------------------------- refusals


def _now() -> int:
    return int(time.time())


def _tampered() -> str:
    header, _, sig = hs().split(".")
    return f"{header}.{segment(claims_for(DEV_ISS, tenant='other'))}.{sig}"


def _none_token(alg: str, sig: str) -> str:
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims_for(DEV_ISS))}.{sig}"


PROBES: list[tuple[str, Callable[[], Any]]] = [
    # shape
    ("empty", lambda: ""),
    ("not-a-string", lambda: None),
    ("whitespace", lambda: "   "),
    ("garbled", lambda: "this-is-not-a-token"),
    ("two-segments", lambda: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0"),
    ("four-segments", lambda: hs() + ".AAAA"),
    ("bearer-prefix-left-in", lambda: "Bearer " + hs()),
    ("segments-not-json", lambda: "aaaa.bbbb.cccc"),
    ("header-not-object", lambda: f"{segment([1])}.{segment(claims_for(DEV_ISS))}.AAAA"),
    ("payload-not-object", lambda: sign(["x"], alg="HS256", key=SECRET.encode())),
    ("oversized", lambda: hs(padding="x" * 9000)),
    # alg and header
    ("alg-none-unsigned", lambda: _none_token("none", "")),
    ("alg-none-with-signature", lambda: _none_token("none", "AAAA")),
    ("alg-none-mixed-case", lambda: _none_token("NoNe", "AAAA")),
    ("alg-missing", lambda: f"{segment({'typ': 'JWT'})}.{segment(claims_for(DEV_ISS))}.AAAA"),
    ("hs384-not-configured", lambda: hs(alg="HS384")),
    ("hs256-wrong-secret", lambda: hs(secret="another-secret-" + "z" * 40)),
    ("tampered-payload", _tampered),
    (
        "hs256-signed-with-rsa-public-pem-to-rs-issuer",
        lambda: sign(claims_for(ISS_RSA), alg="HS256", key=RSA_1_PUBLIC_PEM, kid="rsa-1"),
    ),
    ("rs256-to-hs-issuer", lambda: rs(iss=DEV_ISS)),
    ("hs256-with-secret-to-rs-issuer", lambda: hs(iss=ISS_RSA)),
    (
        "hs256-with-oct-key-from-jwks",
        lambda: sign(claims_for(ISS_SINGLE), alg="HS256", key=b"k" * 32, kid="oct-1"),
    ),
    ("rs512-not-allowed-for-issuer", lambda: rs(alg="RS512")),
    ("es256-alg-on-rsa-kid", lambda: rs(iss=ISS_MIXED, key=EC_1, alg="ES256", kid="rsa-1")),
    ("crit-header", lambda: rs(headers={"crit": ["exp"], "exp": 1})),
    ("jku-header", lambda: rs(headers={"jku": "https://evil.example.test/jwks.json"})),
    ("x5u-header", lambda: rs(headers={"x5u": "https://evil.example.test/cert.pem"})),
    ("x5c-header", lambda: rs(headers={"x5c": ["MIIB"]})),
    (
        "jwk-header-with-attacker-key",
        lambda: rs(key=RSA_ATTACKER, headers={"jwk": rsa_jwk(RSA_ATTACKER, "rsa-1")}),
    ),
    ("kid-not-a-string", lambda: rs(kid=None, headers={"kid": 1})),
    # key selection
    ("unknown-kid", lambda: rs(kid="rsa-404")),
    ("kidless-with-two-keys", lambda: rs(kid=None)),
    ("enc-key-kid", lambda: rs(iss=ISS_SINGLE, key=RSA_2, kid="enc-1")),
    ("issuer-a-key-claims-issuer-b", lambda: rs(iss=ISS_SINGLE, kid="rsa-1")),
    ("issuer-a-key-claims-issuer-b-no-kid", lambda: rs(iss=ISS_SINGLE, kid=None)),
    ("issuer-a-key-claims-issuer-b-same-kid", lambda: rs(iss=ISS_TWIN, kid="rsa-1")),
    ("issuer-a-key-claims-es-issuer", lambda: rs(iss=ISS_EC, key=EC_1, alg="ES256", kid="rsa-1")),
    ("rs-signed-by-unlisted-key", lambda: rs(key=RSA_ATTACKER)),
    # registered claims
    ("expired", lambda: hs(iat=_now() - 7200, nbf=_now() - 7200, exp=_now() - 3600)),
    ("expired-rs", lambda: rs(iat=_now() - 7200, nbf=_now() - 7200, exp=_now() - 3600)),
    ("nbf-in-future", lambda: hs(nbf=_now() + 3600)),
    ("iat-in-future", lambda: hs(iat=_now() + 3600, nbf=DROP, exp=_now() + 4000)),
    ("exp-before-iat", lambda: hs(iat=_now() + 20, nbf=DROP, exp=_now() + 10)),
    ("lifetime-over-max", lambda: hs(exp=_now() + 2 * 24 * 3600)),
    ("exp-as-string", lambda: hs(exp=str(_now() + 600))),
    ("exp-infinite", lambda: hs(exp=float("inf"))),
    ("exp-null", lambda: hs(exp=None)),
    ("wrong-aud", lambda: hs(aud="someone-else")),
    ("aud-list-without-ours", lambda: rs(aud=["a", "b"])),
    ("unknown-iss", lambda: hs(iss="https://evil.example.test")),
    ("iss-not-a-string", lambda: hs(iss=["countersign-dev"])),
    ("missing-iss", lambda: hs(iss=DROP)),
    ("missing-aud", lambda: hs(aud=DROP)),
    ("missing-exp", lambda: hs(exp=DROP)),
    ("missing-iat", lambda: hs(iat=DROP)),
    ("missing-sub", lambda: hs(sub=DROP)),
    ("sub-not-a-string", lambda: hs(sub=42)),
    ("sub-bad-shape", lambda: hs(sub="user one")),
    ("jti-not-a-string", lambda: hs(jti=5)),
    # service claims
    ("missing-tenant", lambda: hs(tenant=DROP)),
    ("tenant-bad-slug", lambda: hs(tenant="Acme:x")),
    ("tenant-trailing-newline", lambda: hs(tenant="acme\n")),
    ("tenant-not-a-string", lambda: hs(tenant=7)),
    ("roles-not-a-list", lambda: hs(roles="admin")),
    ("roles-list-with-non-string", lambda: hs(roles=["admin", 1])),
    ("roles-null", lambda: hs(roles=None)),
]


@pytest.mark.parametrize("make_token", [p[1] for p in PROBES], ids=[p[0] for p in PROBES])
async def test_refused(
    verifier: TokenVerifier, make_token: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="service.auth.jwt")
    token = make_token()
    await assert_rejected(verifier, token)
    if isinstance(token, str) and token.strip():
        assert token not in caplog.text


async def test_expired_detail_only_for_valid_signature(verifier: TokenVerifier) -> None:
    old = {"iat": _now() - 7200, "nbf": _now() - 7200, "exp": _now() - 3600}
    assert (await assert_rejected(verifier, hs(**old))).detail == "Token expired."
    forged = hs(secret="another-secret-" + "z" * 40, **old)
    assert (await assert_rejected(verifier, forged)).detail == "Invalid token."


async def test_a_verified_token_is_reused_until_it_expires(
    verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = hs(iat=_now() - 60, nbf=_now() - 60, exp=_now() + 60)
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    # past exp + leeway (30 s) the reused token is refused as any expired token is
    later = time.time() + 91
    monkeypatch.setattr(time, "time", lambda: later)
    assert (await assert_rejected(verifier, token)).detail == "Token expired."


async def test_a_reused_token_is_verified_again_after_a_minute(
    verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = 0
    full_check = verifier._verify

    async def counted(token: str) -> tuple[Principal, float]:
        nonlocal checks
        checks += 1
        return await full_check(token)

    monkeypatch.setattr(verifier, "_verify", counted)
    clock = [1000.0]
    monkeypatch.setattr(verifier, "_clock", lambda: clock[0])
    token = hs()
    for _ in range(3):
        await verifier.verify(token)
    assert checks == 1
    clock[0] += 61
    await verifier.verify(token)
    assert checks == 2
    # a token that differs in its signature alone is never taken for the reused one
    head, body, _ = token.split(".")
    assert (await assert_rejected(verifier, f"{head}.{body}.AAAA")).detail == "Invalid token."


async def test_unknown_issuer_detail(verifier: TokenVerifier) -> None:
    error = await assert_rejected(verifier, hs(iss="https://evil.example.test"))
    assert error.detail == "Token issuer not trusted."


async def test_hs_disabled_without_secret(tmp_path: Path) -> None:
    jwks = write_jwks(tmp_path / "rsa.json", [rsa_jwk(RSA_1, "rsa-1")])
    settings = make_settings(
        tmp_path,
        env=Environment.production,
        jwt_secret="",
        database_url="postgresql://app@localhost/countersign",
        jwt_issuers=[TrustedIssuer(issuer=ISS_RSA, jwks=jwks, tenants="*")],
    )
    verifier = TokenVerifier(settings)
    error = await assert_rejected(verifier, hs(secret=""))
    assert error.detail == "Token issuer not trusted."
    assert (await verifier.verify(rs())).subject == "user-1"
    await verifier.aclose()


# --------------------------------------------------------------------------- acceptance


async def test_probe_baselines_verify(verifier: TokenVerifier) -> None:
    """Each refusal probe changes one thing in these tokens, which verify as they are."""
    expected = Principal(
        tenant_id="acme", subject="user-1", token_roles=frozenset({"reviewer"}), token_id="jti-1"
    )
    assert await verifier.verify(hs()) == expected
    assert await verifier.verify(rs()) == expected


async def test_minted_token_verifies(verifier: TokenVerifier, settings: Settings) -> None:
    token = mint_token(
        settings, tenant="acme", subject="alice@example.com", roles=["reviewer", "admin"]
    )
    principal = await verifier.verify(token)
    assert principal.tenant_id == "acme"
    assert principal.subject == "alice@example.com"
    assert principal.token_roles == frozenset({"reviewer", "admin"})
    assert principal.token_id is not None
    assert len(principal.token_id) == 32


async def test_minted_token_claims(settings: Settings) -> None:
    token = mint_token(settings, tenant="acme", subject="bob", ttl_seconds=120)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert header["alg"] == "HS256"
    assert claims["iss"] == DEV_ISS
    assert claims["aud"] == AUD
    assert claims["tenant"] == "acme"
    assert claims["exp"] - claims["iat"] == 120
    assert claims["nbf"] == claims["iat"]
    assert "roles" not in claims
    assert isinstance(claims["jti"], str)


async def test_minted_token_without_roles(verifier: TokenVerifier, settings: Settings) -> None:
    principal = await verifier.verify(mint_token(settings, tenant="demo", subject="bob"))
    assert principal == Principal(
        tenant_id="demo", subject="bob", token_roles=frozenset(), token_id=principal.token_id
    )


async def test_custom_tenant_claim(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, jwt_tenant_claim="https://countersign.dev/tenant")
    verifier = TokenVerifier(settings)
    principal = await verifier.verify(mint_token(settings, tenant="acme", subject="carol"))
    assert principal.tenant_id == "acme"
    await assert_rejected(verifier, hs())  # plain "tenant" claim is not the configured one
    await verifier.aclose()


@pytest.mark.parametrize(
    ("iss", "key", "alg", "kid"),
    [
        (ISS_RSA, RSA_1, "RS256", "rsa-1"),
        (ISS_RSA, RSA_2, "RS256", "rsa-2"),
        (ISS_EC, EC_1, "ES256", "ec-1"),
        (ISS_EC, EC_2, "ES256", "ec-2"),
        (ISS_MIXED, RSA_1, "RS256", "rsa-1"),
        (ISS_MIXED, EC_1, "ES256", "ec-1"),
        (ISS_SINGLE, RSA_3, "RS256", None),
        (ISS_SINGLE, RSA_3, "RS256", "rsa-3"),
    ],
    ids=[
        "rs-kid1",
        "rs-kid2",
        "es-kid1",
        "es-kid2",
        "mixed-rs",
        "mixed-es",
        "single-nokid",
        "single",
    ],
)
async def test_jwks_token_verifies(
    verifier: TokenVerifier, iss: str, key: Any, alg: str, kid: str | None
) -> None:
    token = rs(iss=iss, key=key, alg=alg, kid=kid, tenant="globex", sub="svc|bot-7", roles=[])
    assert await verifier.verify(token) == Principal(
        tenant_id="globex", subject="svc|bot-7", token_roles=frozenset(), token_id="jti-1"
    )


async def test_key_of_one_kid_does_not_verify_another(verifier: TokenVerifier) -> None:
    await assert_rejected(verifier, rs(key=RSA_2, kid="rsa-1"))
    await assert_rejected(verifier, rs(iss=ISS_EC, key=EC_2, alg="ES256", kid="ec-1"))


async def test_within_leeway_and_list_audience(verifier: TokenVerifier) -> None:
    token = hs(iat=_now() - 600, nbf=_now() + 10, exp=_now() - 10, aud=["other", AUD], jti=DROP)
    principal = await verifier.verify(token)
    assert principal.token_id is None
    assert principal.token_roles == frozenset({"reviewer"})


async def test_jwks_file_read_once(tmp_path: Path) -> None:
    path = tmp_path / "rsa.json"
    settings = make_settings(
        tmp_path,
        jwt_issuers=[
            TrustedIssuer(issuer=ISS_RSA, jwks=write_jwks(path, [rsa_jwk(RSA_1, "k")]), tenants="*")
        ],
    )
    verifier = TokenVerifier(settings)
    assert (await verifier.verify(rs(kid="k"))).tenant_id == "acme"
    path.unlink()
    assert (await verifier.verify(rs(kid="k"))).tenant_id == "acme"
    await assert_rejected(verifier, rs(kid="other"))
    await verifier.aclose()


async def test_missing_jwks_file_is_401(tmp_path: Path) -> None:
    issuer = TrustedIssuer(issuer=ISS_RSA, jwks=str(tmp_path / "absent.json"), tenants="*")
    verifier = TokenVerifier(make_settings(tmp_path, jwt_issuers=[issuer]))
    error = await assert_rejected(verifier, rs())
    assert error.detail == "Token signing keys unavailable."
    await verifier.aclose()


# --------------------------------------------------------------------------- JWKS over https


class FakeIdp:
    def __init__(self) -> None:
        self.keys = [rsa_jwk(RSA_1, "rsa-1")]
        self.status = 200
        self.calls = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        self.calls += 1
        return httpx.Response(self.status, json={"keys": self.keys})


def url_verifier(tmp_path: Path, idp: FakeIdp, clock: list[float]) -> TokenVerifier:
    issuer = TrustedIssuer(issuer=ISS_URL, jwks=JWKS_URL, tenants="acme")
    verifier = TokenVerifier(make_settings(tmp_path, jwt_issuers=[issuer]))
    verifier._client = httpx.AsyncClient(transport=httpx.MockTransport(idp.handler))
    verifier._clock = lambda: clock[0]
    return verifier


async def test_jwks_url_cache_and_refetch(tmp_path: Path) -> None:
    idp, clock = FakeIdp(), [1000.0]
    verifier = url_verifier(tmp_path, idp, clock)
    client = verifier._client
    assert client is not None

    assert (await verifier.verify(rs(iss=ISS_URL))).subject == "user-1"
    clock[0] = 1100.0
    await verifier.verify(rs(iss=ISS_URL))
    assert idp.calls == 1  # cached

    idp.keys.append(rsa_jwk(RSA_2, "rsa-2"))  # rotation: unknown kid triggers a refetch
    clock[0] = 1105.0
    await verifier.verify(rs(iss=ISS_URL, key=RSA_2, kid="rsa-2"))
    assert idp.calls == 2

    clock[0] = 1110.0  # unknown kid again, within 30 s of the last fetch: no refetch
    await assert_rejected(verifier, rs(iss=ISS_URL, kid="rsa-9"))
    assert idp.calls == 2
    clock[0] = 1140.0
    await assert_rejected(verifier, rs(iss=ISS_URL, kid="rsa-9"))
    assert idp.calls == 3

    clock[0] = 1500.0  # past the 5-minute cache
    await verifier.verify(rs(iss=ISS_URL))
    assert idp.calls == 4

    idp.status = 500  # refresh fails: the last good set keeps serving
    clock[0] = 1900.0
    await verifier.verify(rs(iss=ISS_URL))
    assert idp.calls == 5

    await verifier.aclose()
    assert client.is_closed
    assert verifier._client is None


async def test_jwks_url_unavailable_is_401_and_backs_off(tmp_path: Path) -> None:
    idp, clock = FakeIdp(), [50.0]
    idp.status = 503
    verifier = url_verifier(tmp_path, idp, clock)
    for _ in range(3):
        error = await assert_rejected(verifier, rs(iss=ISS_URL))
        assert error.detail == "Token signing keys unavailable."
    assert idp.calls == 1
    idp.status, clock[0] = 200, 81.0
    assert (await verifier.verify(rs(iss=ISS_URL))).tenant_id == "acme"
    assert idp.calls == 2
    await verifier.aclose()


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "issuers",
    [
        [TrustedIssuer(issuer=ISS_URL, jwks="http://idp.example.test/jwks.json", tenants="*")],
        [
            TrustedIssuer(issuer=ISS_RSA, jwks="a.json", tenants="*"),
            TrustedIssuer(issuer=ISS_RSA, jwks="b.json", tenants="*"),
        ],
        [TrustedIssuer(issuer=DEV_ISS, jwks="a.json", tenants="*")],
    ],
    ids=["plain-http-jwks", "duplicate-issuer", "issuer-collides-with-hs-issuer"],
)
def test_bad_issuer_config_refused(tmp_path: Path, issuers: list[TrustedIssuer]) -> None:
    with pytest.raises(ValueError, match="issuer"):
        TokenVerifier(make_settings(tmp_path, jwt_issuers=issuers))


def test_pem_secret_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HMAC"):
        TokenVerifier(make_settings(tmp_path, jwt_secret=RSA_1_PUBLIC_PEM.decode()))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tenant": "Acme:x", "subject": "u"}, "tenant"),
        ({"tenant": "acme", "subject": "bad subject"}, "subject"),
        ({"tenant": "acme", "subject": "u", "roles": "admin"}, "roles"),
        ({"tenant": "acme", "subject": "u", "ttl_seconds": 0}, "ttl_seconds"),
        ({"tenant": "acme", "subject": "u", "ttl_seconds": 2 * 24 * 3600}, "ttl_seconds"),
    ],
    ids=["bad-tenant", "bad-subject", "roles-as-string", "zero-ttl", "ttl-over-max"],
)
def test_mint_token_refuses_bad_input(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mint_token(make_settings(tmp_path), **kwargs)


def test_mint_token_needs_a_secret(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        env=Environment.production,
        jwt_secret="",
        database_url="postgresql://app@localhost/countersign",
        jwt_issuers=[TrustedIssuer(issuer=ISS_RSA, jwks="a.json", tenants="*")],
    )
    with pytest.raises(ValueError, match="secret"):
        mint_token(settings, tenant="acme", subject="u")


# --------------------------------------------------------------------------- issuer -> tenants


@pytest.mark.parametrize(
    ("iss", "key", "alg", "kid", "tenant", "accepted"),
    [
        (ISS_SINGLE, RSA_3, "RS256", "rsa-3", "globex", True),  # its one tenant
        (ISS_SINGLE, RSA_3, "RS256", "rsa-3", "acme", False),  # another tenant's data
        (ISS_EC, EC_1, "ES256", "ec-1", "globex", True),  # one of its list
        (ISS_EC, EC_1, "ES256", "ec-1", "initech", False),
        (ISS_RSA, RSA_1, "RS256", "rsa-1", "initech", True),  # "*": any tenant
    ],
    ids=["one-own", "one-other", "list-own", "list-other", "any"],
)
async def test_an_issuer_speaks_only_for_its_tenants(
    verifier: TokenVerifier, iss: str, key: Any, alg: str, kid: str, tenant: str, accepted: bool
) -> None:
    token = rs(iss=iss, key=key, alg=alg, kid=kid, tenant=tenant)
    if accepted:
        assert (await verifier.verify(token)).tenant_id == tenant
    else:
        error = await assert_rejected(verifier, token)
        assert "issuer" in error.detail.lower()


async def test_the_dev_issuer_speaks_for_any_tenant(verifier: TokenVerifier) -> None:
    for tenant in ("acme", "globex"):
        assert (await verifier.verify(hs(tenant=tenant))).tenant_id == tenant


def test_an_issuer_must_name_its_tenants(tmp_path: Path) -> None:
    jwks = str(tmp_path / "k.json")
    with pytest.raises(ValueError, match="name its tenants"):
        TrustedIssuer(issuer=ISS_RSA, jwks=jwks, tenants=[])
    with pytest.raises(ValueError, match="Field required"):
        TrustedIssuer(issuer=ISS_RSA, jwks=jwks)  # type: ignore[call-arg]
