"""Runs one ``transform_data`` call inside the sandbox (``masterai.services.data.transform``).

The host puts the job (``transform_job.json``), the caller's code (``transform_code.py``) and
the input data in the working directory; this runner loads the data (``data``: parsed JSON,
a list for JSONL, a pandas DataFrame for CSV and Parquet), removes those files, runs the code,
and writes what it assigned to ``result`` to ``transform_result.<json|csv|parquet>``. What
the code prints is the run's output, as for any program. The data never becomes code.
"""

import json
import os
from typing import Any

JOB = "transform_job.json"
CODE = "transform_code.py"


def load(path: str, fmt: str) -> object:
    """The input data, ready for the caller's code."""
    if fmt in ("csv", "parquet"):
        import pandas as pd

        return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    with open(path, encoding="utf-8") as handle:
        if fmt == "jsonl":
            return [json.loads(line) for line in handle if line.strip()]
        return json.load(handle)


def plain(value: object) -> object:
    """JSON for what ``json`` cannot encode itself: tables, arrays, dates, sets."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json):  # a DataFrame (as records) or a Series (as an object)
        orient = "records" if hasattr(value, "columns") else None
        return json.loads(to_json(orient=orient, date_format="iso"))
    for method in ("tolist", "isoformat"):
        convert = getattr(value, method, None)
        if callable(convert):
            return convert()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"result of type {type(value).__name__} is not JSON serialisable")


def save(result: Any, fmt: str) -> None:
    """Write ``result`` as ``transform_result.<fmt>``."""
    if fmt in ("csv", "parquet"):
        import pandas as pd

        frame = result if isinstance(result, pd.DataFrame) else pd.DataFrame(result)
        if fmt == "csv":
            frame.to_csv("transform_result.csv", index=False)
        else:
            frame.to_parquet("transform_result.parquet", index=False)
        return
    with open("transform_result.json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, default=plain)


def main() -> None:
    """Load, run, save."""
    with open(JOB, encoding="utf-8") as handle:
        job = json.load(handle)
    with open(CODE, encoding="utf-8") as handle:
        code = handle.read()
    data = load(job["input"], job["format"])
    for name in (JOB, CODE, job["input"]):
        os.remove(name)
    namespace = {"__name__": "__main__", "data": data}
    exec(compile(code, "transform.py", "exec"), namespace)  # the caller's code, by design
    if "result" in namespace:
        save(namespace["result"], job["output"])


main()
