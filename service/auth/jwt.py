"""Bearer tokens: verify incoming JWTs, mint HS256 dev/test tokens.

This is the only module that imports python-jose, so the library can be swapped here.
python-jose is permissive by default (SPEC section 4): it accepts tokens without
``exp`` or ``aud`` unless told to require them, ignores ``kid`` when handed a key set,
ignores ``crit``, and accepts any header ``alg`` when ``algorithms=None``. So this
module parses the header itself, chooses exactly one key (``iss`` -> that issuer's key
set -> ``kid``), and gives python-jose only that key, the issuer's own algorithm list,
a pinned audience and issuer, and options that require every registered claim we rely
on. Every failure ends in ``NotAuthenticated`` with a short generic detail; the token
is never logged and never echoed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import httpx
from jose import jwk, jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError

from service.domain.ids import SUBJECT_RE, TENANT_RE
from service.domain.principal import Principal
from service.errors import NotAuthenticated
from service.settings import Settings, TrustedIssuer

__all__ = ["TokenVerifier", "mint_token"]

_log = logging.getLogger(__name__)

# Client-visible details: short, generic, never derived from the token.
_MISSING = "Missing bearer token."
_INVALID = "Invalid token."
_EXPIRED = "Token expired."
_UNTRUSTED = "Token issuer not trusted."
_NO_KEYS = "Token signing keys unavailable."

# header.payload.signature, each a non-empty base64url segment without padding.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Header parameters that would let the token choose its own key or processing rules.
_FORBIDDEN_HEADERS = frozenset({"crit", "jku", "x5u", "jwk", "x5c"})
_HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_EC_CURVE_FOR_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y")}
_MIN_RSA_BITS = 2048

JWKS_CACHE_SECONDS = 300.0
JWKS_MIN_REFETCH_SECONDS = 30.0
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_MAX_BYTES = 256 * 1024
# A token that verified is trusted again for this long without its signature being checked
# (never past its ``exp``); shorter than the JWKS cache, so no key outlives its set by it.
VERIFIED_REUSE_SECONDS = 60.0
VERIFIED_MAX_ENTRIES = 4096


def _reject(reason: str, detail: str = _INVALID) -> NotAuthenticated:
    """Build the 401; ``reason`` is a fixed string of ours, never token content."""
    _log.debug("bearer token rejected: %s", reason)
    return NotAuthenticated(detail)


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True, eq=False)
class _PublicJwk:
    """One signature key from a JWKS, reduced to its public members."""

    kid: str | None
    kty: str
    alg: str | None
    params: Mapping[str, str]

    def fits(self, alg: str) -> bool:
        """Whether this key may verify a signature made with ``alg``."""
        if self.alg is not None and self.alg != alg:
            return False
        if alg.startswith("RS"):
            return self.kty == "RSA"
        if alg.startswith("ES"):
            return self.kty == "EC" and self.params.get("crv") == _EC_CURVE_FOR_ALG.get(alg)
        return False


def _b64url_int_bits(value: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _public_jwk(entry: object) -> _PublicJwk | None:
    if not isinstance(entry, dict):
        return None
    kty = entry.get("kty")
    members = _PUBLIC_MEMBERS.get(kty) if isinstance(kty, str) else None
    if kty is None or members is None:
        return None  # symmetric ("oct") and unknown key types are never used
    if entry.get("use", "sig") != "sig":
        return None
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    kid, alg = entry.get("kid"), entry.get("alg")
    if (kid is not None and not isinstance(kid, str)) or (
        alg is not None and not isinstance(alg, str)
    ):
        return None
    params: dict[str, str] = {"kty": kty}
    for member in members:
        value = entry.get(member)
        if not isinstance(value, str) or not value:
            return None
        params[member] = value
    if kty == "RSA" and _b64url_int_bits(params["n"]) < _MIN_RSA_BITS:
        return None
    return _PublicJwk(kid=kid, kty=kty, alg=alg, params=params)


def _parse_jwks(raw: bytes) -> tuple[_PublicJwk, ...]:
    document = json.loads(raw)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys = tuple(k for k in map(_public_jwk, document["keys"]) if k is not None)
    if not keys:
        raise ValueError("JWK set holds no usable signature key")
    return keys


class _KeySet:
    """An issuer's loaded signature keys, with jose key objects built on demand."""

    def __init__(self, keys: tuple[_PublicJwk, ...]) -> None:
        self.keys = keys
        self._built: dict[tuple[int, str], Key] = {}

    def candidates(self, kid: str | None) -> list[_PublicJwk]:
        if kid is None:
            # Without a kid the choice is only unambiguous in a one-key set.
            return list(self.keys) if len(self.keys) == 1 else []
        return [k for k in self.keys if k.kid == kid]

    def build(self, index: int, alg: str) -> Key:
        cache_key = (index, alg)
        key = self._built.get(cache_key)
        if key is None:
            # Only public members go in, so the result can only ever verify.
            key = jwk.construct(dict(self.keys[index].params), alg)
            self._built[cache_key] = key
        return key


