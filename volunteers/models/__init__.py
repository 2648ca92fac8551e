"""Volunteers, social workers and their teams, split by aggregate."""

from volunteers.models.hours import *  # noqa: F403
from volunteers.models.opportunities import *  # noqa: F403
from volunteers.models.people import *  # noqa: F403
from volunteers.models.teams import *  # noqa: F403
