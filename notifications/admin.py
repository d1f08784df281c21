"""Django admin for the clinics' sending identities (the model validates: E.164, the
Messaging Service SID's form, one default and one identity per country per clinic, a
number or a service for one clinic only). A clinic's own administrator edits its
identities through ``/api/v1/sending-identities/`` instead."""

from django.contrib import admin

from notifications.models import SendingIdentity


@admin.register(SendingIdentity)
class SendingIdentityAdmin(admin.ModelAdmin):
    list_display = ("clinic", "country_code", "is_default", "from_number", "messaging_service_sid", "active")
    list_filter = ("clinic", "active", "is_default")
    search_fields = ("from_number", "messaging_service_sid")
    fields = ("clinic", "country_code", "is_default", "from_number", "messaging_service_sid", "active")

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Switched off, never deleted: a number patients still text keeps routing.
        return False
