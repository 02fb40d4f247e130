"""Milestone payments through the Stripe API, reconciled by signed webhooks."""
