"""`dashscope-proxy logs`: reading, querying, replaying and rendering the traffic log.

`files` reads the JSONL files (rotated ones too) and follows the live one; `query` (filters,
rows, stats) and `replay` are pure; `render` is the only rich user; `commands` wires them to
the command line.
"""
