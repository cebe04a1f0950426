"""The relationships domain: plain Python, no framework imports."""
