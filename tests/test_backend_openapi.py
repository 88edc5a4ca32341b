"""schemathesis against `catalyst serve`'s own OpenAPI document: for generated
requests to every operation, no 5xx and every response matches the schema.

Kept small (a handful of examples per operation) so it runs in seconds. One
check is left out: "a schema-valid request is accepted". The schema says a
workflow document is any JSON object; whether it is a *valid workflow* is what
the endpoints answer (422 with diagnostics), which no schema can say."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from backend_server import Served
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with Served(tmp_path_factory.mktemp("openapi"), "--run-time-limit", "5") as running:
        yield running


def test_api_matches_its_openapi(served: Served) -> None:
    # Driven by hand (not schemathesis.pytest.from_fixture, whose plugin reads a
    # pytest-internal attribute that pytest 9 removed): every operation, a few cases each.
    schema = schemathesis.openapi.from_url(served.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(timeout=30, excluded_checks=[positive_data_acceptance])

        check()


def test_openapi_documents_every_endpoint(served: Served) -> None:
    paths = served.client.get("/openapi.json").json()["paths"]
    assert set(paths) >= {
        "/api/nodes", "/api/models", "/api/validate", "/api/generate", "/api/upgrade",
        "/api/graph", "/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/events",
    }
    assert "text/event-stream" in paths["/api/runs"]["post"]["responses"]["200"]["content"]
