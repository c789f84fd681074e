"""The master/worker runtime: the task table, the worker loop, and the RPC between them."""
