"""`flows-bot run`: the bot — scheduler, delivery and chat (the console when no tokens are set)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the bot (Slack/Discord when tokens are set, else an interactive console)",
        description="Run the bot: the monitors on a daily schedule, the outbox dispatcher and "
        "every chat platform whose tokens are set; the interactive console when none are.",
    )
    parser.add_argument(
        "--once", action="store_true", help="run every monitor once now, deliver, and exit"
    )
    parser.add_argument(
        "--source", metavar="live|sample|PATH", help="market data (default: DATA_SOURCE)"
    )
    parser.add_argument("--funds", metavar="FILE", help="fund registry TOML (default: FUNDS_FILE)")
    parser.add_argument("--database", metavar="URL", help="database URL (default: DATABASE_URL)")
    parser.add_argument("--no-input", action="store_true", help="do not read commands from stdin")
    parser.add_argument(
        "--worker-id",
        metavar="NAME",
        help="this process's name in logs and outbox leases (default: WORKER_ID, else host-pid)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from bot.app import run_bot
    from bot.settings import get_settings

    settings = get_settings()
    overrides = {
        key: value
        for key, value in (
            ("data_source", args.source),
            ("funds_file", args.funds),
            ("database_url", args.database),
            ("worker_id", args.worker_id),
        )
        if value
    }
    if overrides:
        settings = settings.model_copy(update=overrides)
    if not settings.worker_id:
        from bot.app import default_worker_id

        settings = settings.model_copy(update={"worker_id": default_worker_id()})
    logging.basicConfig(
        level=settings.log_level.upper(),
        # The worker id tells apart the lines of processes sharing one database.
        format=f"%(asctime)s %(levelname)s [{settings.worker_id}] %(name)s: %(message)s",
    )
    # Migrations and scheduler bookkeeping are noise at the console; warnings still show.
    # yfinance warns on every retry offline; our own one-line errors say what failed.
    for chatty, level in (("alembic", logging.WARNING), ("apscheduler", logging.WARNING)):
        logging.getLogger(chatty).setLevel(max(level, logging.root.level))
    logging.getLogger("yfinance").setLevel(max(logging.ERROR, logging.root.level))
    return asyncio.run(run_bot(settings, once=args.once, interactive=not args.no_input))
