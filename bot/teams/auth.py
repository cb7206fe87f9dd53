"""Bot Framework authentication, both ways.

Incoming: every POST to /api/messages carries a JWT that the Bot Connector signed. Checked
as the Bot Framework's channel validation does, in two steps:

1. The token alone (`BotFrameworkTokenValidator.validate_caller`), before the body is read:
   signed (RS256) with a key from the configured OpenID metadata
   (`settings.teams.openid_metadata_url`: the Bot Framework's own in production, a local key
   set in tests; the SDK's `JwtTokenValidator` has Microsoft's key URLs hard-coded), issued
   by `https://api.botframework.com`, with an expiry that has not passed (5 minutes of clock
   skew), for our app id (`aud`, a string or a list that contains it) and naming the
   service URL it was issued for (`serviceurl`).
2. The token against the activity (`check_activity`): the signing key is endorsed for the
   activity's `channelId`, and the `serviceurl` claim equals the activity's `serviceUrl`
   (ignoring case, as the .NET Bot Framework SDK does, and a trailing slash). The bot sends
   its own token to that URL, so it must be one the Bot Connector vouched for.

Outgoing: calls to the Bot Connector REST API carry a token for the bot's app registration,
from the OAuth 2.0 client-credentials grant against Microsoft Entra
(`settings.teams.login_url`). `ClientCredentialsTokenProvider` implements the SDK's
`AccessTokenProviderBase` for that; `TeamsConnections` hands it to the SDK.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

import aiohttp
import jwt
from aiohttp import web
from microsoft_agents.hosting.core import (
    AccessTokenProviderBase,
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ClaimsIdentity,
)
from microsoft_agents.hosting.core.authorization import JwtTokenValidator

from bot.settings import TeamsSettings

log = logging.getLogger(__name__)

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
# Multi-tenant bot registrations get their tokens from this Entra tenant.
BOT_FRAMEWORK_TENANT = "botframework.com"
SERVICE_URL_CLAIM = "serviceurl"
CLOCK_SKEW_SECONDS = 300  # the Bot Framework SDKs allow 5 minutes
KEYS_TTL_SECONDS = 24 * 3600  # Microsoft rotates keys rarely; refetched early on an unknown kid
REFETCH_AFTER_SECONDS = 60  # an unknown kid refetches the key set at most once a minute


class AuthError(ValueError):
    """A request whose token does not prove it comes from the Bot Connector (401)."""


@dataclass(frozen=True)
class Caller:
    """A validated token: its identity and the channels its signing key is endorsed for."""

    identity: ClaimsIdentity
    endorsements: tuple[str, ...]

    @property
    def service_url(self) -> str:
        return self.identity.claims[SERVICE_URL_CLAIM]


@dataclass
class _KeySet:
    keys: dict[str, tuple[jwt.PyJWK, list[str]]] = field(default_factory=dict)  # kid -> key
    fetched_at: float = 0.0


class BotFrameworkTokenValidator(JwtTokenValidator):
    """The SDK's token validator with the key source configurable and the Bot Framework's
    rules checked (issuer, expiry, audience, service URL claim; endorsements and the
    activity's service URL in `check_activity`)."""

    def __init__(self, configuration: AgentAuthConfiguration, openid_metadata_url: str) -> None:
        super().__init__(configuration)
        self.openid_metadata_url = openid_metadata_url
        self._keys = _KeySet()
        self._lock = asyncio.Lock()

    async def validate_token(self, token: str) -> ClaimsIdentity:
        """The SDK's entry point: the identity of a valid token. Raises AuthError."""
        return (await self.validate_caller(token)).identity

    async def validate_caller(self, token: str) -> Caller:
        """Check `token` on its own (nothing of the request body is needed). Raises
        AuthError."""
        key, endorsements = await self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=BOT_FRAMEWORK_ISSUER,
                leeway=CLOCK_SKEW_SECONDS,
                options={"verify_aud": False, "require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise AuthError(f"invalid token: {error}") from None
        app_id = self.configuration.CLIENT_ID or ""
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if not all(isinstance(audience, str) for audience in audiences):
            raise AuthError("invalid token: the audience is not a string or a list of them")
        if not app_id or app_id.lower() not in {audience.lower() for audience in audiences}:
            raise AuthError("the token was issued for another app")
        service_url = claims.get(SERVICE_URL_CLAIM)
        if not isinstance(service_url, str) or not service_url.strip():
            raise AuthError("the token names no service URL")
        # The SDK reads `aud` as one string: keep the audience that matched.
        claims["aud"] = app_id
        return Caller(ClaimsIdentity(claims, True, security_token=token), tuple(endorsements))

    async def _signing_key(self, token: str) -> tuple[jwt.PyJWK, list[str]]:
        """The key named by the token's `kid`, from the configured key set, and its
        endorsements."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as error:
            raise AuthError(f"malformed token: {error}") from None
        if not kid or not isinstance(kid, str):
            raise AuthError("the token names no signing key")
        found = await self._key(kid)
        if found is None:
            raise AuthError("the token was signed with an unknown key")
        return found

    async def _get_public_key_or_secret(self, token: str) -> jwt.PyJWK:
        return (await self._signing_key(token))[0]

    async def _key(self, kid: str) -> tuple[jwt.PyJWK, list[str]] | None:
        async with self._lock:
            age = time.monotonic() - self._keys.fetched_at
            stale = not self._keys.keys or age > KEYS_TTL_SECONDS
            unknown = kid not in self._keys.keys and age > REFETCH_AFTER_SECONDS
            if stale or unknown:
                try:
                    self._keys = await self._fetch_keys()
                except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as error:
                    log.error("cannot fetch Bot Framework signing keys: %s", error)
                    if not self._keys.keys:
                        raise AuthError("signing keys are unavailable") from None
            return self._keys.keys.get(kid)

    async def _fetch_keys(self) -> _KeySet:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(self.openid_metadata_url) as response:
                response.raise_for_status()
                metadata = json.loads(await response.text())
            async with session.get(metadata["jwks_uri"]) as response:
                response.raise_for_status()
                jwks = json.loads(await response.text())
        keys = {}
        for data in jwks.get("keys", []):
            if not data.get("kid"):
                continue
            try:
                keys[data["kid"]] = (jwt.PyJWK(data, "RS256"), list(data.get("endorsements", [])))
            except jwt.PyJWTError as error:
                log.warning("skipping unusable signing key %s: %s", data.get("kid"), error)
        log.info("fetched %d Bot Framework signing key(s)", len(keys))
        return _KeySet(keys, time.monotonic())


def check_activity(caller: Caller, channel_id: str, service_url: str) -> None:
    """Check that the activity is one the token vouches for. Raises AuthError."""
    if channel_id not in caller.endorsements:
        raise AuthError(f"the signing key is not endorsed for channel {channel_id[:40]!r}")
    if not same_service_url(caller.service_url, service_url):
        raise AuthError("the token was issued for another service URL")


def same_service_url(claimed: str, given: str) -> bool:
    """The Bot Framework's comparison of the `serviceurl` claim with an activity's
    `serviceUrl`: equal ignoring case (as in the .NET SDK) and one trailing slash."""
    return claimed.removesuffix("/").lower() == given.removesuffix("/").lower()


def bearer_token(request: web.Request) -> str:
    """The bearer token of the request's Authorization header. Raises AuthError."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("no bearer token")
    return token.strip()


class ClientCredentialsTokenProvider(AccessTokenProviderBase):
    """Tokens for the bot's own calls to the Bot Connector: the client-credentials grant of
    the bot's app registration, cached until shortly before they expire."""

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self._cache: dict[str, tuple[str, float]] = {}  # scope -> (token, expires at)

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        scope = " ".join(scopes or [BOT_FRAMEWORK_SCOPE])
        cached = self._cache.get(scope)
        if cached and not force_refresh and cached[1] > time.monotonic():
            return cached[0]
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": scope,
        }
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.token_url, data=form) as response,
        ):
            body = await response.text()
            if response.status >= 300:
                raise AuthError(f"token request failed ({response.status}): {body[:300]}")
            payload = json.loads(body)
        token = payload["access_token"]
        lifetime = float(payload.get("expires_in", 3600))
        self._cache[scope] = (token, time.monotonic() + max(lifetime - 300, lifetime / 2))
        return token


