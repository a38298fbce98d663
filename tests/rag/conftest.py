"""The RAG tests share ``rag_support``."""
