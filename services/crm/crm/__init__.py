"""CRM: one customer across dealers, reminders, leads, follow-ups and complaints (headquarters)."""
