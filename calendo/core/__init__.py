"""Domain-free building blocks: settings, database, errors, security, formats, brokers, limits."""
