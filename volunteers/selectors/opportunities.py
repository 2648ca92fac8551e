"""Reads of opportunities."""

__all__: list[str] = []
