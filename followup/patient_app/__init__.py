"""The patient app: server-rendered pages under ``/app/`` (issue 18).

Sign-in with the SMS code into a session, home, check-in, history, plan and messages,
each in the patient's language and time zone, each showing the signed-in patient's
own data only. The manifest, service worker, offline queue and web push live beside
them (``pwa`` and the static files of ``followup/static/followup/patient_app/``)."""
