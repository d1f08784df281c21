"""Throttles for the sign-in doors: per client address and per account, so that a
guesser can neither hammer one account from many addresses nor many from one."""

import hashlib

from rest_framework.throttling import SimpleRateThrottle


class _AddressThrottle(SimpleRateThrottle):
    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _AccountThrottle(SimpleRateThrottle):
    field = ""

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        data = request.data if isinstance(request.data, dict) else {}
        value = data.get(self.field)
        if not isinstance(value, str) or not value:
            return None
        # A digest, not the typed value: any text is a valid guess, and a cache key must
        # be short plain characters (and the username or phone is not kept in Redis).
        account = hashlib.sha256(value.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": account}


class LoginAddressThrottle(_AddressThrottle):
    scope = "login_address"


class LoginAccountThrottle(_AccountThrottle):
    scope = "login_account"
    field = "username"


class PatientCodeAddressThrottle(_AddressThrottle):
    scope = "patient_code_address"


class PatientCodeAccountThrottle(_AccountThrottle):
    scope = "patient_code_account"
    field = "phone"


class EnrollmentCodeSendThrottle(SimpleRateThrottle):
    """A nurse's button must not become a way to flood a patient's phone."""

    scope = "enrollment_code_send"

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        return self.cache_format % {"scope": self.scope, "ident": view.kwargs.get("pk", "")}
