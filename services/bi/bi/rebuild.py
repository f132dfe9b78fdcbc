"""`python -m bi.rebuild [--config FILE]`: rebuild BI's facts and rollups from its event log.

Stop BI's consumers first (see `bi.use_cases.rebuild`). Shows a progress bar on stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.orm import Session

from bi.projection import rebuild
from bi.settings import BiSettings
from bi.use_cases import Progress
from chassis.config import ConfigError, load_settings
from chassis.db import create_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bi.rebuild", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (else AFTERSALES_CONFIG / env only)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings("bi", args.config)
        options = BiSettings.from_settings(settings)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session:
            replayed = rebuild(session, progress=progress_bar(sys.stderr),
                               comeback_days=options.comeback_days)
    finally:
        engine.dispose()
    print(f"replayed {replayed} events", file=sys.stderr)
    return 0


def progress_bar(stream: Any) -> Progress:
    """A terminal progress bar: `[#####.....]  52 % 5200/10000 events`."""
    def show(done: int, total: int) -> None:
        width = 40
        filled = width * done // total if total else width
        percent = 100 * done // total if total else 100
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {percent:3d} % "
                     f"{done}/{total} events")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


if __name__ == "__main__":
    sys.exit(main())
