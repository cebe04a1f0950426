"""The platform's adapters: one embedded and one distributed per port."""
