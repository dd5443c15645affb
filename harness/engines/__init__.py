"""Engines: the adapters that run a workload body (`base`), one module per family, and the
`registry` of names users type."""
