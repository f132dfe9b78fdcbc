"""BI: facts from every site's events, cross-dealer KPIs and the headquarters dashboard."""
