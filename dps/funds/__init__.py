"""Funds and budgets (RULES.md section 5): allocations per fund, financial year, ICB and capital | revenue,
commitments against them, payments, refunds and releases, all on an append-only ledger."""
