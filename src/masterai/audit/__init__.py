"""audit layer of Master AI (see ARCHITECTURE.md)."""
