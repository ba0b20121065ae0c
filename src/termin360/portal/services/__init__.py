"""Writes of the portal. Every booking change appends to the practice's change feed and
queues its e-mails in the same transaction; the worker sends after commit."""
