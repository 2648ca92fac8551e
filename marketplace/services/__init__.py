"""Writes of the shared domain, split like the models: the directory and assistance cases."""

from marketplace.services.cases import *  # noqa: F403
from marketplace.services.directory import *  # noqa: F403
