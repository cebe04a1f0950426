"""The relationships service's ports."""
