"""Sweeps: declared parameter grids (`spec`, the TOMLs in `specs/`), planned against a time
budget (`plan`) and run one fresh process per cell (`run`)."""
