"""Use cases. Each takes a unit of work and plain values; transactions are explicit."""
