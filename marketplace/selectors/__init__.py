"""Reads of the shared domain, split like the models: the directory and assistance cases.
Every selector applies the acting user's scope and loads related rows up front."""

from marketplace.selectors.cases import *  # noqa: F403
from marketplace.selectors.directory import *  # noqa: F403
