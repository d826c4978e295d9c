"""iCalendar (RFC 5545): the conversion between events and VEVENTs, export, subscription feeds.

Above ``events`` (it reads calendars through the events use cases) and below ``api`` and
``accounts`` (the routes serve it; deleting an account revokes its feed tokens):
docs/architecture.md, "Layers".
"""
