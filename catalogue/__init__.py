"""The innovation catalogue: listings, the search port and its adapters, and the /api/v1 search API."""
