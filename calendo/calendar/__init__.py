"""The calendar engine, pure and domain-free: RRULE parsing and formatting (``rrule``), the
bounded walks and the dateutil bridge (``walks``), expansion of a series into occurrences
(``recurrence``) and overlap detection (``conflicts``). It imports nothing of Calendo but
``core``'s errors, so every domain (events, history's prose) can use it."""
