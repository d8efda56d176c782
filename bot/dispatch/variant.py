"""A message variant: which version of a run's notice a batch of recipients gets.

A multicast sends one message to up to 500 people, so recipients who must read different
messages go in different batches. Today a variant is the recipients' language (one notice
per language). Its `key` is stored on the batch (send_batches.variant) in the same
transaction as the batch's retry key, before anything is sent: every retry of a batch sends
the same variant, whatever the resident changes meanwhile. Another dimension (e.g. whose
notice it is, for family profiles) extends Variant, its key and `variant_of`; the batching
and exactly-once machinery in bot.dispatch.outbox need not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.queries import DEFAULT_VARIANT

# The stored language is kept as it is; an unknown one is read as Japanese where the
# notice is built (messages.known).
DEFAULT_LANGUAGE = DEFAULT_VARIANT  # also what SQL batches a NULL language as


@dataclass(frozen=True)
class Variant:
    """The version of a notice one batch gets."""

    language: str = DEFAULT_LANGUAGE

    @property
    def key(self) -> str:
        """The stored form (≤ 40 characters): "ja", "en", "vi", "ja-easy"."""
        return self.language

    @classmethod
    def from_key(cls, key: str | None) -> Variant:
        """The variant a stored key names."""
        return cls(language=key or DEFAULT_LANGUAGE)


def variant_of(language: str | None) -> Variant:
    """The variant a recipient gets, from their row's columns (bot.store.queries.pending_batch).

    Recipients with the same variant must match the same `take_batch` filter: a new
    dimension adds its column to both."""
    return Variant(language=language or DEFAULT_LANGUAGE)


JAPANESE = Variant()  # every recipient before languages existed, and the default
