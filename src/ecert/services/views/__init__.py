"""Read models: the queries that answer pages, listings and exports — the authority console's queues,
registry search and audit pages (``authority``), the holder portal (``holder_portal``), a holder's
history (``history``) and bulk exports (``export``).

The one place under ``services/`` that reads the database with SQL of its own (``uow.connection``).
They only read: every change goes through a use case (``services/*.py``) and a repository
(``adapters/db/``), which also write the audit events.
"""
