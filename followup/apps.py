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
