"""App Home: gather what one person should see from the core, and publish it."""

from __future__ import annotations

from bot.lifecycle.overview import person_overview
from bot.slack import blocks
from bot.slack.services import Services
from data.models import Person


def home_data(svc: Services, person: Person, admin: bool) -> blocks.HomeData:
    """What App Home shows `person` (and, for an admin, the org's numbers)."""
    overview = person_overview(svc.flow, svc.accounts, person.id)
    admin_lines = svc.runtime.stats().lines() if admin else None
    return blocks.HomeData(**vars(overview), admin_lines=admin_lines)


def publish_home(svc: Services, person: Person) -> None:
    """Build and publish `person`'s App Home (they must have a Slack id)."""
    with svc.runtime.store.transaction():  # one consistent snapshot for the whole view
        current = svc.runtime.store.get_person(person.id)  # settings may just have changed
        if current is None or not current.slack_id:
            return
        person = current
        data = home_data(svc, person, svc.is_admin(person.slack_id))
    svc.client.views_publish(user_id=person.slack_id, view=blocks.home_view(data))
