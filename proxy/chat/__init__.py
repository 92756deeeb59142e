"""Chat Completions (sans-I/O): request translation, field table, chunk encoder, fold."""
