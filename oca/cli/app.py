"""The `oca` command: global options, sub-command groups, and the one place errors are rendered."""

from __future__ import annotations

import os
import sys

import typer

from oca import __version__
from oca.cli import render

HELP = """oca: one API over containerized AI, database and media backends.

Examples:

  oca ai classify cat.jpg

  oca service add cache --recipe redis

  oca --json service ls | jq .
"""

app = typer.Typer(
    name="oca",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _globals(
    json_: bool = typer.Option(False, "--json", help="Print JSON (JSON Lines for streams)."),
    home: str = typer.Option(None, "--home", help="State folder for this call."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More detail."),
) -> None:
    """Global options; also accepted after the command (see main())."""
    if json_:
        render.STATE.json = True
    if verbose:
        render.STATE.verbose = max(render.STATE.verbose, verbose)
    if home:
        os.environ["OCA_HOME"] = home


@app.command()
def version() -> None:
    """Print oca's version.  Example: oca version"""
    render.result({"version": __version__}, text=f"oca {__version__}")


def _register() -> None:
    from oca.cli import commands

    for name, module, help_ in commands.GROUPS:
        sub = __import__(f"oca.cli.{module}", fromlist=["app"])
        if name:
            app.add_typer(sub.app, name=name, help=help_)
        else:
            for cmd in sub.app.registered_commands:
                app.registered_commands.append(cmd)


_register()


def _lift_globals(argv: list[str]) -> list[str]:
    """Accept --json, -v and --home anywhere before `--` (global, also after the command)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out += argv[i:]
            break
        if a == "--json":
            render.STATE.json = True
        elif a in ("-v", "-vv", "-vvv", "--verbose"):
            render.STATE.verbose += a.count("v") if a != "--verbose" else 1
        elif a == "--home" and i + 1 < len(argv):
            os.environ["OCA_HOME"] = argv[i + 1]
            i += 1
        elif a.startswith("--home="):
            os.environ["OCA_HOME"] = a.split("=", 1)[1]
        else:
            out.append(a)
        i += 1
    return out


def main(argv: list[str] | None = None) -> None:
    from typer._click.exceptions import ClickException  # typer vendors click

    from oca import config
    from oca.errors import OcaError

    # pydantic scans every installed package's entry points for plugins on first model
    # build (tens of ms with a large venv); the CLI uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    args = _lift_globals(list(sys.argv[1:] if argv is None else argv))
    command = typer.main.get_command(app)
    try:
        rc = command.main(args=args, prog_name="oca", standalone_mode=False)
    except typer.Exit as e:
        rc = e.exit_code
    except typer.Abort:
        sys.stderr.write("aborted\n")
        rc = 130
    except ClickException as e:
        if render.STATE.json:
            render.emit_json({"error": {"type": "usage", "message": e.format_message(),
                                        "hint": "see oca --help"}})
        else:
            e.show()
        rc = e.exit_code
    except OcaError as e:
        if config.debug():
            raise
        render.error(e)
        rc = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        rc = 130
    except BrokenPipeError:
        rc = 0
    except Exception as e:  # noqa: BLE001 - the edge: no traceback reaches a user
        if config.debug():
            raise
        render.error(OcaError(f"internal error: {type(e).__name__}: {e}",
                              hint="rerun with OCA_DEBUG=1 for a traceback, and report it"))
        rc = 1
    sys.exit(rc if isinstance(rc, int) else 0)
