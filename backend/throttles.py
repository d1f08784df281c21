"""Throttles for the sign-in doors: per client address and per account, so that a
guesser can neither hammer one account from many addresses nor many from one."""

import hashlib
import logging

from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class _OpenWhenCacheAway(SimpleRateThrottle):
    """Lets the request through when the cache (Redis) does not answer, rather than
    fail it with a 500 (H1). Only for the staff sign-in: there the lock-out keeps
    counting failures from the audit trail (``backend.lockout``), so a guesser gains
    nothing from the outage."""

    def allow_request(self, request, view):  # type: ignore[no-untyped-def]
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as error:
            logger.warning("sign-in throttle: cache unavailable (%s), the lock-out still holds", type(error).__name__)
            return True


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


class LoginAddressThrottle(_OpenWhenCacheAway, _AddressThrottle):
    scope = "login_address"


class LoginAccountThrottle(_OpenWhenCacheAway, _AccountThrottle):
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
