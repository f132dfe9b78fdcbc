"""Partners: franchise shops get the events they are entitled to, by Standard Webhooks and
from a pull feed (headquarters)."""
