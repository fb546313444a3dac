"""Builds crates/gateway-formats/corpus/: real-world files from public repositories (each
with its source commit and licence) and manifest.json, what the reference readers answer for
each: DuckDB's sniff_csv for CSV and TSV, pyarrow for Parquet, fastavro for Avro. Run once,
from the project root, with the repositories' snapshots under ../.mirror and DuckDB, pyarrow
and fastavro in .venv; the files and the manifest are committed, so `make test` needs none of
it. The corpus test (src/corpus.rs) checks the gateway's answer against the expectation
written down for each file and prints its agreement with DuckDB's sniffer."""
import json
import os
import shutil
import subprocess
import sys

import duckdb
import fastavro
import pyarrow.parquet as pq

MIRROR = os.path.abspath("../.mirror")
OUT = "crates/gateway-formats/corpus"
SOURCES = {
    "alan-turing-institute/CleverCSV": ("MIT", ["example/airedale.csv", "example/imdb.csv", "example/milk.csv"]),
    "datasets/s-and-p-500-companies": ("ODC-PDDL-1.0", ["data/constituents.csv", "data/sector-counts.csv"]),
    "datasets/country-codes": ("ODC-PDDL-1.0", ["data/country-codes.csv", "tmp/UNSD-en.csv", "tmp/UNSD-fr.csv", "tmp/UNSD-ru.csv"]),
    "datasets/gdp": ("ODC-PDDL-1.0", ["data/top-economies.csv"]),
    "datasets/airport-codes": ("ODC-PDDL-1.0", ["data/type-counts.csv"]),
    "apache/parquet-testing": ("Apache-2.0", [
        "data/delta_encoding_optional_column_expect.csv", "data/delta_byte_array_expect.csv",
    ] + [f"data/{n}.parquet" for n in (
        "alltypes_dictionary alltypes_plain alltypes_plain.snappy binary byte_array_decimal byte_stream_split.zstd "
        "byte_stream_split_extended.gzip column_chunk_key_value_metadata concatenated_gzip_members "
        "data_index_bloom_encoding_stats datapage_v1-snappy-compressed-checksum datapage_v2.snappy "
        "datapage_v2_empty_datapage.snappy delta_encoding_optional_column delta_length_byte_array "
        "dict-page-offset-zero fixed_length_byte_array fixed_length_decimal fixed_length_decimal_legacy "
        "float16_nonzeros_and_nans int32_decimal int32_with_null_pages int64_decimal int96_from_spark "
        "large_string_map.brotli list_columns lz4_raw_compressed hadoop_lz4_compressed non_hadoop_lz4_compressed "
        "map_no_value nan_in_stats nested_lists.snappy nested_maps.snappy nested_structs.rust "
        "nonnullable.impala null_list nullable.impala nulls.snappy old_list_structure repeated_no_annotation "
        "repeated_primitive_no_list rle_boolean_encoding single_nan sort_columns unknown-logical-type "
        "geospatial/geospatial"
    ).split()] + ["data/encrypt_columns_and_footer.parquet.encrypted", "data/encrypt_columns_plaintext_footer.parquet.encrypted"]),
    "apache/avro": ("Apache-2.0", [
        "share/test/data/weather.avro", "share/test/data/weather-deflate.avro", "share/test/data/weather-snappy.avro",
        "share/test/data/weather-zstd.avro", "share/test/data/weather-sorted.avro", "share/test/data/syncInMeta.avro",
        "share/test/data/schemas/simple/data.avro", "share/test/data/schemas/withUnion/data.avro",
    ]),
}


# Where the gateway's answer is written down otherwise than the reference reader's, and why.
EXPECT = {
    "CleverCSV/example_imdb.csv": {
        "delimiter": ",", "quote": "\"", "header": True, "skip_rows": 0, "columns": 44,
        "why": "DuckDB takes '|' (one column); the header and every row are comma-separated (44 fields)"},
    "parquet-testing/data_dict-page-offset-zero.parquet": {
        "opens": False, "says": "Expected list element type",
        "why": "known miss: the parquet crate (arrow-rs 60) refuses this file pyarrow reads; the gateway says what it refuses"},
    "parquet-testing/data_hadoop_lz4_compressed.parquet": {
        "opens": False, "says": "deprecated LZ4 codec",
        "why": "refused by design: LZ4 (Hadoop or raw framing, ambiguous) pages cannot be bounded before decompression"},
    "parquet-testing/data_non_hadoop_lz4_compressed.parquet": {
        "opens": False, "says": "deprecated LZ4 codec", "why": "as the Hadoop-framed file"},
    "avro/share_test_data_syncInMeta.avro": {
        "opens": True, "rows": 10,
        "why": "fastavro refuses a metadata value that is not UTF-8; the Avro specification makes metadata values bytes, and Avro's own readers read it"},
}


def leaves(field, prefix=""):
    import pyarrow as pa
    name = f"{prefix}.{field.name}" if prefix else field.name
    if pa.types.is_struct(field.type) and field.type.num_fields:
        return [leaf for child in field.type for leaf in leaves(child, name)]
    return [name]


def csv_expect(path):
    row = duckdb.sql(f"SELECT Delimiter, Quote, HasHeader, SkipRows, Columns FROM sniff_csv('{path}')").fetchall()[0]
    delimiter, quote, header, skip, columns = row
    return {"delimiter": delimiter, "quote": "" if quote in ("\0", "(empty)") else quote, "header": bool(header),
            "skip_rows": int(skip), "columns": len(columns)}


def main():
    entries = []
    for repo, (licence, files) in SOURCES.items():
        snapshot = os.path.join(MIRROR, repo.replace("/", "+"), "repo")
        commit = subprocess.check_output(["git", "-C", snapshot, "rev-parse", "HEAD"], text=True).strip()
        for f in files:
            name = f"{repo.split('/')[1]}/{f.replace('/', '_')}"
            dest = os.path.join(OUT, "files", name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as out:
                out.write(subprocess.check_output(["git", "-C", snapshot, "show", f"HEAD:{f}"]))
            e = {"file": name, "source": f"https://github.com/{repo}/blob/{commit}/{f}", "licence": licence}
            if f.endswith((".csv", ".tsv")):
                e["format"] = "CSV"
                e["duckdb"] = csv_expect(dest)
            elif ".parquet" in f:
                e["format"] = "PARQUET"
                try:
                    t = pq.read_table(dest)
                    e["pyarrow"] = {"opens": True, "rows": t.num_rows,
                                    "columns": [c for fld in t.schema for c in leaves(fld)]}
                except Exception as x:  # noqa: BLE001 - the reference reader's refusal is the fact recorded
                    e["pyarrow"] = {"opens": False, "error": str(x)[:200]}
            else:
                e["format"] = "AVRO"
                try:
                    with open(dest, "rb") as fo:
                        r = fastavro.reader(fo)
                        rows = list(r)
                        e["fastavro"] = {"opens": True, "rows": len(rows),
                                         "fields": [fl["name"] for fl in r.writer_schema.get("fields", [])]}
                except Exception as x:  # noqa: BLE001 - as for pyarrow
                    e["fastavro"] = {"opens": False, "error": str(x)[:200]}
            if name in EXPECT:
                reference = e.get("duckdb") or e.get("pyarrow") or e.get("fastavro")
                e["expect"] = EXPECT[name] if e["format"] == "CSV" else {**reference, **EXPECT[name]}
            entries.append(e)
    with open(os.path.join(OUT, "manifest.json"), "w") as m:
        json.dump(entries, m, indent=1, ensure_ascii=False)
        m.write("\n")
    print(f"{len(entries)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
