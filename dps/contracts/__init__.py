"""Contracts: made when a competition's award is confirmed, with the milestones they are paid by.

Competitions create a contract through `dps.contracts.services.add_contract` and `add_milestones`; payments,
transparency and the portals read contracts (and move milestones) through this package. It never imports competitions
or payments.
"""
