"""Fuzzing the read side of the web app with hypothesis, on SQLite and PostgreSQL: every list,
detail, export and page endpoint with odd path segments and query values, and mangled
cursors. Never a 5xx; API errors in the JSON shape, page errors as pages; the same read twice
gives the same answer. test_api_errors.py has the table of known bad inputs and the query
fuzz of the three list endpoints; this extends it to every endpoint and to PostgreSQL."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import targets
from tests.support.webkit import Site

pytest_plugins = ["tests.support.webfixtures", "tests.support.figureplugin"]

FAST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@settings(FAST, max_examples=120)
@given(request=targets.api_requests())
def test_any_request_to_any_read_endpoint_is_answered_without_a_5xx(
    any_site: Site, request: tuple[str, dict[str, str]]
) -> None:
    targets.check_api(any_site.client.get, *request)


@settings(FAST, max_examples=60)
@given(
    edits=st.lists(st.tuples(st.integers(0, 200), st.characters(codec="ascii")), min_size=1),
    path=st.sampled_from(["/api/clusters", "/api/articles", "/api/outlets"]),
)
def test_a_mangled_cursor_is_a_bad_cursor_never_a_crash(
    any_site: Site, edits: list[tuple[int, str]], path: str
) -> None:
    first = any_site.client.get(path, params={"limit": 2}).json()
    cursor = list(first["next"] or "eyJ4IjoxfQ")
    for where, char in edits:
        cursor[where % len(cursor)] = char
    mangled = "".join(cursor)
    status = targets.check_api(any_site.client.get, path, {"limit": "2", "cursor": mangled})
    if status == 400:
        code = any_site.client.get(path, params={"limit": 2, "cursor": mangled}).json()
        assert code["error"]["code"] in ("bad_cursor", "bad_request"), code
