from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from backend.models import AuditRecord, CareTeam, Clinic, Episode, OnCallShift, Patient, User


@admin.register(User)
class VigilUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Vigil", {"fields": ("role", "clinic", "phone", "language")}))
    list_display = ("username", "role", "clinic", "is_active")
    list_filter = ("role", "clinic", "is_active")


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ("name", "phone", "timezone", "default_language")


class OnCallShiftInline(admin.TabularInline):
    model = OnCallShift
    extra = 0


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    list_display = ("name", "clinic")
    filter_horizontal = ("members",)
    inlines = [OnCallShiftInline]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("mrn", "family_name", "given_name", "clinic", "language", "timezone")
    list_filter = ("clinic", "language")
    search_fields = ("mrn", "family_name")


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    list_display = ("patient", "procedure", "surgery_date", "discharge_date")


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ("at", "actor_username", "action", "object_type", "object_id", "patient_id")
    list_filter = ("action", "object_type")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
