"""Workorder's OpenAPI document: every endpoint with the roles it admits and its answers."""

from __future__ import annotations

import requests

ENDPOINTS = {
    ("post", "/repair-orders"), ("get", "/repair-orders"), ("get", "/repair-orders/{ro_id}"),
    ("post", "/repair-orders/{ro_id}/cancel"), ("get", "/checklist-templates"),
    ("post", "/repair-orders/{ro_id}/inspection"), ("get", "/repair-orders/{ro_id}/inspection"),
    ("put", "/repair-orders/{ro_id}/inspection/items/{code}"),
    ("post", "/repair-orders/{ro_id}/inspection/submit"),
    ("post", "/repair-orders/{ro_id}/inspection/report-link"),
    ("post", "/repair-orders/{ro_id}/photos"),
    ("get", "/repair-orders/{ro_id}/photos/{content_hash}"),
    ("post", "/repair-orders/{ro_id}/quote-lines"),
    ("delete", "/repair-orders/{ro_id}/quote-lines/{line_id}"),
    ("post", "/repair-orders/{ro_id}/quote/send"), ("get", "/repair-orders/{ro_id}/quote"),
    ("post", "/repair-orders/{ro_id}/quote/approval"),
    ("post", "/repair-orders/{ro_id}/additional-work"),
    ("post", "/technicians"), ("get", "/technicians"), ("get", "/repair-orders/{ro_id}/jobs"),
    ("post", "/repair-orders/{ro_id}/jobs/{line_id}/assign"),
    ("post", "/repair-orders/{ro_id}/jobs/{line_id}/clock-on"),
    ("post", "/repair-orders/{ro_id}/jobs/{line_id}/clock-off"),
    ("post", "/repair-orders/{ro_id}/self-check"),
    ("post", "/repair-orders/{ro_id}/inspector-check"),
    ("post", "/repair-orders/{ro_id}/invoice"), ("get", "/repair-orders/{ro_id}/invoice"),
    ("post", "/repair-orders/{ro_id}/payments"),
    ("post", "/repair-orders/{ro_id}/invoice/signature"),
    ("post", "/repair-orders/{ro_id}/hand-over"), ("post", "/repair-orders/{ro_id}/close"),
    ("get", "/repair-orders/{ro_id}/part-issues"), ("get", "/expected-arrivals"),
    ("get", "/workshop-board"),
}
PUBLIC = {("get", "/inspection-reports/{token}"), ("get", "/photos/{content_hash}"),
          ("get", "/quote-links/{grant}"), ("post", "/quote-links/{grant}/approval")}


def test_every_endpoint_is_documented_with_its_roles_and_answers(site):
    response = requests.get(f"{site.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    paths = response.json()["paths"]
    documented = {(m, p) for p, ops in paths.items() for m in ops}
    assert ENDPOINTS | PUBLIC <= documented
    for method, path in ENDPOINTS:
        operation = paths[path][method]
        assert operation["x-roles"], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        if "{ro_id}" in path:
            assert "404" in operation["responses"], (method, path)
    for method, path in PUBLIC:
        assert "x-roles" not in paths[path][method]
    assert paths["/repair-orders"]["post"]["x-roles"] == ["advisor"]
    assert paths["/repair-orders/{ro_id}/quote/approval"]["post"]["x-roles"] == [
        "advisor", "owner"]
    assert paths["/repair-orders/{ro_id}/payments"]["post"]["x-roles"] == ["cashier"]
    assert paths["/repair-orders/{ro_id}/inspector-check"]["post"]["x-roles"] == [
        "qc_inspector"]
    quote_lines = paths["/repair-orders/{ro_id}/quote-lines"]["post"]["responses"]
    assert {"409", "422", "503"} <= set(quote_lines)
    assert "409" in paths["/repair-orders/{ro_id}/hand-over"]["post"]["responses"]
