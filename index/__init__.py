"""Search: passages, embeddings, keyword and vector indexes, hybrid ranking."""
