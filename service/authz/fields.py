"""Policy fields: the only words a Casbin rule may contain, and how users become subjects.

Every field of every rule matches ``^[a-z0-9_:-]{1,64}$``: no ``*``, no commas, no
newlines, no keyMatch syntax, so an edit can never widen a rule beyond its words.
JWT subjects may hold characters outside that set (``alice@example.com``); they are
encoded injectively: ``[a-z0-9-]`` stay, every other character becomes ``_xx`` (hex).
"""

from __future__ import annotations

import re

from service.domain.ids import SUBJECT_RE
from service.errors import InvalidInput

FIELD_RE = re.compile(r"^[a-z0-9_:-]{1,64}$")
ROLE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,58}$")
OBJECT_RE = re.compile(r"^(interrupt:[a-z0-9_.:-]{1,52}|[a-z][a-z0-9_]{0,31})$")
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SCOPES = ("any", "own")
PLATFORM_DOMAIN = "_platform"
USER_PREFIX = "user:"
ROLE_PREFIX = "role:"
_KEEP = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def check_field(value: str, what: str) -> str:
    if not isinstance(value, str) or not FIELD_RE.match(value):
        raise InvalidInput(f"{what} must match ^[a-z0-9_:-]{{1,64}}$")
    return value


def user_subject(subject: str) -> str:
    if not SUBJECT_RE.match(subject):
        raise InvalidInput("user ids are 1-128 characters of letters, digits and ._@|+-")
    encoded = "".join(
        ch if ch in _KEEP else "".join(f"_{b:02x}" for b in ch.encode()) for ch in subject
    )
    return check_field(USER_PREFIX + encoded, "user")


def subject_of_user(field: str) -> str:
    """Inverse of ``user_subject`` (for display)."""
    encoded = field.removeprefix(USER_PREFIX)
    raw = bytearray()
    i = 0
    while i < len(encoded):
        if encoded[i] == "_":
            raw.append(int(encoded[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(encoded[i].encode())
            i += 1
    return raw.decode()


def role_subject(name: str) -> str:
    name = name.removeprefix(ROLE_PREFIX)
    if not ROLE_NAME_RE.match(name):
        raise InvalidInput(
            "role names are 1-59 characters of [a-z0-9_-], starting with a letter or digit"
        )
    return ROLE_PREFIX + name


def check_object(obj: str) -> str:
    if not OBJECT_RE.match(obj) or not FIELD_RE.match(obj):
        raise InvalidInput("object must be a resource name or interrupt:<type>")
    return obj


def check_action(act: str) -> str:
    if not ACTION_RE.match(act):
        raise InvalidInput("action must be a lowercase word")
    return act


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidInput("scope must be 'any' or 'own'")
    return scope


def interrupt_object(interrupt_type: str) -> str:
    return f"interrupt:{interrupt_type.lower()}"
