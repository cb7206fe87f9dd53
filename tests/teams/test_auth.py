"""Bot Framework authentication with auth on: tokens signed locally (RS256) against the
double's OpenID metadata and key set. Anything but a valid Bot Connector token is 401."""

from __future__ import annotations

import shutil

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.demo import CHAIN_QUESTION
from bot.runtime import Runtime
from bot.settings import Settings, TeamsSettings
from bot.teams.server import create_app
from tests.teams import activities as teams
from tests.teams.double import ACCESS_TOKEN, KID
from tests.teams.world import TeamsWorld

SOFIA = "sofia.lindqvist"


def claims(world: TeamsWorld, **changes) -> dict:
    valid = {
        "iss": "https://api.botframework.com",
        "aud": teams.APP_ID,
        "serviceurl": world.service_url,
    }
    return {k: v for k, v in {**valid, **changes}.items() if v is not None}


def question(world: TeamsWorld) -> dict:
    return teams.personal_message(
        world.service_url, teams.user(world.person(SOFIA)), CHAIN_QUESTION
    )


def test_a_request_without_a_token_is_rejected(secure):
    assert secure.post(question(secure))[0] == 401
    assert secure.post(question(secure), token="")[0] == 401
    assert secure.flow.lc.questions() == []


@pytest.mark.parametrize(
    "why",
    [
        "garbage",
        "other key",
        "unknown kid",
        "HS256",
        "expired",
        "no expiry",
        "audience",
        "audience list",
        "audience number",
        "no audience",
        "issuer",
        "service url",
        "no service url",
        "empty service url",
        "service url number",
    ],
)
def test_a_request_with_a_bad_token_is_rejected(secure, why):
    double = secure.double
    if why == "garbage":
        token = "not.a.jwt"
    elif why == "other key":
        token = double.sign(claims(secure), key=rsa.generate_private_key(65537, 2048))
    elif why == "unknown kid":
        token = double.sign(claims(secure), kid="someone-elses-key")
    elif why == "HS256":  # signed with a shared secret instead of the key set's RSA key
        token = jwt.encode(claims(secure), "a" * 32, algorithm="HS256", headers={"kid": KID})
    elif why == "expired":
        token = double.sign(claims(secure, exp=1_000_000_000, nbf=999_999_000, iat=999_999_000))
    elif why == "no expiry":
        token = secure.token(exp=None)
    elif why == "audience":
        token = double.sign(claims(secure, aud="another-bot"))
    elif why == "audience list":
        token = secure.token(aud=["another-bot", "a-third-bot"])
    elif why == "audience number":
        token = secure.token(aud=42)
    elif why == "no audience":
        token = secure.token(aud=None)
    elif why == "issuer":
        token = double.sign(claims(secure, iss="https://evil.example"))
    elif why == "service url":
        token = double.sign(claims(secure, serviceurl="https://elsewhere.example/"))
    elif why == "no service url":  # it would let the activity name any URL for our token
        token = secure.token(serviceurl=None)
    elif why == "empty service url":
        token = secure.token(serviceurl="")
    else:
        token = secure.token(serviceurl=12)
    status, body = secure.post(question(secure), token=token)
    assert status == 401 and body == {"error": "unauthorized"}
    assert secure.flow.lc.questions() == []
    assert secure.double.posts() == []  # nothing was sent anywhere with our token


def test_the_activity_must_name_the_service_url_of_its_token(secure):
    """The bot posts, with its own token, to the activity's serviceUrl: it must be the one
    the Bot Connector signed for (401), and be there at all (400)."""
    elsewhere = teams.personal_message(
        "https://attacker.example/", teams.user(secure.person(SOFIA)), CHAIN_QUESTION
    )
    assert secure.post(elsewhere, token=secure.token())[0] == 401
    missing = question(secure)
    del missing["serviceUrl"]
    assert secure.post(missing, token=secure.token())[0] == 400
    assert secure.flow.lc.questions() == []
    assert secure.double.posts() == []


def test_service_urls_compare_as_the_bot_framework_does(secure):
    """Ignoring case and a trailing slash (the .NET SDK compares ignoring case)."""
    assert secure.service_url.endswith("/")
    claimed = secure.service_url.rstrip("/").replace("http://127.0.0.1", "HTTP://127.0.0.1")
    status, _ = secure.post(question(secure), token=secure.token(serviceurl=claimed))
    assert status == 202
    assert len(secure.flow.questions_of(SOFIA)) == 1


def test_an_audience_list_that_names_the_app_is_accepted(secure):
    token = secure.token(aud=["https://api.botframework.com", teams.APP_ID])
    status, _ = secure.post(question(secure), token=token)
    assert status == 202
    assert len(secure.flow.questions_of(SOFIA)) == 1


@pytest.mark.parametrize("endorsements", [["webchat"], []])
def test_a_key_not_endorsed_for_teams_is_rejected(secure, endorsements):
    secure.double.endorsements = endorsements
    token = secure.double.sign(claims(secure))
    assert secure.post(question(secure), token=token)[0] == 401


def test_a_valid_token_is_accepted_and_the_bot_answers_with_its_own_token(secure):
    token = secure.double.sign(claims(secure))
    account = teams.user(secure.person(SOFIA))
    status, _ = secure.post(teams.install(secure.service_url, account), token=token)
    assert status == 202
    [hello] = secure.double.posts()
    assert hello.authorization == f"Bearer {ACCESS_TOKEN}"
    [grant] = secure.double.of("POST", "token")
    assert grant.path == f"/login/{teams.TENANT}/oauth2/v2.0/token"
    assert grant.body["client_id"] == teams.APP_ID
    assert grant.body["scope"] == "https://api.botframework.com/.default"
    assert secure.post(question(secure), token=token)[0] == 202
    assert len(secure.flow.questions_of(SOFIA)) == 1


def test_the_health_check_needs_no_token(secure):
    assert secure.get("/healthz") == (200, {"ok": True})


def test_auth_on_needs_an_app_id(encoder, sample_db, tmp_path):
    settings = Settings(_env_file=None, db_path=tmp_path / "x.db", teams=TeamsSettings())
    shutil.copyfile(sample_db, settings.db_path)
    runtime = Runtime(settings, encoder=encoder)
    with pytest.raises(ValueError, match="APP_ID"):
        create_app(runtime, settings)
