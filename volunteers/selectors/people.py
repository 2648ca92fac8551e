"""Reads of people."""

__all__: list[str] = []
