from django.core.exceptions import RequestDataTooBig
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc, context):  # type: ignore[no-untyped-def]
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=413)
    return exception_handler(exc, context)
