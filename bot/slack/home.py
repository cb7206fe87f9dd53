"""App Home: gather what one person should see from the core, and publish it."""

from __future__ import annotations

from bot.lifecycle.overview import open_questions, org_defaults, waiting_requests
from bot.slack import blocks
from bot.slack.services import Services
from data.models import Person


def home_data(svc: Services, person: Person, admin: bool) -> blocks.HomeData:
    """What App Home shows `person` (and, for an admin, the org's numbers)."""
    flow, limits = svc.flow, svc.flow.limits
    profile = svc.accounts.profile(person.id)
    prefs = profile.preferences
    questions = open_questions(flow, person.id)
    requests = waiting_requests(flow, person.id)
    defaults = org_defaults(limits)
    return blocks.HomeData(
        name=person.name,
        opted_out=person.opted_out,
        skills=profile.skills,
        topics=profile.topics,
        answers_given=profile.answers_given,
        asks_last_day=profile.asks_last_day,
        max_asks_per_day=prefs.max_asks_per_day,
        quiet_start=prefs.quiet_start,
        quiet_end=prefs.quiet_end,
        defaults=defaults,
        questions=questions,
        requests=requests,
        admin_lines=svc.runtime.stats().lines() if admin else None,
    )


def publish_home(svc: Services, person: Person) -> None:
    """Build and publish `person`'s App Home (they must have a Slack id)."""
    with svc.runtime.store.transaction():  # one consistent snapshot for the whole view
        current = svc.runtime.store.get_person(person.id)  # settings may just have changed
        if current is None or not current.slack_id:
            return
        person = current
        data = home_data(svc, person, svc.is_admin(person.slack_id))
    svc.client.views_publish(user_id=person.slack_id, view=blocks.home_view(data))
