"""The rows a careful pipeline reads from a rating table's files with pyarrow, to hold the
gateway's `GET .../rows/` to (tests/rows.rs): ids as text, the rating a 64-bit float, the
timestamp as epoch seconds (floored), `comment` as text, in the files' order.

    reference_rows.py write DIR     writes DIR/ratings.csv.gz and DIR/set/part-{0,1,2}.parquet
    reference_rows.py read FILE...  prints the rows of FILE... (CSV, gzipped or not, or Parquet)
                                    read by pyarrow, one JSON object a line

The files are made by pyarrow and Python's csv module, not by the gateway's code: quoted
fields with the delimiter, quotes and newlines inside, text beyond ASCII, ISO 8601 instants
with offsets and fractions (before 1970 too), and Parquet written as pandas and Spark write it
(dictionary-encoded text, float32, timestamps in ns with a named zone, ms in UTC, naive us).
"""

import csv
import datetime as dt
import gzip
import io
import json
import os
import random
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

CSV_ROWS = 20_000
PART_ROWS = 5_000


def instant(rnd: random.Random, i: int) -> str:
    """An ISO 8601 instant in one of the forms exports write."""
    seconds = rnd.randint(-86_400 * 30, 2_000_000_000)
    millis = rnd.randint(0, 999)
    offset = rnd.choice([0, 0, 330, -300, 60])
    zone = dt.timezone(dt.timedelta(minutes=offset))
    at = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).astimezone(zone) + dt.timedelta(milliseconds=millis)
    form = i % 4
    if form == 0:
        return at.isoformat(timespec="milliseconds")
    if form == 1:
        return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 2:
        return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return at.isoformat()


def write(out: str) -> None:
    rnd = random.Random(27)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["user id", "sku", "score", "when", "comment"])
    for i in range(CSV_ROWS):
        comment = rnd.choice(["plain", "with, a comma", 'a "quoted" word', "über café ☕", "two\nlines", f"n{i}"])
        score = rnd.choice([str(rnd.randint(0, 5)), f"{rnd.randint(0, 9)}.5", "1e0", f"{rnd.random() * 5:.6f}"])
        w.writerow([f"u{i % 3000:05d}", f"sku-{i}", score, instant(rnd, i), comment])
    with gzip.open(os.path.join(out, "ratings.csv.gz"), "wt", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
    os.makedirs(os.path.join(out, "set"), exist_ok=True)
    kinds = [pa.timestamp("ns", tz="Europe/Paris"), pa.timestamp("ms", tz="UTC"), pa.timestamp("us")]
    for part, ts_type in enumerate(kinds):
        base = part * PART_ROWS
        users = pa.array([base + i for i in range(PART_ROWS)], pa.int64())
        items = pa.array([f"item-{(base + i) % 700}" for i in range(PART_ROWS)]).dictionary_encode()
        if part == 0:
            ratings = pa.array([float(i % 11) / 2 for i in range(PART_ROWS)], pa.float32())
        else:
            ratings = pa.array([round(rnd.random() * 5, 3) for _ in range(PART_ROWS)], pa.float64())
        unit = {"ns": 1_000_000_000, "ms": 1_000, "us": 1_000_000}[ts_type.unit]
        stamps = pa.array([rnd.randint(-10**6, 2 * 10**9) * unit + rnd.randint(0, unit - 1) for _ in range(PART_ROWS)],
                          pa.int64()).cast(ts_type)
        comments = pa.array([None if i % 7 == 0 else f"part {part} row {i} ✓" for i in range(PART_ROWS)], pa.string())
        table = pa.table({"uid": users, "item": items, "stars": ratings, "at": stamps, "comment": comments})
        pq.write_table(table, os.path.join(out, "set", f"part-{part}.parquet"), row_group_size=2_000)


def seconds(column: pa.ChunkedArray) -> list:
    """Epoch seconds, floored, of a timestamp column of any unit and zone."""
    unit = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[column.type.unit]
    return [None if v is None else v // unit for v in column.cast(pa.int64()).to_pylist()]


def iso_seconds(text: str | None) -> int | None:
    """Epoch seconds, floored, of ISO 8601 text; naive instants are UTC."""
    if text is None:
        return None
    at = dt.datetime.fromisoformat(text)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return (at - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(seconds=1)


def read(path: str) -> pa.Table:
    if path.endswith(".parquet"):
        t = pq.read_table(path)
        return pa.table({
            "user_id": pc.cast(t["uid"], pa.string()),
            "item_id": pc.cast(t["item"], pa.string()),
            "rating": pc.cast(t["stars"], pa.float64()),
            "timestamp": pa.array(seconds(t["at"]), pa.int64()),
            "comment": t["comment"],
        })
    # The instant as text, parsed by Python's own ISO 8601 reader (naive ones in UTC).
    types = {"user id": pa.string(), "sku": pa.string(), "score": pa.float64(), "when": pa.string(),
             "comment": pa.string()}
    opts = pa_csv.ParseOptions(newlines_in_values=True)
    t = pa_csv.read_csv(path, parse_options=opts, convert_options=pa_csv.ConvertOptions(column_types=types))
    return pa.table({"user_id": t["user id"], "item_id": t["sku"], "rating": t["score"],
                     "timestamp": pa.array([iso_seconds(v) for v in t["when"].to_pylist()], pa.int64()),
                     "comment": t["comment"]})


def main() -> None:
    if sys.argv[1] == "write":
        write(sys.argv[2])
        return
    out = sys.stdout
    for path in sys.argv[2:]:
        for row in read(path).to_pylist():
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
