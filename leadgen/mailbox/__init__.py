"""Mailbox: read each route's IMAP mailbox, classify what comes back, and apply its effects (the outreach loop)."""
