"""Built-in MapReduce apps, by the name used on the command line."""

BUILTIN = {
    "wc": "mrkit.apps.wc",
    "indexer": "mrkit.apps.indexer",
    "grep": "mrkit.apps.grep",
    "crash": "mrkit.apps.crash",
    "nocrash": "mrkit.apps.nocrash",
}
