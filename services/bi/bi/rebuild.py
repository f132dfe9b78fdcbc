"""`python -m bi.rebuild [--config FILE]`: rebuild BI's facts and rollups from its event log.

Stop BI's consumers first (see `bi.projection.rebuild`). Shows a progress bar on stderr.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session

from bi.projection import progress_bar, rebuild
from chassis.config import ConfigError, load_settings
from chassis.db import create_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bi.rebuild", description=__doc__)
    parser.add_argument("--config", help="YAML settings file (else AFTERSALES_CONFIG / env only)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings("bi", args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session:
            replayed = rebuild(session, progress=progress_bar(sys.stderr),
                               comeback_days=int(settings.extra.get("comeback_days", 30)))
    finally:
        engine.dispose()
    print(f"replayed {replayed} events", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
