"""Long work as jobs (issue "national scale"): sweep, reminders, bulk export, re-sealing after a
seal-key rotation. ``definitions`` says what each job does; ``tasks`` puts them on the queue
(procrastinate on PostgreSQL) or runs them in-process (SQLite). See adapters/queue.py."""
