"""Building blocks shared by several workloads: block arrays, CSV frames, ML tables, Spark."""
