"""The protocol-neutral core (sans-I/O): SSE codec, native frames -> events, errors, usage."""
