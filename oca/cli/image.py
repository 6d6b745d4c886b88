"""`oca image ...`: the offline base image and recipe images."""

from __future__ import annotations

import typer

from oca.cli import render
from oca.cli.common import group

app = group("Base images for building backends offline.")


@app.command("base")
def base(
    tag: str = typer.Option("oca/debian:bookworm", "--tag", help="Tag of the imported image."),
    suite: str = typer.Option("bookworm", "--suite", help="Debian suite to bootstrap."),
    mirror: str = typer.Option("http://deb.debian.org/debian", "--mirror", help="Debian mirror."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the tag exists."),
) -> None:
    """Build the Debian base image with debootstrap + docker import (no registry needed).

    Example: oca image base --tag oca/debian:bookworm
    """
    from oca import images
    from oca.runtime.docker import require_engine

    require_engine()
    if not force and images.image_exists(tag):
        render.result({"tag": tag, "built": False}, text=f"{tag} exists (use --force to rebuild)")
        return
    with render.progress(f"building {tag}", total=100) as advance:
        out = images.build_base(tag, suite=suite, mirror=mirror, progress=advance)
    render.result({**out, "built": True},
                  text=f"built {tag} in {out['total_s']:g} s "
                       f"(debootstrap {out['debootstrap_s']:g} s, import {out['import_s']:g} s)")


@app.command("build")
def build(
    recipe: str = typer.Argument(..., help="A recipe under compose/."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the inputs are unchanged."),
) -> None:
    """Build a recipe's image (only when its inputs changed).  Example: oca image build redis"""
    from oca import images
    from oca.recipes import get_recipe
    from oca.runtime.docker import require_engine

    require_engine()
    r = get_recipe(recipe)
    with render.progress(f"building {r.name}", total=1) as advance:
        tag = images.build_recipe(r, progress=advance, force=force)
    render.result({"recipe": r.name, "image": tag}, text=tag)


@app.command("ls")
def ls() -> None:
    """List recipe, driver and base images present locally.  Example: oca image ls"""
    from oca import images
    from oca.runtime.docker import require_engine

    require_engine()
    rows = images.list_images()
    if render.STATE.json:
        render.emit_json(rows)
    else:
        render.table(rows, ["image", "kind", "id", "size", "created"])
