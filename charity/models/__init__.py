"""Charity models, split by aggregate; import from here."""

from charity.models.projects import ProjectPage

__all__ = ["ProjectPage"]
