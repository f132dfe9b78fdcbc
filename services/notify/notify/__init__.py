"""Notify: messages to owners over SMS, e-mail, WeChat and app push (headquarters)."""
