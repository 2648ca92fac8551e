"""Writes of charity data, split by aggregate; import from here."""

from charity.services.projects import *  # noqa: F403
