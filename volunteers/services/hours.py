"""Writes of hours."""

__all__: list[str] = []
