"""The `make bench` harness: word count as whole processes, mrkit against plain Python and peers.

Modules, one job each: `corpus` (build and cache the inputs), `measure` (run one
process tree, timing it and sampling its memory), `impls` (the registry of
implementations: command builders and output parsers), `report` (CSV, summary,
chart, Markdown, targets) and `cli` (the suites and the command line).
"""
