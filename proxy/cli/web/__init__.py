"""`dashscope-proxy logs web`: a read-only local page over the traffic log.

The pages are rendered on the server from the same reading and filtering code as the other
`logs` commands (`proxy/inspect/`); the browser gets HTML, one stylesheet and a few lines of
script for the live tail, under a Content-Security-Policy that allows nothing else.
"""
