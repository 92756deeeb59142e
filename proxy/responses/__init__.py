"""The Responses API (sans-I/O): request translation, field table, event encoder, fold."""
