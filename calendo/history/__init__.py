"""History: append-only versions, changelog with human summaries, diffs, rollback, merges."""
