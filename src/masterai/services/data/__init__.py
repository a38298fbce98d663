"""Data services of the ``code`` tool: ``validate_data`` (in-process) and ``transform_data``.

``validation.validate(schema=..., data=... | content=..., fmt=...)`` checks JSON and JSONL
against a JSON Schema (draft 2020-12) and CSV and Parquet against a table schema;
``transform.TransformService`` runs the caller's code over data in the sandbox. See
``docs/code-tools.md``.
"""
