"""The matching service's ports."""
