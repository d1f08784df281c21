"""Signals the clinic core sends, explicitly, from its API write paths.

backend imports no app (the arrows point one way), so an app that must follow a
change in the core connects a receiver here: the follow-up plan is recomputed when an
episode's discharge date or a patient's time zone changes (H14). They are sent by the
API inside the write's transaction, never from model saves, so factories, fixtures
and migrations do not trigger them and no test has to disconnect them."""

from django.dispatch import Signal

# Sent after a patient or an episode was changed through the API, inside the same
# transaction as the change and its audit row. Keyword arguments: ``instance`` (the
# saved object), ``changed`` (frozenset of the names of the fields whose value
# changed), ``by`` (the acting user) and ``request`` (the Django request).
record_changed = Signal()
