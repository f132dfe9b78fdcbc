"""The shared runtime every service stands on: database sessions, transactional outbox and
relay, idempotent inbox, retry and dead letter, metrics, health, config and logs."""

__version__ = "0.1.0"
