"""Account lifecycle use cases that cross domains: deleting an account (its events, shares,
feed rows and notifications go through the events use cases every other delete uses)."""
