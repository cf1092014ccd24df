"""Command-line applications, above the layers they combine: `hfl-demo` (demo), `hfl-train` (train),
`hfl-eval` (evaluate)."""
