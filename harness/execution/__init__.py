"""Running work: one engine session per process (`session`, `child`), the `runner` that starts
and supervises them, the memory `sampler`, and the process trees (`proctree`) they leave."""
