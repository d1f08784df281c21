"""Signals the check-in path sends, for the layers above it.

The check-in path (``followup.services.checkins``) sits below the SMS conversation
(which submits through it), so it cannot call the conversation; it says what happened
instead, inside its transaction."""

from django.dispatch import Signal

# A check-in was stored: ``check_in`` (the model instance). Sent inside the transaction.
check_in_stored = Signal()
