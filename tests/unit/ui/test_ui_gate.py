"""The gate of the forwarder (mlkube.ui.gate): only this session's browser gets through."""

from __future__ import annotations

import pytest

from mlkube.ui.gate import SESSION_PARAM, Forward, Gate, Refuse, Request, SignIn

PORT = 43210
OWN = f"127.0.0.1:{PORT}"


def gate() -> Gate:
    return Gate(PORT, secret="the-secret", cookie="the-cookie")


def signed_in(**fields: object) -> Request:
    values: dict[str, object] = {
        "target": "/ajax-api/2.0/mlflow/experiments/search",
        "hosts": (OWN,),
        "cookie": f"mlkube-ui-{PORT}=the-cookie",
    }
    values.update(fields)
    return Request(**values)  # type: ignore[arg-type]


def test_the_sign_in_link_is_the_secret_on_loopback() -> None:
    assert gate().sign_in_url == f"http://127.0.0.1:{PORT}/?{SESSION_PARAM}=the-secret"


def test_secrets_are_random_per_session() -> None:
    one, other = Gate(PORT), Gate(PORT)
    assert one.secret != other.secret
    assert one.cookie != other.cookie
    assert one.secret != one.cookie
    assert len(one.secret) >= 40


def test_the_secret_is_exchanged_once_for_a_strict_http_only_cookie() -> None:
    session = gate()
    link = Request(target=f"/?{SESSION_PARAM}=the-secret", hosts=(OWN,))
    verdict = session.judge(link)
    assert verdict == SignIn(f"mlkube-ui-{PORT}=the-cookie; Path=/; HttpOnly; SameSite=Strict")
    again = session.judge(link)
    assert isinstance(again, Refuse)
    assert again.status == 403
    assert "used already" in again.message


def test_the_link_again_in_the_signed_in_browser_just_opens_the_ui() -> None:
    session = gate()
    session.judge(Request(target=f"/?{SESSION_PARAM}=the-secret", hosts=(OWN,)))
    assert session.judge(signed_in(target=f"/?{SESSION_PARAM}=the-secret")) == SignIn(None)


@pytest.mark.parametrize(
    "target",
    [
        f"/?{SESSION_PARAM}=guess",
        f"/?{SESSION_PARAM}=the-secre",
        f"/?{SESSION_PARAM}=the-secret&{SESSION_PARAM}=the-secret",
        f"/?{SESSION_PARAM}=",
    ],
)
def test_a_wrong_secret_signs_nobody_in(target: str) -> None:
    session = gate()
    verdict = session.judge(Request(target=target, hosts=(OWN,)))
    assert isinstance(verdict, Refuse)
    assert verdict.status == 403
    # ... and it did not spend the real one.
    real = Request(target=f"/?{SESSION_PARAM}=the-secret", hosts=(OWN,))
    assert isinstance(session.judge(real), SignIn)


def test_a_request_with_the_cookie_is_forwarded() -> None:
    assert gate().judge(signed_in()) == Forward()
    with_others = signed_in(cookie=f"jupyter=x; mlkube-ui-{PORT}=the-cookie; broken")
    assert gate().judge(with_others) == Forward()
    assert gate().judge(signed_in(hosts=(f"localhost:{PORT}",))) == Forward()


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        f"mlkube-ui-{PORT}=wrong",
        f"mlkube-ui-{PORT}=the-secret",  # the link's secret is not the cookie
        "mlkube-ui-1=the-cookie",  # another port's session
        f"mlkube-ui-{PORT}=the-cookie-and-more",
    ],
)
def test_without_the_cookie_a_request_is_refused(cookie: str) -> None:
    verdict = gate().judge(signed_in(cookie=cookie))
    assert isinstance(verdict, Refuse)
    assert verdict.status == 403
    assert "not signed in" in verdict.message


@pytest.mark.parametrize(
    "hosts",
    [
        ("evil.example",),
        (f"evil.example:{PORT}",),  # DNS rebinding: a site's name resolving to 127.0.0.1
        ("127.0.0.1",),
        ("127.0.0.1:1",),
        (f"[::1]:{PORT}",),
        (),
        (OWN, OWN),
    ],
)
def test_a_foreign_host_is_refused_even_with_the_cookie(hosts: tuple[str, ...]) -> None:
    verdict = gate().judge(signed_in(hosts=hosts))
    assert isinstance(verdict, Refuse)
    assert verdict.status == 403


def test_a_foreign_host_cannot_spend_the_secret() -> None:
    session = gate()
    link = f"/?{SESSION_PARAM}=the-secret"
    assert isinstance(session.judge(Request(target=link, hosts=("evil.example",))), Refuse)
    assert isinstance(session.judge(Request(target=link, hosts=(OWN,))), SignIn)


@pytest.mark.parametrize("site", ["same-site", "cross-site", "something-new"])
def test_requests_other_origins_start_are_refused(site: str) -> None:
    verdict = gate().judge(signed_in(fetch_site=site))
    assert isinstance(verdict, Refuse)
    assert verdict.status == 403


@pytest.mark.parametrize("site", ["same-origin", "none", None])
def test_requests_of_its_own_pages_or_the_user_pass(site: str | None) -> None:
    assert gate().judge(signed_in(fetch_site=site)) == Forward()


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:8888", "http://evil.example", "null", f"https://{OWN}"]
)
def test_a_foreign_origin_is_refused(origin: str) -> None:
    verdict = gate().judge(signed_in(origin=origin))
    assert isinstance(verdict, Refuse)
    assert verdict.status == 403


def test_its_own_origin_passes() -> None:
    assert gate().judge(signed_in(origin=f"http://{OWN}")) == Forward()
    localhost = f"localhost:{PORT}"
    own = signed_in(hosts=(localhost,), origin=f"http://{localhost}")
    assert gate().judge(own) == Forward()


@pytest.mark.parametrize("target", ["http://evil.example/", "*", "evil.example:443", ""])
def test_only_origin_form_targets_are_served(target: str) -> None:
    verdict = gate().judge(signed_in(target=target))
    assert isinstance(verdict, Refuse)
    assert verdict.status == 400
