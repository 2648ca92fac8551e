"""Reads of charity data, split by aggregate; import from here."""

from charity.selectors.projects import *  # noqa: F403
