"""Writes of opportunities."""

__all__: list[str] = []
