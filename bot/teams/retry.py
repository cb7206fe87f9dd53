"""Retrying the bot's calls to the Bot Connector when it says "not now".

Teams rate-limits the bot APIs (HTTP 429) and asks for backoff; it also names 412, 502 and
504 as transient ("Optimize your bot with rate limiting in Teams"), and 5xx in general means
the call may succeed later. Every call the SDK's connector client makes (send, reply,
update, create a conversation, look a member up) goes through one aiohttp session per turn;
`RetryingClientFactory` gives that session a client middleware (`retrying`) that answers
such responses by waiting and trying again:

- the wait is the response's `Retry-After` (seconds or an HTTP date) if it has one, else
  exponential backoff with jitter (`base`, 2x, 4x... each drawn from its upper half);
- at most `tries` attempts; a single wait longer than `max_wait` (a long Retry-After) is not
  waited out, nor one that would end past `budget` since the first attempt: the response
  is then returned as it is and the caller fails (the scheduler retries the delivery later);
- the whole call, waits included, is bounded by the session timeout (`timeout`).

Other 4xx answers (403 not a member, 404 no such conversation, 401...) are final and
returned at once. Turns that answer an incoming activity use a short policy (Teams waits
about 15 s for the bot's answer), proactive deliveries a longer one (within the
deliverer's timeout).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp import (
    ClientHandlerType,
    ClientMiddlewareType,
    ClientRequest,
    ClientResponse,
    ClientSession,
    ClientTimeout,
)
from microsoft_agents.hosting.core import (
    ClaimsIdentity,
    RestChannelServiceClientFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from bot.teams.conversations import CONTINUATION

log = logging.getLogger(__name__)

TRANSIENT = frozenset({412, 429})  # and every 5xx


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one Bot Connector call."""

    tries: int = 4
    base: float = 1.0  # seconds before the first retry (without Retry-After), then 2x, 4x...
    max_wait: float = 30.0  # the longest single wait; a longer Retry-After is not waited out
    budget: float = 40.0  # no retry whose wait would end later than this after the first try
    timeout: float = 55.0  # the whole call, every attempt and wait included

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (1, 2, ...) without a Retry-After."""
        ceiling = min(self.max_wait, self.base * 2 ** (retry - 1))
        return random.uniform(ceiling / 2, ceiling)


PROACTIVE = RetryPolicy()  # deliveries (TeamsDeliverer allows two such calls)
IN_TURN = RetryPolicy(tries=3, base=0.5, max_wait=4.0, budget=6.0, timeout=12.0)


def transient(status: int) -> bool:
    """Whether a Bot Connector answer with `status` may succeed if tried again."""
    return status in TRANSIENT or 500 <= status <= 599


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), or None
    if there is none or it cannot be read."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retrying(policy: RetryPolicy) -> ClientMiddlewareType:
    """An aiohttp client middleware retrying transient answers under `policy`."""

    async def middleware(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        loop = asyncio.get_running_loop()
        started = loop.time()
        what = f"{request.method} {request.url.path}"
        attempt = 1
        while True:
            response = await handler(request)
            if not transient(response.status) or attempt >= policy.tries:
                return response
            header = response.headers.get("Retry-After")
            asked = retry_after(header)
            wait = asked if asked is not None else policy.backoff(attempt)
            if wait > policy.max_wait or loop.time() - started + wait > policy.budget:
                log.warning(
                    "the Bot Connector answered %d to %s; not retrying: waiting %.1f s "
                    "would take too long",
                    response.status,
                    what,
                    wait,
                )
                return response
            log.warning(
                "the Bot Connector answered %d to %s; retrying in %.2f s (try %d of %d)",
                response.status,
                what,
                wait,
                attempt + 1,
                policy.tries,
            )
            response.release()
            await asyncio.sleep(wait)
            attempt += 1

    return middleware


class RetryingClientFactory(RestChannelServiceClientFactory):
    """The SDK's client factory, with the retry middleware on each connector session:
    `in_turn` for turns answering an incoming activity, `proactive` for the bot's own
    (continued or created) conversations."""

    def __init__(
        self,
        connections: Any,
        proactive: RetryPolicy = PROACTIVE,
        in_turn: RetryPolicy = IN_TURN,
    ) -> None:
        super().__init__(connections)
        self.proactive = proactive
        self.in_turn = in_turn

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        client = await super().create_connector_client(
            context, claims_identity, service_url, audience, scopes, use_anonymous
        )
        if type(client) is not TeamsConnectorClient:
            return client
        policy = self.in_turn if _answers_an_activity(context) else self.proactive
        # The SDK made the session (base URL, headers, the bot's token); make it again with
        # the middleware. The SDK's own has opened no connection yet.
        original = client.client
        session = ClientSession(
            base_url=client.base_uri,
            headers=original.headers,
            middlewares=(retrying(policy),),
            timeout=ClientTimeout(total=policy.timeout),
        )
        await original.close()
        return TeamsConnectorClient(endpoint=client.base_uri, token="", session=session)


def _answers_an_activity(context: TurnContext | None) -> bool:
    """Whether the turn answers an activity that came in (not a proactive one)."""
    if context is None or context.activity is None:
        return False  # create_conversation
    activity = context.activity
    return not (activity.type == "event" and activity.name == CONTINUATION)
