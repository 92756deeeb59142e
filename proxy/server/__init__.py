"""The I/O shell: Starlette routes, the exchange, the upstream HTTP client, uvicorn serving."""
