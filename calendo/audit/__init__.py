"""The audit trail: who did what, from where, written in the transaction of the operation."""
