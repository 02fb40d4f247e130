"""Organisations, users and their roles: identity rules, models and services."""
