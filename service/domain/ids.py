"""Identifiers: tenant slugs, namespaced thread ids, time-ordered UUIDs."""

from __future__ import annotations

import os
import re
import time
import uuid

from service.errors import InvalidInput, NotFound

TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$")
SUBJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@|+-]{0,127}$")


def is_tenant_slug(value: str) -> bool:
    return bool(TENANT_RE.match(value))


_last_ms = 0
_seq = 0


def uuid7() -> str:
    """A UUIDv7 string, monotonic within this process, so ids sort by creation."""
    global _last_ms, _seq
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        _seq += 1
        if _seq > 0xFFF:
            _last_ms += 1
            _seq = 0
        ms = _last_ms
    else:
        _last_ms, _seq = ms, int.from_bytes(os.urandom(1), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (_seq & 0xFFF) << 64
    value |= 0b10 << 62
    value |= int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def thread_id_for(tenant_id: str, session_id: str) -> str:
    return f"{tenant_id}:{session_id}"


def new_thread_id(tenant_id: str) -> str:
    return thread_id_for(tenant_id, uuid7())


def resolve_thread_id(tenant_id: str, raw: str) -> str:
    """Turn what a client sent into the full ``tenant:session`` id.

    A bare session id gets the caller's tenant. A full id must carry the caller's
    tenant; any other prefix is answered exactly like an unknown id, before any
    storage is touched.
    """
    tenant, sep, session = raw.partition(":")
    if not sep:
        session = raw
    elif tenant != tenant_id:
        raise NotFound(thread_not_found())
    if not SESSION_RE.match(session):
        raise NotFound(thread_not_found())
    return thread_id_for(tenant_id, session)


def new_session_id_from_client(tenant_id: str, raw: str) -> str:
    """Validate a client-chosen thread id on create (422 on bad shape, 404 on foreign)."""
    tenant, sep, session = raw.partition(":")
    if sep and tenant != tenant_id:
        raise NotFound(thread_not_found())
    session = session if sep else raw
    if not SESSION_RE.match(session):
        raise InvalidInput(
            "thread_id must be 1-128 characters of letters, digits, '.', '_', '~' or '-'"
        )
    return thread_id_for(tenant_id, session)


def thread_not_found() -> str:
    return "Thread not found."


def run_not_found() -> str:
    return "Run not found."
