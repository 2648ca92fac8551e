"""Reads of teams."""

__all__: list[str] = []
