"""Adapters: everything that does I/O — the database (``db``: tables, migrations, one repository per
aggregate, the unit of work), the certificate document (``documents``), the seal (``signing``,
``sealing``), keys (``keystore``), QR tokens, import files, mail, the job queue, the rate limiter
and the clock. Adapters import the domain, never services or entrypoints."""
