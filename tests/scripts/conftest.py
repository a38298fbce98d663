"""The scripts tests share their helpers with the jobs tests (``scripts_support``)."""
