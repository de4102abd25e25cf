"""Active learning selection (records its call)."""

from _record import record

record("active")
print("selected 10 samples")
