"""Booking's OpenAPI document, served at /openapi.json from the endpoints' declarations."""

from __future__ import annotations

import requests

ENDPOINTS = {
    ("get", "/calendar"), ("put", "/calendar"), ("get", "/availability"),
    ("post", "/appointments"), ("get", "/appointments"), ("get", "/appointments/{appointment_id}"),
    ("post", "/appointments/{appointment_id}/confirm"),
    ("post", "/appointments/{appointment_id}/reschedule"),
    ("post", "/appointments/{appointment_id}/cancel"),
    ("post", "/appointments/{appointment_id}/check-in"),
    ("post", "/appointments/{appointment_id}/no-show"),
    ("post", "/no-show-sweeps"),
}


def test_every_endpoint_is_documented_with_roles_schemas_and_answers(site):
    response = requests.get(f"{site.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    paths = response.json()["paths"]
    documented = {(m, p) for p, ops in paths.items() for m in ops}
    assert ENDPOINTS <= documented
    for method, path in ENDPOINTS:
        operation = paths[path][method]
        assert operation["x-roles"], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        ok = next(code for code in operation["responses"] if code.startswith("2"))
        assert "content" in operation["responses"][ok], (method, path)
        if method in ("post", "put"):
            assert "requestBody" in operation, (method, path)
        if "{appointment_id}" in path:
            assert operation["parameters"][0]["name"] == "appointment_id"
            assert "404" in operation["responses"]
    assert paths["/calendar"]["put"]["x-roles"] == ["dealer_manager"]
    assert "409" in paths["/appointments"]["post"]["responses"]
    assert "409" in paths["/appointments/{appointment_id}/cancel"]["post"]["responses"]
    assert paths["/appointments/{appointment_id}/confirm"]["post"]["requestBody"][
        "required"] is False
    query = {p["name"]: p for p in paths["/availability"]["get"]["parameters"]}
    assert {"service_type", "from", "to"} <= set(query)
    assert query["from"]["required"] is True
    assert "422" in paths["/availability"]["get"]["responses"]
