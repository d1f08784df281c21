from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "Follow-up"

    def ready(self) -> None:
        from backend.health import register_health_check

        # Registers the protocol files check (manage.py check names a bad file).
        from followup import checks  # noqa: F401
        from followup.services.auditor import auditor_health

        # The alert auditor's figures on /healthz (the core cannot import followup).
        register_health_check(auditor_health)

        # Plans follow the clinic core: a discharge date or a time zone changed
        # through the API recomputes what has not happened yet (H14).
        from backend.signals import record_changed
        from followup.services.enrollment import plan_follow_core_change

        record_changed.connect(plan_follow_core_change, dispatch_uid="followup.plan_follow_core_change")

        # A web or app check-in ends the SMS conversation it replaces; what that
        # conversation collected is stored as a partial check-in (H16).
        from followup.signals import check_in_stored
        from followup.sms.conversations import conversation_replace_on_check_in

        check_in_stored.connect(conversation_replace_on_check_in, dispatch_uid="followup.sms.conversation_replace")
