"""`harness decide`: a MADR 4.0 decision record written from the measurements."""
