"""Bad input gets a clear JSON error: never a 500, never a traceback."""

from __future__ import annotations

import pytest

from tests.api.helpers import new_thread
from tests.fixtures.app import Api


def _is_error(response_json: object, code: str) -> None:
    assert isinstance(response_json, dict)
    assert set(response_json) == {"detail", "code"}
    assert response_json["code"] == code


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer not.a.token"},
            {"Authorization": "Bearer " + "a" * 20000},
        ],
    )
    async def test_missing_or_bad_token_is_401_json(
        self, api: Api, headers: dict[str, str]
    ) -> None:
        async with api.anonymous() as client:
            response = await client.post("/threads/search", json={}, headers=headers)
        assert response.status_code == 401
        _is_error(response.json(), "not_authenticated")

    async def test_token_in_query_string_is_not_accepted(self, api: Api, tenant: str) -> None:
        from service.auth.jwt import mint_token

        token = mint_token(api.settings, tenant=tenant, subject="alice")
        async with api.anonymous() as client:
            response = await client.post(f"/threads/search?access_token={token}", json={})
        assert response.status_code == 401

    async def test_two_authorization_headers_are_400(self, api: Api, tenant: str) -> None:
        from service.auth.jwt import mint_token

        mine = mint_token(api.settings, tenant=tenant, subject="alice")
        theirs = mint_token(api.settings, tenant=f"{tenant}-b", subject="mallory")
        async with api.anonymous() as client:
            for first, second in ((mine, theirs), (theirs, mine)):
                response = await client.post(
                    "/threads/search",
                    json={},
                    headers=[
                        ("Authorization", f"Bearer {first}"),
                        ("Authorization", f"Bearer {second}"),
                    ],
                )
                assert response.status_code == 400
                _is_error(response.json(), "bad_request")

    async def test_every_operation_without_a_token_is_401(self, api: Api) -> None:
        """S14: each operation of the OpenAPI schema, called with no token (and with a bad
        one), is 401 before anything else is looked at; only the probes are public."""
        public = {"/ok", "/readyz", "/info", "/metrics"}
        async with api.anonymous() as client:
            schema = (await client.get("/openapi.json")).json()
            checked = 0
            for path, operations in schema["paths"].items():
                if path in public:
                    continue
                url = path.replace("{", "x-").replace("}", "")  # any id: never looked at
                for method in operations:
                    for headers in ({}, {"Authorization": "Bearer not.a.token"}):
                        response = await client.request(method, url, json={}, headers=headers)
                        assert response.status_code == 401, (method, path, response.text)
                        _is_error(response.json(), "not_authenticated")
                    checked += 1
        assert checked >= 60  # every operation, not a handful

    async def test_health_is_public(self, api: Api) -> None:
        async with api.anonymous() as client:
            assert (await client.get("/ok")).json() == {"ok": True}
            ready = await client.get("/readyz")
        assert ready.status_code == 200


