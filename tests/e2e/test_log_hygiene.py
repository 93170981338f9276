"""S16, secrets hygiene: the server's log of a full HITL flow (tokens, refused tokens, webhook
secrets, webhook URLs with a secret in their path, failed deliveries) holds no JWT (``eyJ``),
no ``whsec_`` secret and none of the canaries, on both backends."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import on_backend
from tests.fixtures.live import LiveServer, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server that may deliver webhooks to this machine (nothing listens there)."""
    allow = json.dumps(["127.0.0.1/32"])
    yield from on_backend(request, tmp_path_factory, "hygiene", COUNTERSIGN_WEBHOOK_ALLOW=allow)


BANNER = (
    "Countersign API listening on",
    "Countersign (embedded",
    "  URL:",
    "  tenant:",
    "  web UI:",
    "  dev token:",
    "  try:",
)
REQUEST = {"request": {"order_id": "S-16", "amount": 16, "customer": "Ada", "reason": "late"}}


def test_the_log_of_a_full_flow_holds_no_secret(server: LiveServer) -> None:
    canary = f"canary{uuid.uuid4().hex}"
    tenant = f"hygiene-{uuid.uuid4().hex[:8]}"
    token = server.mint(tenant, "ada", ("tenant_admin", "editor", "agent"))
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=30) as api:
        hook = api.post(
            "/webhooks",
            json={
                "url": f"http://127.0.0.1:{free_port()}/services/{canary}",
                "events": ["run.completed"],
            },
        )
        assert hook.status_code == 201, hook.text
        assert hook.json()["secret"].startswith("whsec_")
        rotated = api.post("/webhooks/secret")
        assert rotated.status_code == 200, rotated.text
        tid = api.post("/threads", json={"metadata": {"case": "s16"}}).json()["thread_id"]
        paused = api.post(
            f"/threads/{tid}/runs/wait", json={"assistant_id": "refund_agent", "input": REQUEST}
        )
        assert paused.status_code == 200, paused.text
        done = api.post(
            f"/threads/{tid}/runs/wait",
            json={"assistant_id": "refund_agent", "command": {"resume": [{"type": "accept"}]}},
        )
        assert done.status_code == 200, done.text
        # refused credentials: a forged JWT, a canary as a token and as an API key
        forged = token.rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
        for headers in (
            {"Authorization": f"Bearer {forged}"},
            {"Authorization": f"Bearer {canary}"},
            {"x-api-key": canary},
            {"Authorization": f"Basic {canary}"},
        ):
            assert api.get("/threads", headers=headers).status_code in (401, 405)
            assert httpx.get(f"{server.url}/threads/{tid}", headers=headers).status_code == 401
        # the delivery fails (nothing listens) and is retried: give the dispatcher a try
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            tries = api.get("/webhooks/deliveries").json()
            if any(d.get("attempts", 0) >= 1 for d in tries):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no delivery was attempted: {tries}")
    lines = server.log().splitlines()
    records = [line for line in lines if line.startswith("{")]
    assert any("Started server process" in line for line in records)  # this server's log
    # besides log records, only the banner of the embedded default, which hands the developer
    # the demo tenant's token on purpose (``countersign serve``, never ``api`` or ``worker``)
    banner = [line for line in lines if not line.startswith("{")]
    assert all(line.startswith(BANNER) or not line.strip() for line in banner), banner
    for secret in ("eyJ", "whsec_", canary):
        leaks = [line for line in records if secret in line]
        assert not leaks, f"{secret!r} found in the server log: {leaks[:3]}"
