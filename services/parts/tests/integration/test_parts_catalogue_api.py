"""The parts catalogue over HTTP, lookups by model and VIN, and price_of over RPC."""

from __future__ import annotations

import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from werkzeug.wrappers import Request, Response

from chassis.auth import Role
from chassis.errors import NotFound
from chassis.http import http, json_response
from chassis.rpc import SiteRpc
from chassis.testing import auth, make_settings

from .conftest import ADVISOR, CLERK, MANAGER, QC, TECHNICIAN, VIN


def test_a_part_is_created_with_its_stock_and_models(parts_site):
    created = parts_site.post("/parts", {
        "part_number": "5QD698151B", "name": "前刹车片", "unit": "SET", "unit_price": "680",
        "compatible_models": ["PASSAT-B8", "TIGUAN-L"], "bin_location": "A-03-2",
        "reorder_point": "2", "reorder_quantity": "6"})
    assert created.status_code == 201, created.text
    part = created.json()
    assert created.headers["Location"] == "/parts/5QD698151B"
    assert part["unit_price"] == "680.00"
    assert part["currency"] == "CNY"
    assert part["tracking"] == "BATCH"
    assert part["compatible_models"] == ["PASSAT-B8", "TIGUAN-L"]
    assert (part["on_hand"], part["reserved"], part["available"]) == ("0", "0", "0")
    assert (part["reorder_point"], part["reorder_quantity"]) == ("2", "6")
    for who in (CLERK, TECHNICIAN, ADVISOR, MANAGER):
        assert parts_site.get("/parts/5QD698151B", who).json() == part


def test_a_part_number_is_in_the_catalogue_once(parts_site):
    parts_site.part("06L115562B")
    again = parts_site.post("/parts", {"part_number": "06L115562B", "name": "x", "unit": "EA",
                                       "unit_price": "1.00"})
    assert again.status_code == 409
    assert again.json()["reason"] == "EXISTS"


BAD_PARTS = [
    ({"part_number": "06l 115"}, "part_number"),
    ({"unit": "BOX"}, "unit"),
    ({"unit_price": 68.5}, "unit_price"),         # a float is not an amount
    ({"unit_price": "-1.00"}, "unit_price"),
    ({"unit_price": "68.005"}, "unit_price"),
    ({"tracking": "LOT"}, "tracking"),
    ({"reorder_point": "-2"}, "reorder_point"),
    ({"compatible_models": ["passat b8"]}, "compatible_models"),
    ({"colour": "red"}, "colour"),                # unknown fields are refused
    ({"name": ""}, "name"),
]


def test_bad_catalogue_input_is_refused_with_422_naming_the_field(parts_site):
    for change, field in BAD_PARTS:
        body = {"part_number": "06L115562B", "name": "机油滤清器", "unit": "EA",
                "unit_price": "68.00", **change}
        response = parts_site.post("/parts", body)
        assert response.status_code == 422, (change, response.text)
        assert field in response.json()["fields"], change
    missing = parts_site.post("/parts", {"name": "机油滤清器", "unit": "EA"})
    assert missing.json()["fields"] == {"part_number": ["Missing data for required field."],
                                        "unit_price": ["Missing data for required field."]}
    assert parts_site.scalar("SELECT count(*) FROM parts") == 0


def test_a_body_that_is_not_a_json_object_gets_400(parts_site):
    for body in ("not json", "[1, 2]", ""):
        response = requests.post(f"{parts_site.url}/parts", data=body, headers=CLERK,
                                 timeout=10)
        assert response.status_code == 400, body
        assert response.json()["error"] == "MALFORMED_REQUEST"


def test_only_the_parts_clerk_keeps_the_catalogue(parts_site):
    body = {"part_number": "06L115562B", "name": "机油滤清器", "unit": "EA",
            "unit_price": "68.00"}
    for who in (TECHNICIAN, ADVISOR, MANAGER, QC, auth("owner", subject="C-1")):
        assert parts_site.post("/parts", body, who).status_code == 403
        assert requests.patch(f"{parts_site.url}/parts/06L115562B", json={"name": "x"},
                              headers=who, timeout=10).status_code == 403
        assert requests.put(f"{parts_site.url}/vin-models/LSVAU2187",
                            json={"model_code": "X"}, headers=who, timeout=10).status_code == 403
        assert requests.delete(f"{parts_site.url}/vin-models/LSVAU2187", headers=who,
                               timeout=10).status_code == 403


def test_lookups_refuse_strangers_and_other_dealers(parts_site):
    assert parts_site.get("/parts", {}).status_code == 401
    assert parts_site.get("/parts", QC).status_code == 403
    assert parts_site.get("/parts", auth("parts_clerk", dealer_code="D002")).status_code == 403


def test_a_part_is_changed_but_not_its_unit(parts_site):
    parts_site.part("06L115562B")
    url = f"{parts_site.url}/parts/06L115562B"
    changed = requests.patch(url, json={"unit_price": "72.50", "bin_location": "B-01",
                                        "compatible_models": ["GOLF-8"],
                                        "reorder_point": "5", "reorder_quantity": "20"},
                             headers=CLERK, timeout=10)
    assert changed.status_code == 200, changed.text
    part = changed.json()
    assert (part["unit_price"], part["bin_location"], part["compatible_models"]) == (
        "72.50", "B-01", ["GOLF-8"])
    assert part["reorder_point"] == "5"
    refused = requests.patch(url, json={"unit": "L"}, headers=CLERK, timeout=10)
    assert refused.status_code == 422
    assert "unit" in refused.json()["fields"]
    nothing = requests.patch(url, json={}, headers=CLERK, timeout=10)
    assert nothing.status_code == 422
    missing = requests.patch(f"{parts_site.url}/parts/NO-SUCH-PART", json={"name": "x"},
                             headers=CLERK, timeout=10)
    assert missing.status_code == 404


