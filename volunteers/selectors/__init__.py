"""Reads of volunteering, permission-scoped, split by aggregate; import from here."""

from volunteers.selectors.opportunities import *  # noqa: F403
from volunteers.selectors.people import *  # noqa: F403
from volunteers.selectors.teams import *  # noqa: F403
