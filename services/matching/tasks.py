"""What the matching service runs outside a request (event consumers)."""
