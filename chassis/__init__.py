"""The shared runtime every service stands on: database sessions, transactional outbox and
relay, idempotent inbox, retry and dead letter, metrics, health, config and logs."""

__version__ = "0.1.0"

import warnings

# nameko 2 stands on eventlet, which warns on import; the platform keeps both at the edge
# (rules are plain Python), so the warning is known and would only bury real ones.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
