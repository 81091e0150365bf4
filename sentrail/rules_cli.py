"""`sentrail rules …`: onboarding a system of one's own (docs/reference.md#cli).

`suggest` proposes a rules file from the stored events, `check` validates one and previews it
on them; `sentrail correlate --rebuild` then applies it to every stored event (sentrail/rekey.py).
"""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from sentrail.rules_check import RulesFileError, check, load_checked, render_text
from sentrail.rules_suggest import SAMPLE, Sample, propose, render
from sentrail.stored import event_count, stored_pages
from store.engine import Database

rules_app = typer.Typer(help="Correlation rules: suggest them, check them.", no_args_is_help=True)


class CheckFormat(StrEnum):
    text = "text"
    json = "json"


@rules_app.command("check")
def rules_check(
    file: Path,
    format: Annotated[CheckFormat, typer.Option("--format", "-f")] = CheckFormat.text,
) -> None:
    """Validate a rules file, then preview it on every stored event: per key the events that
    would carry it, its distinct values, carriers, disagreements and services; the journeys it
    would make and the events left ambiguous. Writes nothing."""
    try:
        rules = load_checked(file)
    except RulesFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    database = Database()
    try:
        report = check(database, rules)
    finally:
        database.dispose()
    if format is CheckFormat.json:
        typer.echo(orjson.dumps({"file": str(file), **report}, option=orjson.OPT_INDENT_2))
    else:
        typer.echo(render_text(file, report), nl=False)


@rules_app.command("suggest")
def rules_suggest(
    events: Annotated[
        int, typer.Option(min=0, help="Read the newest EVENTS stored events; 0 reads them all.")
    ] = SAMPLE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
) -> None:
    """Propose correlation keys from the stored events (fields whose values look like
    identifiers, reported by several services, the same value within a trace) and print them
    as a rules file."""
    database = Database()
    try:
        stored = event_count(database)
        if not stored:
            typer.echo("error: no events are stored: send some first", err=True)
            raise typer.Exit(2)
        sample = Sample()
        for page in stored_pages(database, newest=events or None, timestamps=True):
            for event in page:
                sample.add(event)
    finally:
        database.dispose()
    proposals = propose(sample)
    if not proposals:
        typer.echo(
            f"error: in the newest {sample.events:,} events no field looks like a key (values "
            "like identifiers, on two services or more, the same within a trace)",
            err=True,
        )
        raise typer.Exit(1)
    text = render(proposals, sample, stored)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
