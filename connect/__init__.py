"""The platform package shared by the three Connect services.

It holds what every service needs and nothing service-specific: settings, the
composition root, identity, problem+json errors, database plumbing, the
transactional outbox, the event transport, email, scheduling and clocks.
"""
