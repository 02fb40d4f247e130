"""Contracts: made when a competition's award is confirmed, with the milestones they are paid by.

Competitions create a contract through `dps.contracts.services.create_contract`; payments, transparency and the
portals read contracts (and move milestones) through this package. It never imports competitions or payments.
"""
