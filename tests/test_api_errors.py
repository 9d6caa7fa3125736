"""Bad input gets a 4xx with the JSON error shape, never a 500: validation, cursors, search
syntax, huge and odd values, unknown routes; with hypothesis over the query parameters."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.support.webkit import Site, error_of

pytest_plugins = ["tests.support.webfixtures"]

FTS_SYNTAX = ['"', '""', "*", "a*", "NEAR(", "NEAR(a b", "OR", "a OR b", "-", "-a", "a AND",
              "(", ")", "'", '"unbalanced', "title:x", "^a", "{a b}", "a + b", "\\", ":",
              "NOT a"]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "bad_request"),
        ({"limit": "501"}, "bad_request"),
        ({"limit": "abc"}, "bad_request"),
        ({"limit": "9" * 40}, "bad_request"),
        ({"limit": "-5"}, "bad_request"),
        ({"min_outlets": "1e309"}, "bad_request"),
        ({"min_outlets": "-1"}, "bad_request"),
        ({"min_outlets": "99999999999999999999999"}, "bad_request"),
        ({"since": "yesterday"}, "bad_request"),
        ({"since": "2019-13-45"}, "bad_request"),
        ({"until": "9" * 80}, "bad_request"),
        ({"sort": "random"}, "bad_request"),
        ({"cursor": "not-a-cursor"}, "bad_cursor"),
        ({"cursor": "eyJrIjpbMV0sImYiOiJ4In0"}, "bad_cursor"),
        ({"cursor": "!!!"}, "bad_cursor"),
        ({"cursor": "x" * 2000}, "bad_request"),
        ({"q": '"'}, "bad_search"),
        ({"q": "* - ( )"}, "bad_search"),
        ({"q": " ".join(["word"] * 40)}, "bad_search"),
        ({"q": "x" * 600}, "bad_request"),
        ({"outlet": "a\x00b"}, "bad_request"),
        ({"outlet": "x" * 300}, "bad_request"),
        ({"language": "e\nn"}, "bad_request"),
        ({"label": "\x7f"}, "bad_request"),
    ],
)
def test_bad_cluster_list_parameters(shared_site: Site, query: dict[str, str], code: str) -> None:
    response = shared_site.client.get("/api/clusters", params=query)
    assert response.status_code == 400
    assert error_of(response)["code"] == code


@pytest.mark.parametrize("q", FTS_SYNTAX)
def test_search_syntax_is_neutralised(shared_site: Site, q: str) -> None:
    for path in ("/api/clusters", "/api/articles"):
        response = shared_site.client.get(path, params={"q": q})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 400:
            assert error_of(response)["code"] == "bad_search"
    page = shared_site.client.get("/", params={"q": q})
    assert page.status_code in (200, 400)


def test_operators_are_searched_as_words(shared_site: Site) -> None:
    plain = shared_site.client.get("/api/articles", params={"q": "Schiff", "limit": 500}).json()
    syntax = shared_site.client.get(
        "/api/articles", params={"q": 'Schiff* -"', "limit": 500}
    ).json()
    assert plain["items"] and plain["items"] == syntax["items"]


def test_a_cursor_belongs_to_its_query(shared_site: Site) -> None:
    client = shared_site.client
    first = client.get("/api/clusters", params={"limit": 2}).json()
    other_filter = client.get(
        "/api/clusters", params={"limit": 2, "cursor": first["next"], "min_outlets": 2}
    )
    assert error_of(other_filter)["code"] == "bad_cursor"
    other_sort = client.get(
        "/api/clusters", params={"limit": 2, "cursor": first["next"], "sort": "largest"}
    )
    assert error_of(other_sort)["code"] == "bad_cursor"
    other_list = client.get("/api/articles", params={"cursor": first["next"]})
    assert error_of(other_list)["code"] == "bad_cursor"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/clusters/0", 400),
        ("/api/clusters/abc", 400),
        ("/api/clusters/99999999999999999999999999", 400),
        ("/api/clusters/123456789", 404),
        ("/api/articles/123456789", 404),
        ("/api/articles/-1", 400),
        ("/api/nothing", 404),
        ("/api/exports/articles.exe", 404),
        ("/api/exports/..%2F..%2Fetc%2Fpasswd", 404),
        ("/api/audit?cluster=0", 400),
        ("/api/articles?cluster=99999999999999999999", 400),
    ],
)
def test_bad_paths(shared_site: Site, path: str, status: int) -> None:
    response = shared_site.client.get(path)
    assert response.status_code == status
    error_of(response)


def test_wrong_method_and_html_errors(shared_site: Site) -> None:
    response = shared_site.client.post("/api/clusters")
    assert response.status_code == 405
    error_of(response)
    page = shared_site.client.get("/clusters/123456789")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert 'id="error-message"' in page.text
    bad = shared_site.client.get("/", params={"min_outlets": "lots"})
    assert bad.status_code == 400 and "min_outlets" in bad.text


ODD = st.sampled_from(
    ["", "0", "-1", "1e309", "NaN", "9" * 30, "\x00", "%00", "\ufeff", "\U0001f600", "ü", "'",
     '"', "*", "NEAR(", "OR", "-", "a:b", "ownership:private", "2019-01-01", "2019-01-01T25:00",
     "<script>", "../../etc/passwd", " ", "\t", "null", "[]", "{}"]
)  # fmt: skip
VALUE = st.one_of(ODD, st.text(max_size=30), st.integers(-(2**70), 2**70).map(str))
PARAMS = st.dictionaries(
    st.sampled_from(
        ["since", "until", "outlet", "label", "language", "min_outlets", "q", "limit", "cursor",
         "sort", "cluster"]
    ),
    VALUE,
    max_size=5,
)  # fmt: skip


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=PARAMS, path=st.sampled_from(["/api/clusters", "/api/articles", "/api/outlets"]))
def test_any_query_parameters_give_200_or_a_json_400(
    shared_site: Site, query: dict[str, str], path: str
) -> None:
    response = shared_site.client.get(path, params=query)
    assert response.status_code in (200, 400), (query, response.text)
    if response.status_code == 400:
        error_of(response)
    else:
        assert set(response.json()) == {"items", "next"}


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=PARAMS)
def test_any_query_parameters_on_the_stories_page(shared_site: Site, query: dict[str, str]) -> None:
    response = shared_site.client.get("/", params=query)
    assert response.status_code in (200, 400), (query, response.text[:300])
