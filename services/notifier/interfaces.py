"""The notifier's ports."""
