"""The I/O shell: Starlette routes, the exchange, httpx upstream, uvicorn serving."""
