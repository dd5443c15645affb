"""The chapter's workloads, one module each, defined once for every engine.

`contract` says what a workload is, `checks` how answers are compared, `schema` and
`datasets` what data they read, `common` the pieces several workloads share, and `registry`
lists them all. This package imports nothing by itself: a Dask or Spark worker that unpickles
one workload's function imports only that module.
"""
