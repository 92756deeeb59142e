"""The command line: `dashscope-proxy serve | demo | logs`."""
