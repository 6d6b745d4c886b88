"""`oca serve`: the upstream-compatible HTTP API, a thin edge over the same core as the CLI.

Import `oca.api.app.create_app`; importing this package alone loads nothing heavy.
"""
