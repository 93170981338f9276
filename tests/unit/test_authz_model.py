"""The compiled policy answers exactly as Casbin does, on the default policy and random ones.

Table-driven in pycasbin's style: model.conf and default_policy.csv are the inputs.
"""

from __future__ import annotations

import itertools
import random

import pytest

from service.authz.enforcer import compile_rules, default_rules, new_enforcer

OBJECTS = [
    "threads",
    "runs",
    "state",
    "inbox",
    "assistants",
    "policies",
    "audit",
    "webhooks",
    "interrupt:refund",
    "interrupt:publish_post",
    "interrupt:any",
]
ACTIONS = ["read", "create", "update", "delete", "cancel", "decide", "edit", "write"]
ROLES = ["role:viewer", "role:reviewer", "role:editor", "role:agent", "role:tenant_admin"]


def _members(tenant: str) -> list[list[str]]:
    return [["g", f"user:{role.removeprefix('role:')}", role, tenant] for role in ROLES] + [
        ["g", "user:both", "role:agent", tenant],
        ["g", "user:both", "role:reviewer", tenant],
    ]


def _agree(rules: list[list[str]], tenant: str, users: list[str]) -> int:
    enforcer = new_enforcer(rules)
    compiled = compile_rules(tenant, 1, rules)
    checked = 0
    for user, obj, act, scope in itertools.product(users, OBJECTS, ACTIONS, ["own", "other"]):
        expected = enforcer.enforce(user, tenant, obj, act, scope)
        got = compiled.decide(user, obj, act, own=scope == "own").allowed
        assert got == expected, (user, obj, act, scope)
        checked += 1
    return checked


def test_default_policy_matches_casbin() -> None:
    rules = default_rules("acme") + _members("acme")
    users = [r[1] for r in rules if r[0] == "g" and r[1].startswith("user:")] + ["user:nobody"]
    assert _agree(rules, "acme", users) > 1000


@pytest.mark.parametrize("seed", range(25))
def test_random_policies_match_casbin(seed: int) -> None:
    rng = random.Random(seed)
    tenant = "t1"
    roles = [f"role:r{i}" for i in range(6)]
    users = [f"user:u{i}" for i in range(6)]
    rules: list[list[str]] = []
    for _ in range(rng.randint(3, 25)):
        rules.append(
            [
                "p",
                rng.choice(roles + users),
                rng.choice([tenant, "t2"]),
                rng.choice(OBJECTS),
                rng.choice(ACTIONS),
                rng.choice(["any", "own"]),
            ]
        )
    for _ in range(rng.randint(2, 12)):
        rules.append(
            ["g", rng.choice(users + roles), rng.choice(roles), rng.choice([tenant, tenant, "t2"])]
        )
    _agree(rules, tenant, [*users, "user:nobody"])


def test_scope_and_interrupt_types() -> None:
    rules = (
        default_rules("acme")
        + _members("acme")
        + [
            ["p", "role:finance_reviewer", "acme", "interrupt:refund", "decide", "any"],
            ["g", "user:fin", "role:finance_reviewer", "acme"],
        ]
    )
    policy = compile_rules("acme", 1, rules)
    assert policy.scope_for("user:agent", "threads", "read") == "own"
    assert policy.scope_for("user:viewer", "threads", "read") == "any"
    assert policy.scope_for("user:viewer", "threads", "delete") is None
    assert policy.interrupt_types("user:reviewer", "decide") is None  # every type
    assert policy.interrupt_types("user:fin", "decide") == frozenset({"refund"})
    assert policy.interrupt_types("user:viewer", "decide") == frozenset()
    assert policy.roles("user:editor") == frozenset({"role:editor", "role:reviewer", "role:viewer"})
