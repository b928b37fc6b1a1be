"""Use-case services: they take the acting user and plain data, change the
session (never committing it) and raise :mod:`kb.errors` on refusal."""
