"""Mini-competitions, from requirement to signed contract (RULES.md section 2, C1-C10), one module per stage:

- loading: access, locking, closing at the tender deadline, and the helpers every stage shares;
- sealing: the audit trail of sealed bids (C5);
- drafting: the buyer's draft, publishing, clarifications and cancelling;
- bidding: the supplier's own sealed bid;
- bid_attachments: the PDFs attached to a bid, sealed with it, and who may download them when;
- evaluating: evaluation, moderation and ranking;
- awarding: the award decision, outcome letters, what starts the standstill (the contract award notice under
  PA 2023), and confirming the award (funds and contract);
- notices: the notice after the contract (C9), its reminders, and the open-data publication of every notice;
- views: reading, for pages.

Callers import the module they need. Each command is one transaction: the state change, its audit event and
its emails (outbox) commit together, and the command function ends with `session.commit()`.
"""