def test_an_unknown_part_is_404(parts_site):
    response = parts_site.get("/parts/NO-SUCH-PART", ADVISOR)
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


def test_parts_are_found_by_model_by_vin_and_by_text(parts_site):
    parts_site.part("06L115562B", name="机油滤清器", compatible_models=["PASSAT-B8"])
    parts_site.part("5QD698151B", name="前刹车片", compatible_models=["PASSAT-B8-330"])
    parts_site.part("5Q0129620D", name="空气滤清器", compatible_models=["GOLF-8"])
    for prefix, model in (("LSV", "VW-ANY"), ("LSVAU218", "PASSAT-B8"),
                          ("LSVAU2187", "PASSAT-B8-330")):
        put = requests.put(f"{parts_site.url}/vin-models/{prefix}", json={
            "model_code": model, "model_name": "帕萨特"}, headers=CLERK, timeout=10)
        assert put.status_code == 201, put.text

    by_model = parts_site.get("/parts", ADVISOR, model="PASSAT-B8").json()
    assert [p["part_number"] for p in by_model["items"]] == ["06L115562B"]

    by_vin = parts_site.get("/parts", TECHNICIAN, vin=VIN).json()  # longest prefix wins
    assert by_vin["model_code"] == "PASSAT-B8-330"
    assert [p["part_number"] for p in by_vin["items"]] == ["5QD698151B"]

    unknown = parts_site.get("/parts", TECHNICIAN, vin="WVWZZZ1KZAW000001").json()
    assert unknown == {"model_code": None, "items": []}

    by_text = parts_site.get("/parts", ADVISOR, q="滤清器").json()
    assert [p["part_number"] for p in by_text["items"]] == ["06L115562B", "5Q0129620D"]

    listed = parts_site.get("/vin-models", ADVISOR).json()["items"]
    assert [v["vin_prefix"] for v in listed] == ["LSV", "LSVAU218", "LSVAU2187"]


def test_a_vin_prefix_is_replaced_and_forgotten(parts_site):
    url = f"{parts_site.url}/vin-models/LSVAU2187"
    assert requests.put(url, json={"model_code": "A"}, headers=CLERK, timeout=10) \
        .status_code == 201
    replaced = requests.put(url, json={"model_code": "B"}, headers=CLERK, timeout=10)
    assert (replaced.status_code, replaced.json()["model_code"]) == (200, "B")
    assert requests.delete(url, headers=CLERK, timeout=10).status_code == 204
    assert requests.delete(url, headers=CLERK, timeout=10).status_code == 404


def test_bad_lookups_are_422_naming_the_field(parts_site):
    for params, field in (({"vin": "LSVAU2187N218374O"}, "vin"),   # O is not a VIN letter
                          ({"limit": "0"}, "limit"), ({"colour": "red"}, "colour")):
        response = parts_site.get("/parts", ADVISOR, **params)
        assert response.status_code == 422, params
        assert field in response.json()["fields"]
    response = requests.put(f"{parts_site.url}/vin-models/LS", json={"model_code": "X"},
                            headers=CLERK, timeout=10)
    assert response.status_code == 422
    assert "vin_prefix" in response.json()["fields"]


# -- RPC ------------------------------------------------------------------------------------


def test_price_of_answers_price_and_availability_over_rpc(parts_site):
    parts_site.part("06L115562B", on_hand=12)
    with ClusterRpcProxy({"AMQP_URI": parts_site.amqp_uri}, timeout=10) as cluster:
        answer = cluster.parts.price_of("06L115562B")
        with pytest.raises(RemoteError) as unknown:
            cluster.parts.price_of("NO-SUCH-PART")
    assert answer == {"part_number": "06L115562B", "name": "机油滤清器", "unit_price": "68.00",
                      "unit": "EA", "available": "12"}
    assert unknown.value.exc_type == "NotFound"


class QuoteDesk:
    """A caller at the same site, as workorder calls parts while building a quote."""

    name = "quote_desk"
    parts = SiteRpc("parts", timeout=5)

    @http("GET", "/price/<string:part_number>", roles={Role.ADVISOR})
    def price(self, request: Request, part_number: str) -> Response:
        return json_response(self.parts.price_of(part_number))


def test_an_unknown_part_stays_not_found_for_a_caller_at_the_site(parts_site, services):
    parts_site.part("06L115562B", on_hand=3)
    desk = make_settings("quote_desk", parts_site.db, parts_site.amqp_uri)
    services(QuoteDesk, desk)
    url = f"http://127.0.0.1:{desk.http_port}/price"
    found = requests.get(f"{url}/06L115562B", headers=ADVISOR, timeout=10)
    assert (found.status_code, found.json()["available"]) == (200, "3")
    missing = requests.get(f"{url}/NO-SUCH-PART", headers=ADVISOR, timeout=10)
    assert missing.status_code == 404
    assert missing.json()["error"] == NotFound.code
