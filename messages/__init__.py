"""Pure message builders: resident-facing text and LINE message models, no I/O."""

from messages.texts import build_welcome

__all__ = ["build_welcome"]
