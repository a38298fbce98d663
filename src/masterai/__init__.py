"""Master AI: an AI assistant that acts on a multi-tenant conversational-AI platform."""

__version__ = "0.1.0"
