"""mlkube.sources: what a model version may be registered from (issue 13). A spelling that S3, a
proxy or a lenient parser could read as another bucket or key is refused, never normalised."""

from __future__ import annotations

import pytest

from mlkube.sources import (
    PREFIX_RULE,
    SPELLING_RULE,
    S3Prefix,
    SourceRefused,
    SourceRule,
    parse_allowlist,
    parse_s3_uri,
)
from mlkube.storage import S3Location

RULE = SourceRule.of("mlkube", ["s3://shared/models/", "s3://public-data"])

ADMITTED = {
    "s3://mlkube/team-a/experiments/0/r/artifacts/m": "mlkube/team-a/experiments/0/r/artifacts/m",
    "s3://mlkube/team-a/model/": "mlkube/team-a/model",
    "s3://mlkube/team-a": "mlkube/team-a",
    "s3://shared/models/iris/1": "shared/models/iris/1",
    "s3://shared/models": "shared/models",
    "s3://public-data/anything/at/all": "public-data/anything/at/all",
    "s3://mlkube/team-a/model v1/ünïcode": "mlkube/team-a/model v1/ünïcode",
}

REFUSED = {
    # disguised spellings of mlkube's bucket
    "s3://MLKUBE/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://Mlkube/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://mlkube:9000/team-a/model": (SPELLING_RULE, "a port is not allowed"),
    "s3://mlkube:/team-a/model": (SPELLING_RULE, "a port is not allowed"),
    "s3://x@mlkube/team-a/model": (SPELLING_RULE, "user information"),
    "s3://x:y@mlkube/team-a/model": (SPELLING_RULE, "user information"),
    "s3://mlkube./team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://mlkube../team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://.mlkube/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://ml..kube/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://%6dlkube/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://192.168.0.1/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://xn--mlkube/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3://ab/team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "s3:///team-a/model": (SPELLING_RULE, "not an S3 bucket name"),
    "S3://mlkube/team-a/model": (SPELLING_RULE, "does not start with s3://"),
    "s3:/mlkube/team-a/model": (SPELLING_RULE, "does not start with s3://"),
    " s3://mlkube/team-a/model": (SPELLING_RULE, "does not start with s3://"),
    # keys that walk out of the namespace's prefix, or could after another reading
    "s3://mlkube/team-a/../team-b/model": (SPELLING_RULE, "'..'"),
    "s3://mlkube/team-a/./model": (SPELLING_RULE, "'..'"),
    "s3://mlkube/team-a/%2e%2e/team-b/model": (SPELLING_RULE, "%-escapes"),
    "s3://mlkube/team-a/%252e%252e/team-b": (SPELLING_RULE, "%-escapes"),
    "s3://mlkube/team-a%2fx": (SPELLING_RULE, "%-escapes"),
    "s3://mlkube//team-a/model": (SPELLING_RULE, "empty segments"),
    "s3://mlkube/team-a//model": (SPELLING_RULE, "empty segments"),
    "s3://mlkube/team-a/model//": (SPELLING_RULE, "empty segments"),
    "s3://mlkube/team-a\\..\\team-b": (SPELLING_RULE, "backslashes"),
    "s3://mlkube/team-a/model?x=1": (SPELLING_RULE, "'?'"),
    "s3://mlkube/team-a/model#x": (SPELLING_RULE, "'#'"),
    "s3://mlkube/team-a/mo\x00del": (SPELLING_RULE, "control characters"),
    "s3://mlkube/team-a/" + "k" * 1020: (SPELLING_RULE, "longer than 1024 bytes"),
    "s3://mlkube": (SPELLING_RULE, "no key"),
    "s3://mlkube/": (SPELLING_RULE, "no key"),
    # plainly spelt, but elsewhere
    "s3://mlkube/team-b/models/x/1": (PREFIX_RULE, "outside namespace team-a's prefix"),
    "s3://mlkube/team-ab/model": (PREFIX_RULE, "outside namespace team-a's prefix"),
    "s3://mlkube/team-a-2/model": (PREFIX_RULE, "outside namespace team-a's prefix"),
    "s3://mlkube/models/team-a/model": (PREFIX_RULE, "outside namespace team-a's prefix"),
    "s3://other/team-a/model": (PREFIX_RULE, "is in bucket other"),
    "s3://shared/models-private/x": (PREFIX_RULE, "is in bucket shared"),
    "s3://shared/other/models/x": (PREFIX_RULE, "is in bucket shared"),
    "s3://mlkube-backup/team-a/x": (PREFIX_RULE, "is in bucket mlkube-backup"),
}


