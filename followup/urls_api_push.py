"""URL route of the patient app's Web Push subscriptions (see config/urls.py)."""

from django.urls import path

from followup.api import push

urlpatterns = [
    path("push-subscriptions/", push.PushSubscriptionApi.as_view(), name="push-subscriptions"),
]
