"""Bot Framework authentication, both ways.

Incoming: every POST to /api/messages carries a JWT that the Bot Connector signed. The SDK's
`JwtTokenValidator` checks the signature (RS256), the expiry and the audience (our app id),
but it fetches signing keys from hard-coded Microsoft URLs and does not check the issuer,
the key's endorsements or the `serviceurl` claim. `BotFrameworkTokenValidator` keeps the
SDK's checks and takes the keys from a configurable OpenID metadata document
(`settings.teams.openid_metadata_url`: the Bot Framework's own in production, a local key
set in tests), then checks the issuer, that the key is endorsed for the activity's channel
and that the token was issued for the activity's service URL.

Outgoing: calls to the Bot Connector REST API carry a token for the bot's app registration,
from the OAuth 2.0 client-credentials grant against Microsoft Entra
(`settings.teams.login_url`). `ClientCredentialsTokenProvider` implements the SDK's
`AccessTokenProviderBase` for that; `TeamsConnections` hands it to the SDK.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

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
KEYS_TTL_SECONDS = 24 * 3600  # Microsoft rotates keys rarely; refetched early on an unknown kid
REFETCH_AFTER_SECONDS = 60  # an unknown kid refetches the key set at most once a minute
# The endorsements (channel ids) of the key that signed the token being validated.
_endorsements: contextvars.ContextVar[list[str]] = contextvars.ContextVar("endorsements")


class AuthError(ValueError):
    """A request whose token does not prove it comes from the Bot Connector."""


@dataclass
class _KeySet:
    keys: dict[str, tuple[jwt.PyJWK, list[str]]] = field(default_factory=dict)  # kid -> key
    fetched_at: float = 0.0


class BotFrameworkTokenValidator(JwtTokenValidator):
    """The SDK's token validator with the key source configurable and the Bot Framework's
    further rules checked (issuer, endorsements, service URL)."""

    def __init__(self, configuration: AgentAuthConfiguration, openid_metadata_url: str) -> None:
        super().__init__(configuration)
        self.openid_metadata_url = openid_metadata_url
        self._keys = _KeySet()
        self._lock = asyncio.Lock()

    async def validate_activity_token(
        self, token: str, channel_id: str | None, service_url: str | None
    ) -> ClaimsIdentity:
        """Check `token` for an activity of `channel_id` from `service_url`."""
        _endorsements.set([])
        try:
            identity = await self.validate_token(token)
        except AuthError:
            raise
        except (jwt.PyJWTError, ValueError, KeyError) as error:
            raise AuthError(f"invalid token: {error}") from None
        endorsements = _endorsements.get()
        claims = identity.claims
        if claims.get("iss") != BOT_FRAMEWORK_ISSUER:
            raise AuthError("the token was not issued by the Bot Framework")
        if channel_id and endorsements and channel_id not in endorsements:
            raise AuthError(f"the signing key is not endorsed for channel {channel_id!r}")
        claimed_url = claims.get("serviceurl") or claims.get("serviceUrl")
        if claimed_url and service_url and claimed_url.rstrip("/") != service_url.rstrip("/"):
            raise AuthError("the token was issued for another service URL")
        return identity

    async def _get_public_key_or_secret(self, token: str) -> jwt.PyJWK:
        """The signing key named by the token's `kid`, from the configured key set."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as error:
            raise AuthError(f"malformed token: {error}") from None
        if not kid:
            raise AuthError("the token names no signing key")
        found = await self._key(kid)
        if found is None:
            raise AuthError("the token was signed with an unknown key")
        key, endorsements = found
        _endorsements.set(endorsements)
        return key

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


async def authenticate(
    request: web.Request, validator: BotFrameworkTokenValidator | None
) -> ClaimsIdentity:
    """The caller's identity: a validated Bot Framework identity, or anonymous when
    authentication is off (`validator` None). Raises AuthError."""
    if validator is None:
        return ClaimsIdentity({}, False, authentication_type="Anonymous")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("no bearer token")
    try:
        body: dict[str, Any] = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise AuthError("the body is not an activity") from None
    if not isinstance(body, dict):
        raise AuthError("the body is not an activity")
    return await validator.validate_activity_token(
        token.strip(), body.get("channelId"), body.get("serviceUrl")
    )
