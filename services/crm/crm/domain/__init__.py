"""crm's rules, plain Python: the reminder engine, follow-up surveys and complaints, leads,
campaigns as the sites receive them, consents and who may see which customer.

Nothing here reaches a database, a broker or a web framework; the service layer
(`crm.use_cases`) feeds these rules what the stores read.
"""
