"""What the relationships service runs outside a request (the sweep, event consumers)."""