class _IssuerState:
    def __init__(self, trusted: TrustedIssuer, audience: str) -> None:
        self.issuer = trusted.issuer
        self.speaks_for = trusted.speaks_for
        self.source = trusted.jwks
        self.algorithms: tuple[str, ...] = tuple(dict.fromkeys(trusted.algorithms))
        self.audience = audience
        if trusted.jwks.lower().startswith("https://"):
            self.is_url = True
        elif "://" in trusted.jwks:
            raise ValueError(
                f"JWKS for issuer {trusted.issuer!r} must be a file path or an https:// URL"
            )
        else:
            self.is_url = False
        self.keys: _KeySet | None = None
        self.loaded_at = -math.inf
        self.attempted_at = -math.inf
        self.lock = asyncio.Lock()


# --------------------------------------------------------------------------- verifier


class TokenVerifier:
    """Verifies bearer tokens under the safe profile (RELIABILITY S1)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.jwt_audience:
            raise ValueError("jwt_audience must not be empty")
        self._dev_issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._tenant_claim = settings.jwt_tenant_claim
        self._leeway = max(0, settings.jwt_leeway_seconds)
        self._max_lifetime = settings.jwt_max_lifetime_seconds
        self._max_token_bytes = settings.jwt_max_token_bytes
        self._options: dict[str, Any] = {
            "verify_signature": True,
            "verify_aud": True,
            "verify_iat": True,
            "verify_exp": True,
            "verify_nbf": True,
            "verify_iss": True,
            "verify_sub": True,
            "verify_jti": True,
            # at_hash binds an OIDC ID token to an access token we never receive.
            "verify_at_hash": False,
            "require_exp": True,
            "require_iat": True,
            "require_sub": True,
            "require_aud": True,
            "require_iss": True,
            "leeway": self._leeway,
        }

        self._hmac_keys: dict[str, Key] = {}
        secret = settings.resolved_jwt_secret()
        if secret:
            for alg in settings.jwt_algorithms:
                if alg in _HMAC_ALGORITHMS and alg not in self._hmac_keys:
                    try:
                        self._hmac_keys[alg] = jwk.construct(secret, alg)
                    except Exception as exc:  # jose refuses PEM/SSH keys as HMAC secrets
                        raise ValueError("the JWT secret is not usable as an HMAC key") from exc
        self._hmac_algorithms = tuple(self._hmac_keys)

        self._issuers: dict[str, _IssuerState] = {}
        for trusted in settings.jwt_issuers:
            if trusted.issuer in self._issuers:
                raise ValueError(f"issuer {trusted.issuer!r} is configured twice")
            if self._hmac_keys and trusted.issuer == self._dev_issuer:
                raise ValueError(
                    f"issuer {trusted.issuer!r} is both the HS256 dev issuer and a JWKS issuer"
                )
            audience = trusted.audience or settings.jwt_audience
            self._issuers[trusted.issuer] = _IssuerState(trusted, audience)

        self._client: httpx.AsyncClient | None = None
        self._clock: Callable[[], float] = time.monotonic
        # token -> (principal, its exp, when it verified); the same token comes with every
        # request of a session, and checking a signature is a tenth of a small request's CPU
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    async def verify(self, token: str) -> Principal:
        seen = self._verified.get(token) if isinstance(token, str) else None
        if seen is not None:
            principal, exp, verified_at = seen
            if time.time() > exp + self._leeway:
                del self._verified[token]
                raise _reject("expired", _EXPIRED)
            if self._clock() - verified_at < VERIFIED_REUSE_SECONDS:
                return principal
            del self._verified[token]
        principal, exp = await self._verify(token)
        if len(self._verified) >= VERIFIED_MAX_ENTRIES:
            self._verified.clear()
        self._verified[token] = (principal, exp, self._clock())
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        if not isinstance(token, str) or not token:
            raise _reject("no token", _MISSING)
        if len(token) > self._max_token_bytes:
            raise _reject("token too large")
        if not _COMPACT_JWS.fullmatch(token):
            raise _reject("not a compact JWS")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.get_unverified_claims(token)
        except Exception:
            raise _reject("unparseable header or claims") from None

        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise _reject("missing or 'none' alg")
        if _FORBIDDEN_HEADERS.intersection(header):
            raise _reject("forbidden header parameter")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _reject("kid is not a string")
        iss = unverified.get("iss")
        if not isinstance(iss, str):
            raise _reject("no issuer", _UNTRUSTED)

        if self._hmac_keys and iss == self._dev_issuer:
            if alg not in self._hmac_keys:
                raise _reject("alg not allowed for the dev issuer")
            key = self._hmac_keys[alg]
            algorithms, audience, issuer = self._hmac_algorithms, self._audience, self._dev_issuer
        else:
            state = self._issuers.get(iss)
            if state is None:
                raise _reject("unknown issuer", _UNTRUSTED)
            if alg not in state.algorithms:
                raise _reject("alg not allowed for this issuer")
            key = await self._issuer_key(state, kid, alg)
            algorithms, audience, issuer = state.algorithms, state.audience, state.issuer

        claims = self._decode(token, key, algorithms, audience, issuer)
        principal = self._principal(claims)
        if issuer != self._dev_issuer and not self._issuers[issuer].speaks_for(principal.tenant_id):
            # a tenant is bound to its issuer: issuer B's valid token may not claim tenant A
            raise _reject("tenant not among the issuer's", _UNTRUSTED)
        return principal, float(claims["exp"])

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------------ internals

    def _decode(
        self, token: str, key: Key, algorithms: Iterable[str], audience: str, issuer: str
    ) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,  # exactly one key object: jose cannot fall back to other keys
                algorithms=list(algorithms),
                options=dict(self._options),
                audience=audience,
                issuer=issuer,
            )
        except ExpiredSignatureError:  # raised only after the signature checked out
            raise _reject("expired", _EXPIRED) from None
        except Exception:
            raise _reject("signature or registered claims invalid") from None

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        exp, iat = claims.get("exp"), claims.get("iat")
        if not _is_numeric_date(exp) or not _is_numeric_date(iat):
            raise _reject("exp/iat not a NumericDate")
        if "nbf" in claims and not _is_numeric_date(claims["nbf"]):
            raise _reject("nbf not a NumericDate")
        if iat > time.time() + self._leeway:
            raise _reject("iat in the future")
        if exp <= iat or exp - iat > self._max_lifetime:
            raise _reject("lifetime out of bounds")

        sub = claims.get("sub")
        if not isinstance(sub, str) or not SUBJECT_RE.fullmatch(sub):
            raise _reject("bad subject")
        tenant = claims.get(self._tenant_claim)
        if not isinstance(tenant, str) or not TENANT_RE.fullmatch(tenant):
            raise _reject("missing or bad tenant claim")
        roles: list[str] = []
        if "roles" in claims:
            raw_roles = claims["roles"]
            if not isinstance(raw_roles, list) or not all(isinstance(r, str) for r in raw_roles):
                raise _reject("roles claim is not a list of strings")
            roles = raw_roles
        jti = claims.get("jti")
        return Principal(
            tenant_id=tenant,
            subject=sub,
            token_roles=frozenset(roles),
            token_id=jti if isinstance(jti, str) and jti else None,
        )

    async def _issuer_key(self, state: _IssuerState, kid: str | None, alg: str) -> Key:
        keyset = await self._load(state, force=False)
        candidates = keyset.candidates(kid)
        if not candidates and kid is not None and state.is_url:
            # Maybe the issuer rotated keys: refetch (rate-limited) and look again.
            keyset = await self._load(state, force=True)
            candidates = keyset.candidates(kid)
        if not candidates:
            raise _reject("no key for this kid" if kid is not None else "kid required")
        fitting = [k for k in candidates if k.fits(alg)]
        if len(fitting) != 1:
            raise _reject("key does not fit alg, or kid is ambiguous")
        index = next(i for i, k in enumerate(keyset.keys) if k is fitting[0])
        try:
            return keyset.build(index, alg)
        except Exception:
            _log.warning("unusable key in JWKS of issuer %s", state.issuer)
            raise _reject("unusable key") from None

    async def _load(self, state: _IssuerState, *, force: bool) -> _KeySet:
        keys = state.keys
        if (
            keys is not None
            and not force
            and (not state.is_url or self._clock() - state.loaded_at < JWKS_CACHE_SECONDS)
        ):
            return keys
        requested_at = self._clock()
        async with state.lock:
            keys = state.keys
            if keys is not None and (not state.is_url or state.loaded_at >= requested_at):
                return keys  # a file set never reloads; or a load finished while we waited
            now = self._clock()
            if keys is not None and not force and now - state.loaded_at < JWKS_CACHE_SECONDS:
                return keys
            if now - state.attempted_at < JWKS_MIN_REFETCH_SECONDS:
                if keys is None:
                    raise _reject("key set unavailable", _NO_KEYS)
                return keys
            state.attempted_at = now
            try:
                loaded = _KeySet(_parse_jwks(await self._read(state)))
            except Exception as exc:
                _log.warning(
                    "could not load JWKS for issuer %s (%s)", state.issuer, type(exc).__name__
                )
                if keys is None:
                    raise _reject("key set unavailable", _NO_KEYS) from None
                return keys  # keep serving the last good set
            state.keys = loaded
            state.loaded_at = self._clock()
            return loaded

    async def _read(self, state: _IssuerState) -> bytes:
        if not state.is_url:
            data = await asyncio.to_thread(Path(state.source).read_bytes)
            if len(data) > JWKS_MAX_BYTES:
                raise ValueError("JWKS document too large")
            return data
        client = self._http_client()
        async with client.stream(
            "GET", state.source, headers={"Accept": "application/json"}
        ) as response:
            if response.status_code != httpx.codes.OK:
                raise ValueError(f"JWKS fetch answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > JWKS_MAX_BYTES:
                    raise ValueError("JWKS document too large")
            return bytes(body)

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(JWKS_TIMEOUT_SECONDS), follow_redirects=False
            )
        return self._client


def _is_numeric_date(value: object) -> TypeGuard[int | float]:
    """A JSON number usable as a NumericDate (not a bool, string, NaN or infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


# --------------------------------------------------------------------------- minting


def mint_token(
    settings: Settings,
    *,
    tenant: str,
    subject: str,
    roles: Sequence[str] = (),
    ttl_seconds: int = 3600,
) -> str:
    """HS256 dev/test token signed with settings.resolved_jwt_secret(), iss=settings.jwt_issuer,
    aud=settings.jwt_audience, iat/nbf/exp/jti set, tenant claim under settings.jwt_tenant_claim,
    roles under 'roles' when given."""
    secret = settings.resolved_jwt_secret()
    if not secret:
        raise ValueError("no JWT secret is configured; cannot mint HS256 tokens")
    if not TENANT_RE.fullmatch(tenant):
        raise ValueError("tenant is not a valid tenant slug")
    if not SUBJECT_RE.fullmatch(subject):
        raise ValueError("subject is not a valid subject")
    if isinstance(roles, str):
        raise ValueError("roles must be a sequence of role names, not a single string")
    if not 0 < ttl_seconds <= settings.jwt_max_lifetime_seconds:
        raise ValueError("ttl_seconds must be positive and within jwt_max_lifetime_seconds")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        settings.jwt_tenant_claim: tenant,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if roles:
        claims["roles"] = list(roles)
    return jwt.encode(claims, secret, algorithm="HS256")
