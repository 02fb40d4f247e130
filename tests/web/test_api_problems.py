"""Every error under /api/ is RFC 9457 problem JSON built on Litestar's problem details (`ApiProblem` is a
`ProblemDetailsException`), with the same fields wherever it is raised: in a handler, a guard, or before any API route
is reached (a path no route matches, a method a route does not take)."""

from __future__ import annotations

from litestar.plugins.problem_details import ProblemDetailsException

from dps.web.api import ApiProblem, bad_parameter


def test_an_api_problem_is_a_litestar_problem_details_exception():
    problem = bad_parameter("page", "must be a whole number")
    assert isinstance(problem, ProblemDetailsException)
    assert (problem.status_code, problem.title, problem.type_) == (400, "Invalid query parameter",
                                                                   "/api/v1/problems/invalid-parameter")
    assert problem.extra == {"invalid_params": [{"name": "page", "reason": "page: must be a whole number"}]}
    assert ApiProblem(404, "Not found", "gone", "not-found").extra is None


async def test_errors_under_the_api_are_problem_json_wherever_they_are_raised(client):
    cases = {
        ("GET", "/api/v1/ocds/records/a/b"): (404, "not-found"),  # no route matches the path
        ("POST", "/api/v1/ocds/bulk"): (405, "http-error"),  # the route takes GET only
        ("GET", "/api/v1/ocds/releases?since=soon"): (400, "invalid-parameter"),  # the handler refuses
        ("GET", "/api/v1/innovations?page=0"): (400, "invalid-parameter"),  # Litestar's validation
    }
    for (method, path), (status, kind) in cases.items():
        response = await client.request(method, path)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), path
        body = response.json()
        assert body["type"] == f"/api/v1/problems/{kind}" and body["status"] == status, body
        assert body["title"] and body["detail"] and body["instance"] == path.split("?")[0], body
        if status == 400:
            assert body["invalid_params"][0]["name"] in ("since", "page"), body
    refused = await client.get("/api/v1/ocds/releases", headers={"Authorization": "Bearer not-a-key"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert refused.json()["type"] == "/api/v1/problems/unauthorised"
