"""AI tool framework (seed 003): standard library only."""