class TeamsConnections:
    """The SDK's `Connections`: one service connection, the bot's app registration (or an
    anonymous one when no credentials are configured, for local experiments)."""

    def __init__(self, settings: TeamsSettings) -> None:
        self.configuration = AgentAuthConfiguration(
            client_id=settings.app_id or None,
            tenant_id=settings.tenant_id or None,
            client_secret=settings.app_password or None,
        )
        self.provider: AccessTokenProviderBase
        if settings.app_id and settings.app_password:
            self.provider = ClientCredentialsTokenProvider(
                token_url(settings), settings.app_id, settings.app_password
            )
        else:
            self.provider = AnonymousTokenProvider()

    def get_connection(self, connection_name: str | None = None) -> AccessTokenProviderBase:
        return self.provider

    def get_default_connection(self) -> AccessTokenProviderBase:
        return self.provider

    def get_token_provider(
        self, claims_identity: ClaimsIdentity, service_url: str
    ) -> AccessTokenProviderBase:
        return self.provider

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self.configuration


def token_url(settings: TeamsSettings) -> str:
    """The Entra token endpoint for the bot's app registration."""
    tenant = settings.tenant_id or BOT_FRAMEWORK_TENANT
    return f"{settings.login_url.rstrip('/')}/{tenant}/oauth2/v2.0/token"


def validator_for(settings: TeamsSettings) -> BotFrameworkTokenValidator:
    """The incoming-token validator configured by the settings."""
    config = AgentAuthConfiguration(
        client_id=settings.app_id or None, tenant_id=settings.tenant_id or None
    )
    return BotFrameworkTokenValidator(config, settings.openid_metadata_url)
