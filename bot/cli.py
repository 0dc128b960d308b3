"""`engagement-bot`: run the bot and look after its register from the command line."""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TypeVar

from dotenv import find_dotenv, load_dotenv
from sqlalchemy import select

from bot import app_package, logs
from bot.app import build_services, create_app, letter_settings, system_clock
from bot.config import ConfigError, Settings, check_workers, load_settings
from bot.loop import use_fastest
from dialogs import register_reports, retention, subject_access
from dialogs.turn import Clock, Services
from storage import audit, roles_file
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import ServiceArea

log = logging.getLogger("engagement-bot")
T = TypeVar("T")


def _number(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, `what` naming it in the error."""

    def parse(raw: str) -> int:
        try:
            number = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not {what}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is not between {low} and {high}")
        return number

    return parse


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-bot",
        description="A Teams bot that runs the council's Managing Customer Engagement policy.",
        epilog="Settings come from the environment and an optional .env file: see README.md.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate the database and run the bot")
    serve.description = "Migrate the database, then serve /api/messages and /healthz."
    serve.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    serve.add_argument(
        "--port", type=_number(1, 65535, "a port number"), help="port to listen on (default: PORT or 3978)"
    )
    serve.add_argument(
        "--workers",
        type=_number(1, 64, "a whole number"),
        help="processes serving the bot; more than one runs under gunicorn and needs PostgreSQL "
        "(default: WORKERS or 1)",
    )

    db = commands.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="TASK")
    db_commands.add_parser(
        "upgrade",
        help="apply the migrations to DATABASE_URL",
        description="Apply every Alembic migration not yet applied to the database named by DATABASE_URL.",
    )

    roles = commands.add_parser("roles", help="who holds which role")
    roles_commands = roles.add_subparsers(dest="roles_command", required=True, metavar="TASK")
    roles_import = roles_commands.add_parser(
        "import",
        help="make the register's roles those of a TOML file",
        description="Import service areas, managers and council-wide roles from a TOML file. "
        "People are matched by email, UPN or AAD object id; a name removed from the file loses its "
        "role. A malformed file changes nothing.",
    )
    roles_import.add_argument("file", type=Path, metavar="FILE")
    roles_import.add_argument(
        "--if-empty",
        action="store_true",
        help="only when the register has no service areas yet (a first run), never replacing roles",
    )

    audit_cmd = commands.add_parser("audit", help="the tamper-evident audit trail")
    audit_commands = audit_cmd.add_subparsers(dest="audit_command", required=True, metavar="TASK")
    audit_commands.add_parser(
        "verify",
        help="check the audit trail's hash chain",
        description="Recompute every audit event's hash in order and name the first broken link. "
        "Exits 1 if the trail was altered, 0 if it is intact.",
    )

    keep = commands.add_parser(
        "retention",
        help="anonymise customers whose retention period has passed",
        description="Anonymise every customer whose retention period has passed (names, contact "
        "details and free text go; the counts the annual report needs stay). Nothing is removed "
        "while a restriction is active or an appeal is open.",
    )
    keep.add_argument("--dry-run", action="store_true", help="list what would go, change nothing")
    keep.add_argument(
        "--as-of",
        type=date.fromisoformat,
        metavar="DATE",
        help="with --dry-run: what would go on this date (YYYY-MM-DD), for planning",
    )

    exporting = commands.add_parser("export", help="subject access exports")
    export_commands = exporting.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    customer = export_commands.add_parser(
        "customer",
        help="everything held on one customer, as JSON and a Word document",
        description="Write everything the register holds on a customer (every table's rows, and "
        "the audit events about them) as JSON and as a readable Word document. The export is "
        "itself recorded in the audit trail.",
    )
    customer.add_argument("customer_id", type=int, metavar="ID")
    customer.add_argument("--out", type=Path, required=True, metavar="DIR")
    customer.add_argument("--by", metavar="EMAIL", help="the register keeper making the export")

    reports = commands.add_parser("report", help="reports to committee")
    report_commands = reports.add_subparsers(dest="report_command", required=True, metavar="WHICH")
    yearly = report_commands.add_parser(
        "annual",
        help="the annual report: HTML, PDF and CSV tables",
        description="Write the year's report to committee (incidents, restrictions, reviews, "
        "letters, appeals, time to decision) as HTML and PDF with charts, and each table as CSV. "
        "Counts from 1 to 4 are shown as <5.",
    )
    yearly.add_argument("--year", type=int, required=True)
    yearly.add_argument("--out", type=Path, required=True, metavar="DIR")

    package = commands.add_parser("manifest", help="the Teams app package")
    package_commands = package.add_subparsers(dest="manifest_command", required=True, metavar="TASK")
    build = package_commands.add_parser(
        "build",
        help="write the app package to upload to Teams",
        description="Write the Teams app package (manifest.json and icons, zipped) with this bot's "
        "app id and host, ready to upload in the Teams admin centre.",
    )
    build.add_argument("--out", type=Path, default=Path("app.zip"), metavar="ZIP")
    build.add_argument("--app-id", help="the bot's Microsoft app id (default: MICROSOFT_APP_ID)")
    build.add_argument("--public-url", help="where users reach the bot (default: PUBLIC_URL)")
    return parser


async def migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _import_roles(
    settings: Settings, spec: roles_file.RolesSpec, *, if_empty: bool = False
) -> roles_file.ImportResult | None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            if if_empty and await session.scalar(select(ServiceArea.id).limit(1)) is not None:
                return None
            result = await roles_file.apply(session, spec, now=system_clock())
            await session.commit()
        return result
    finally:
        await engine.dispose()


async def _verify_audit(settings: Settings) -> tuple[int, audit.Break | None]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await audit.verify(session)
    finally:
        await engine.dispose()


async def _with_services(
    settings: Settings, work: Callable[[Services], Awaitable[T]], clock: Clock = system_clock
) -> T:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        return await work(build_services(settings, session_factory(engine), clock, lambda: None))
    finally:
        await engine.dispose()


def check_letters(settings: Settings) -> None:
    """The council's letter templates, each with the fields its letter needs; a letterhead warned
    about once when a customer could not reply to it."""
    from letters.content import template_problems

    letters = letter_settings(settings)
    if problems := template_problems(letters.template_dir):
        raise ConfigError(f"letter templates in {letters.template_dir}: " + "; ".join(problems))
    if missing := letters.letterhead_missing:
        log.warning(
            "letters have no full letterhead: customers cannot see how to reply",
            extra={"unset": ", ".join(missing)},
        )


def _serve(settings: Settings, host: str | None, port: int | None, workers: int | None) -> int:
    from aiohttp import web

    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    try:
        check_workers(settings.database_url, workers)
    except ConfigError as error:
        print(f"engagement-bot: configuration error: {error}", file=sys.stderr)
        return 2
    if settings.local_only and host not in LOOPBACK:
        # Without an app id nobody's token is checked: such a bot must not be reachable.
        print(
            f"engagement-bot: configuration error: without MICROSOFT_APP_ID the bot listens on "
            f"this machine only, not on {host}",
            file=sys.stderr,
        )
        return 2
    try:
        check_letters(settings)
    except ConfigError as error:
        print(f"engagement-bot: configuration error: {error}", file=sys.stderr)
        return 2
    if workers > 1:
        # A standard process manager, not one of ours: gunicorn migrates once, then forks.
        command = [
            sys.executable, "-m", "gunicorn",
            "--config", "python:bot.gunicorn_conf",
            "--workers", str(workers),
            "--bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "bot.gunicorn_conf:app",
        ]  # fmt: skip
        os.execv(sys.executable, command)
    loop = use_fastest()
    asyncio.run(migrate(settings))
    if settings.local_only:
        log.warning("no MICROSOFT_APP_ID: requests are not authenticated; fit for local use only")
    log.info("listening", extra={"url": f"http://{host}:{port}/api/messages", "loop": loop})
    web.run_app(create_app(settings), host=host, port=port, print=None, access_log=None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True), override=False)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"engagement-bot: configuration error: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)

    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.workers)
    elif args.command == "db":
        asyncio.run(migrate(settings))
        print("database is up to date")
    elif args.command == "roles":
        try:
            spec = roles_file.parse(args.file.read_text(encoding="utf-8"))
        except OSError as error:
            print(f"engagement-bot: cannot read {args.file}: {error.strerror}", file=sys.stderr)
            return 2
        except UnicodeDecodeError:
            print(f"{args.file}: not UTF-8 text (nothing was changed)", file=sys.stderr)
            return 2
        except roles_file.RolesFileError as error:
            print(f"{args.file}: {error} (nothing was changed)", file=sys.stderr)
            return 2
        result = asyncio.run(_import_roles(settings, spec, if_empty=args.if_empty))
        if result is None:
            print("roles not imported: the register already has its roles")
        elif result.changed:
            print(
                f"roles imported: {result.granted} granted, {result.revoked} removed, "
                f"{result.areas_added} service areas added, {result.areas_renamed} renamed"
            )
        else:
            print("roles imported: no changes")
    elif args.command == "audit":
        checked, broken = asyncio.run(_verify_audit(settings))
        if broken is not None:
            where = f"event {broken.seq}" + (f" (row {broken.event_id})" if broken.event_id else "")
            print(f"audit trail broken at {where}: {broken.reason}; {checked} events before it are intact")
            return 1
        print(f"audit trail intact: {checked} events")
    elif args.command == "retention":
        if args.as_of and not args.dry_run:
            print("engagement-bot: --as-of plans only: use it with --dry-run", file=sys.stderr)
            return 2
        if args.dry_run:
            as_of = args.as_of
            clock = (lambda: datetime.combine(as_of, time(12), UTC)) if as_of else system_clock
            found = asyncio.run(_with_services(settings, retention.plan, clock))
            for item in found.due:
                print(
                    f"customer {item.customer_id}: {item.incidents} incident(s), due since {item.due_since}"
                )
            for skipped in found.skipped:
                print(f"customer {skipped.customer_id} kept: incident {skipped.incident_id}: {skipped.why}")
            print(f"{len(found.due)} customer(s) would be anonymised (dry run: nothing changed)")
        else:
            done = asyncio.run(_with_services(settings, retention.run))
            print(f"{done} customer(s) anonymised")
    elif args.command == "report":
        written = asyncio.run(
            _with_services(
                settings, lambda services: register_reports.write_annual(services, args.year, args.out)
            )
        )
        for path in written:
            print(f"written {path}")
    elif args.command == "export":
        written = asyncio.run(
            _with_services(
                settings,
                lambda services: subject_access.export_customer(
                    services, args.customer_id, args.out, by_email=args.by
                ),
            )
        )
        if written is None:
            print(f"engagement-bot: there is no customer {args.customer_id}", file=sys.stderr)
            return 2
        for path in written:
            print(f"written {path}")
    elif args.command == "manifest":
        app_id = args.app_id or settings.app_id
        if not app_id:
            print("engagement-bot: give --app-id or set MICROSOFT_APP_ID", file=sys.stderr)
            return 2
        try:
            out = app_package.build(app_id, args.public_url or settings.base_url, args.out)
        except app_package.PackageError as error:
            print(f"engagement-bot: {error}", file=sys.stderr)
            return 2
        print(f"Teams app package written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
