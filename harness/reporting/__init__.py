"""Reports: records -> summary rows -> document blocks -> Markdown and HTML on disk.

`summary` and the `*_rows`/`*_analysis` modules turn records into frames; `run_report` and
`sweep_report` build documents (`document`) with their figures (`run_plots`, `sweep_plots`,
`figures`, `graphs`); `writers` renders them, `output` writes them, `render` picks the report.
"""