class TestBadInput:
    async def test_malformed_json_is_422(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.post(
                "/threads", content=b"{not json", headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 422
        _is_error(response.json(), "invalid_input")

    async def test_body_over_the_cap_is_413(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.post(
                "/threads", json={"metadata": {"blob": "x" * (api.settings.max_body_bytes + 1)}}
            )
        assert response.status_code == 413
        _is_error(response.json(), "payload_too_large")

    async def test_deeply_nested_json_is_a_clean_error(self, api: Api, tenant: str) -> None:
        depth = 100_000
        body = b'{"metadata": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
        async with api.client(tenant) as client:
            response = await client.post(
                "/threads", content=body, headers={"Content-Type": "application/json"}
            )
        assert response.status_code in (413, 422)
        assert "Traceback" not in response.text

    async def test_limit_over_the_cap_is_422(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.post("/threads/search", json={"limit": 1_000_000})
        assert response.status_code == 422

    async def test_numbers_beyond_64_bits_are_422_and_change_nothing(
        self, api: Api, tenant: str
    ) -> None:
        # found by schemathesis (R22): they reached the database and answered 500
        huge = 2**70
        async with api.client(tenant) as client:
            answers = [
                await client.post("/threads", json={"metadata": {"n": [1, {"deep": huge}]}}),
                await client.post("/assistants", json={"graph_id": "slow", "config": {"x": -huge}}),
                await client.post("/policies/rollback", json={"version": huge}),
                await client.get("/audit", params={"after_seq": huge}),
            ]
            threads = await client.post("/threads/search", json={"limit": 1000})
        for answer in answers:
            assert answer.status_code == 422, answer.text
            _is_error(answer.json(), "invalid_input")
        assert threads.json() == []
        async with api.client(tenant) as client:  # the largest 64-bit numbers are fine
            fits = await client.post("/threads", json={"metadata": {"n": 2**63 - 1, "m": -(2**63)}})
        assert fits.status_code == 200, fits.text

    async def test_lone_surrogates_are_422_and_change_nothing(self, api: Api, tenant: str) -> None:
        # found by schemathesis: JSON may escape half a UTF-16 pair, which no database takes
        bodies = [
            ("/threads", '{"metadata": {"note": "\\ud832"}}'),
            ("/threads", '{"metadata": {"\\udcdf": 1}}'),
            ("/store/items/search", '{"namespace_prefix": ["a\\ud9ce"], "query": "x"}'),
            ("/store/items/search", '{"query": "\\ud832\\uddca\\udcdf"}'),
        ]
        headers = {"Content-Type": "application/json"}
        async with api.client(tenant) as client:
            for path, body in bodies:
                answer = await client.post(path, content=body, headers=headers)
                assert answer.status_code == 422, (path, body, answer.text)
                _is_error(answer.json(), "invalid_input")
            assert (await client.post("/threads/search", json={})).json() == []
            paired = await client.post("/threads", json={"metadata": {"note": "\U0001f600 é"}})
            assert paired.status_code == 200, paired.text
            assert paired.json()["metadata"]["note"] == "\U0001f600 é"

    async def test_unknown_route_is_json_404(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.get("/nothing/here")
        assert response.status_code == 404
        _is_error(response.json(), "not_found")

    async def test_wrong_method_is_json_405(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.put("/threads/search", json={})
            assert response.status_code == 405
            _is_error(response.json(), "method_not_allowed")
            # Allow names every method of the path, not only the first route's (found by R22)
            assert (await client.put("/threads/t-1")).headers["allow"] == "DELETE, GET, PATCH"
            assert (await client.put("/webhooks")).headers["allow"] == "GET, POST"
            literal = await client.put("/threads/t-1/state/checkpoint")
            assert literal.headers["allow"] == "POST"

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("post", "/threads/search", {"offset": False}),
            ("post", "/assistants/search", {"limit": True}),
            ("patch", "/tenant/settings", {"four_eyes": 0}),
            ("post", "/policies/test", {"user": "ada", "object": "threads", "own": "yes"}),
            ("get", "/inbox?created_before=0.5", None),  # a date-time, not seconds since 1970
        ],
    )
    async def test_numbers_and_flags_are_not_coerced(
        self, api: Api, tenant: str, method: str, path: str, body: dict[str, object] | None
    ) -> None:
        """The schema says integer or boolean, so ``false`` is no offset and ``0`` no flag
        (found by R22's negative_data_rejection)."""
        async with api.client(tenant) as client:
            response = await client.request(method, path, json=body)
        assert response.status_code == 422, response.text
        _is_error(response.json(), "invalid_input")

    @pytest.mark.parametrize(
        "rule",
        [{"after_seconds": 0}, {"after_seconds": 60, "unknown": 1}, {"default_decision": "x"}],
    )
    async def test_a_malformed_expiry_rule_is_422_and_changes_nothing(
        self, api: Api, tenant: str, rule: dict[str, object]
    ) -> None:
        """An expiry rule is checked by the use case, not the route's schema: it was a 500."""
        async with api.client(tenant) as client:
            before = (await client.get("/tenant/settings")).json()
            response = await client.patch(
                "/tenant/settings", json={"interrupt_expiry": {"refund": rule}}
            )
            assert response.status_code == 422, response.text
            _is_error(response.json(), "invalid_input")
            assert "interrupt_expiry.refund" in response.json()["detail"]
            assert (await client.get("/tenant/settings")).json() == before

    async def test_the_schema_declares_auth_errors_and_streams(self, api: Api) -> None:
        async with api.anonymous() as client:
            schema = (await client.get("/openapi.json")).json()
        assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                public = path in ("/ok", "/readyz", "/info")
                assert ("security" in operation) is not public, (method, path)
                if not public:
                    assert {"401", "403", "404", "422", "429"} <= set(operation["responses"])
                content = operation["responses"].get("200", {}).get("content", {})
                if path.endswith("/stream"):
                    assert set(content) == {"text/event-stream"}, (method, path)

    async def test_every_answer_declares_its_schema(self, api: Api) -> None:
        """The typed contract: each success answer of each operation names its shape (a 204
        has no body; a stream is SSE), so clients and the UI's types can be generated."""
        async with api.anonymous() as client:
            schema = (await client.get("/openapi.json")).json()
        undeclared = []
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                for status, answer in operation["responses"].items():
                    if not status.startswith("2") or status == "204":
                        continue
                    content = answer.get("content", {})
                    shapes = [body.get("schema") for body in content.values()]
                    if "text/event-stream" not in content and not all(shapes or [None]):
                        undeclared.append(f"{method.upper()} {path} {status}")
        assert not undeclared, undeclared

    async def test_validation_errors_do_not_echo_input(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.post("/threads/search", json={"limit": "secret-canary"})
        assert response.status_code == 422
        assert "secret-canary" not in response.text

    async def test_security_headers(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            response = await client.get(f"/threads/{(await new_thread(client))['thread_id']}")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "script-src 'self';" in response.headers["content-security-policy"]
        async with api.anonymous() as client:  # the API reference's viewer comes from a CDN
            reference = (await client.get("/docs")).headers["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline' https:;" in reference
        assert "frame-ancestors 'none'" in reference
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]
