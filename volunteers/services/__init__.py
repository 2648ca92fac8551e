"""Writes of volunteering, split by aggregate; import from here."""

from volunteers.services.hours import *  # noqa: F403
from volunteers.services.opportunities import *  # noqa: F403
from volunteers.services.people import *  # noqa: F403
from volunteers.services.teams import *  # noqa: F403
