"""SMS as follow-up logic: check-in conversations, the reply reader and its
vocabularies, routing of patients' and staff's inbound messages, recalls by SMS, and
what staff see when a patient cannot be reached. Delivery itself (outbox, backends,
webhooks, status callbacks) is ``notifications``, which imports nothing from here: it
calls back through the hooks named in settings (``VIGIL_SMS_INBOUND_ROUTER``,
``VIGIL_SMS_UNDELIVERABLE_HANDLER``)."""