@pytest.mark.parametrize(("source", "location"), ADMITTED.items())
def test_sources_in_the_namespace_or_an_allowlisted_prefix_are_admitted(
    source: str, location: str
) -> None:
    bucket, _, key = location.partition("/")
    assert RULE.check("team-a", source) == S3Location(bucket, key)


@pytest.mark.parametrize(("source", "why"), REFUSED.items())
def test_disguised_and_foreign_sources_are_refused_naming_the_rule(
    source: str, why: tuple[str, str]
) -> None:
    rule, detail = why
    with pytest.raises(SourceRefused) as refused:
        RULE.check("team-a", source)
    message = str(refused.value)
    assert f"rule: '{rule}'" in message or f"breaks the rule '{rule}'" in message
    assert detail in message


def test_a_refusal_says_what_to_do_instead() -> None:
    with pytest.raises(SourceRefused) as refused:
        RULE.check("team-a", "s3://mlkube/team-b/models/x/1")
    assert str(refused.value) == (
        "source s3://mlkube/team-b/models/x/1 is outside namespace team-a's prefix "
        f"s3://mlkube/team-a/ and no allowlisted prefix holds it (rule: '{PREFIX_RULE}'); "
        "register from a run or logged model in team-a (runs:/<runId>/<path>, "
        "models:/<modelId>) or from under s3://mlkube/team-a/, or ask an admin to add its "
        "prefix (s3://mlkube/team-b/) to operator.registrySourceAllowlist "
        "(MLKUBE_REGISTRY_SOURCE_ALLOWLIST) (allowlisted now: s3://shared/models/, "
        "s3://public-data/)"
    )
    with pytest.raises(SourceRefused) as refused:
        RULE.check("team-a", "s3://mlkube:9000/team-a/model")
    assert "write the bucket as S3 names it (lower-case, no port, no user)" in str(refused.value)


def test_a_resolved_location_is_admitted_by_the_same_rule() -> None:
    RULE.admit("team-a", S3Location("mlkube", "team-a/experiments/0/r/artifacts/model"))
    with pytest.raises(SourceRefused, match="outside namespace team-a's prefix"):
        RULE.admit("team-a", S3Location("mlkube", "team-b/experiments/0/r/artifacts/model"))


def test_the_strict_reading_keeps_the_key_as_written() -> None:
    assert parse_s3_uri("s3://a.b-c/x/y/") == S3Location("a.b-c", "x/y")


def test_allowlist_entries_are_directories_of_a_bucket() -> None:
    assert parse_allowlist([" s3://data/models ", "", "s3://whole/", "s3://x.y/a/b/"]) == (
        S3Prefix("data", "models/"),
        S3Prefix("whole", ""),
        S3Prefix("x.y", "a/b/"),
    )
    assert not S3Prefix("data", "models/").holds(S3Location("data", "models-secret/x"))


@pytest.mark.parametrize(
    "entry",
    ["data/models/", "s3://Data/models/", "s3://data:9000/m/", "s3://data/../x/", "s3://d/%2e/"],
)
def test_a_bad_allowlist_entry_is_a_settings_error_naming_it(entry: str) -> None:
    with pytest.raises(ValueError, match="MLKUBE_REGISTRY_SOURCE_ALLOWLIST") as bad:
        parse_allowlist([entry])
    assert repr(entry) in str(bad.value)


def test_the_whole_platform_bucket_cannot_be_allowlisted() -> None:
    with pytest.raises(ValueError, match="holds every namespace's data"):
        SourceRule.of("mlkube", ["s3://mlkube/"])
    assert SourceRule.of("mlkube", ["s3://mlkube/shared/"]).allowlist == (
        S3Prefix("mlkube", "shared/"),
    )
