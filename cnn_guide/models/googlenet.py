"""Placeholder: filled in by the architecture library."""

__all__: list[str] = []
