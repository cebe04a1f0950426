"""What the notifier runs: its event consumer."""
