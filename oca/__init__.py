"""oca: one API over containerized AI, database and media backends."""

__version__ = "0.1.0"
