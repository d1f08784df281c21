"""Selectors that scope querysets to what the caller may see.

Every list and detail view starts from one of these, so an object of another clinic
or another patient is simply not found (404): its existence is never revealed (H12)."""

from django.db.models import QuerySet

from backend.models import Clinic, Episode, Patient, User


def patient_list_for(*, user: User) -> QuerySet[Patient]:
    if user.is_patient:
        return Patient.objects.filter(user=user)
    if user.is_clinic_staff:
        return Patient.objects.filter(clinic_id=user.clinic_id)
    return Patient.objects.none()


def episode_list_for(*, user: User) -> QuerySet[Episode]:
    return Episode.objects.filter(patient__in=patient_list_for(user=user))


def clinic_list_for(*, user: User) -> QuerySet[Clinic]:
    if user.is_clinic_staff:
        return Clinic.objects.filter(pk=user.clinic_id)
    if user.is_patient:
        return Clinic.objects.filter(patients__user=user)
    return Clinic.objects.none()
