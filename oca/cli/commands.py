"""Which command groups exist: (group name or "" for top-level commands, module, help).

Each module defines `app = typer.Typer()` and imports only typer at module level, so that
`oca --help` stays fast; heavy imports happen inside the commands that need them.
"""

GROUPS: list[tuple[str, str, str]] = [
    ("service", "service", "Register, run and inspect backend services."),
    ("driver", "driver", "List, inspect and add drivers."),
    ("ai", "ai", "Classify images with an AI service."),
    ("db", "db", "Tables and records on a database service."),
    ("media", "media", "Probe and transcode media with an ffmpeg service."),
    ("job", "job", "Queued calls: list, show, wait for, cancel."),
    ("image", "image", "Base images for building backends offline."),
    ("", "toplevel", ""),
    ("", "serve", ""),
]
