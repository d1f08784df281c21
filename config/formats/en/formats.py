"""English dates as the clinics read them: day first, 24-hour clock (Django's own
English is American: 12/06/2026 2:05 p.m.). The other languages keep Django's."""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j N Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
FIRST_DAY_OF_WEEK = 1
