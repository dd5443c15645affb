"""`harness ab`: the same cells in a baseline and variant environments, interleaved round by
round, with an A/A control; the verdict is `harness compare`'s."""
