"""Scope functions used by both edges: `oca.scopes.<scope>` with `ensure_default()`."""
