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
    # DuckDB's own CSV test files: real extracts (TPC-H/TPC-DS, IMDb, Kaggle, open data) and
    # dialect cases (pipes, tabs, semicolons, preambles, comments, BOMs, Latin-1).
    "duckdb/duckdb": ("MIT", [f"data/csv/{n}" for n in (
        "real/greek_utf8.csv real/imdb_movie_info_escaped.csv real/lineitem_sample.csv real/ncvoter.csv "
        "real/ontime_sample.csv real/web_page.csv aws_locations.csv titanic.csv weather.csv soccer_kaggle.csv "
        "error/banklist.csv flights.csv customer.csv people.csv venue_pipe.csv sales_snippet.csv timings.csv "
        "tpcc_results.csv stats_3_muta_10_21.csv page_namespacepage_title_sample.csv hits_problematic.csv "
        "bug_10283.csv double_trouble.csv leading_zeros.csv comma_decimal_null.csv lineitem-carriage.csv "
        "sample-0.csv auto/utf8bom.csv auto/semicolon_quote.csv auto/pipe_delim_quote.csv auto/titlebasicsdebug.tsv "
        "auto/issue_811.csv auto/skip_row.csv auto/multiple_skip_row.csv comments/simple.csv encodings/latin1.csv "
        "pollock/file_quotation_char_0x27.csv union-by-name/gabor/Post/part-2.csv hive-partitioning/hive_types/himym.csv "
        "issue_13525/stat_stat_chars.csv thijs_unquoted.csv error/mismatch/example.tsv"
    ).split()]),
    "BurntSushi/rust-csv": ("Unlicense OR MIT", [f"examples/data/{n}.csv" for n in (
        "smallpop smallpop-colon smallpop-no-headers strange uspop uspop-latin1 uspop-null").split()]),
    "maxogden/csv-spectrum": ("BSD-2-Clause", [f"csvs/{n}.csv" for n in (
        "comma_in_quotes escaped_quotes json newlines newlines_crlf quotes_and_newlines simple simple_crlf utf8").split()]),
    "wireservice/csvkit": ("MIT", [f"examples/{n}" for n in (
        "bad.csv blanks.csv dummy.tsv mac_newlines.csv no_header_row.csv optional_quote_characters.csv "
        "test_latin1.csv test_utf8.csv test_utf8_bom.csv test_skip_lines.csv test_locale.csv test_geo.csv "
        "irismeta.csv iris.csv testxlsx_converted.csv testdbf_converted.csv test_header_newline.csv "
        "test_extra_header.csv realdata/FY09_EDU_Recipients_by_State.csv realdata/acs2012_5yr_population.csv "
        "realdata/ks_1033_data.csv realdata/census_2000/determination_schema.csv"
    ).split()]),
    "tidyverse/readr": ("MIT", [
        "inst/extdata/challenge.csv", "inst/extdata/mtcars.csv", "inst/extdata/chickens.csv",
        "inst/extdata/mini-gapminder-europe.csv", "tests/testthat/fixtures/basic-df-singlequote.csv",
        "tests/testthat/fixtures/eol-cr.csv", "tests/testthat/fixtures/eol-crlf.csv",
    ]),
    "frictionlessdata/frictionless-py": ("MIT", [f"data/{n}" for n in (
        "accent.csv bom.csv blank-rows.csv delimiter.csv dialect.csv doublequote.csv escaping.csv latin1.csv "
        "matrix-with-comment.csv skip-rows-before-headers.csv skip-rows.csv issue-1009-semicolon.csv "
        "table-infer-iso-8859-7.csv table.tsv table-unicode-headers.csv zipped-resources/ogd10_energieforschungstatistik_ch.csv "
        "vix.csv countries.csv table-with-accents.csv without-headers.csv issue-1138.csv"
    ).split()]),
    "fivethirtyeight/data": ("CC-BY-4.0", [
        "avengers/avengers.csv", "births/US_births_2000-2014_SSA.csv", "college-majors/all-ages.csv",
        "congress-resignations/congressional_resignations.csv", "fight-songs/fight-songs.csv",
        "male-flight-attendants/male-flight-attendants.tsv", "nba-winprobs/nba.tsv",
        "poll-of-pollsters/poll-of-pollsters.tsv", "redlining/metro-grades.csv", "san-andreas/earthquake_data.csv",
        "tennis-time/serve_times.csv", "us-weather-history/KSEA.csv", "mueller-polls/mueller-approval-polls.csv",
        "most-common-name/adjusted-name-combinations-list.csv", "world-cup-predictions/wc-20140613-180212.csv",
        "march-madness-predictions-2015/mens/bracket-04.tsv",
    ]),
    "plotly/datasets": ("MIT", [
        "2014_apple_stock.csv", "2014_world_gdp_with_codes.csv", "2011_february_us_airport_traffic.csv",
        "auto-mpg.csv", "Dash_Bio/Chromosomal/clustergram_mtcars.tsv", "carshare.csv", "coffee-flavors.csv",
        "App-Challenges/MTA-NYC/MTA_data_dictionary.csv", "ag-grid/space-mission-data.csv",
        "candlestick_dataset_2007_2009.csv",
    ]),
    "allisonhorst/palmerpenguins": ("CC0-1.0", ["inst/extdata/penguins.csv", "inst/extdata/penguins_raw.csv"]),
    "datasets/co2-ppm": ("ODC-PDDL-1.0", ["data/co2-annmean-mlo.csv", "data/co2-mm-mlo.csv"]),
    "datasets/global-temp": ("ODC-PDDL-1.0", ["data/annual.csv"]),
    "datasets/gold-prices": ("ODC-PDDL-1.0", ["data/monthly.csv"]),
    "datasets/house-prices-us": ("ODC-PDDL-1.0", ["data/national-month.csv"]),
    "datasets/language-codes": ("ODC-PDDL-1.0", ["data/language-codes-full.csv", "data/ietf-language-tags.csv"]),
    "datasets/exchange-rates": ("ODC-PDDL-1.0", ["data/annual.csv"]),
    "datasets/un-locode": ("ODC-PDDL-1.0", ["data/subdivision-codes.csv", "data/alias.csv", "data/function-classifiers.csv"]),
    "datasets/publicbodies": ("ODC-PDDL-1.0", ["data/eu.csv", "data/us.csv", "data/nz.csv"]),
    "datasets/euribor": ("ODC-PDDL-1.0", ["data/euribor-1w-weekly.csv"]),
    "datasets/dac-and-crs-code-lists": ("ODC-PDDL-1.0", ["data/recipients.csv", "data/finance_types.csv"]),
    "cldf-datasets/wals": ("CC-BY-4.0", ["cldf/contributors.csv", "cldf/genealogy.csv", "cldf/parameters.csv",
                                         "cldf/language_names.csv"]),
}
# The folder under files/ of a repository whose name alone says too little.
FOLDERS = {"fivethirtyeight/data": "fivethirtyeight", "plotly/datasets": "plotly-datasets"}
# The commit each repository's files are taken from (its snapshot's HEAD when it was added),
# so that a snapshot fetched later rewrites the same bytes.
COMMITS = {
    "alan-turing-institute/CleverCSV": "e80acaa5c324889416a5727ad9929d5b2f8bccb6",
    "datasets/s-and-p-500-companies": "56509dd80619e4d8e1410c2260d68ddd3eab6068",
    "datasets/country-codes": "caa72d1e0e5af8876c170bb36a9e4d64a01bba88",
    "datasets/gdp": "822019c80142c162e4ca4eb1a63699ae36075078",
    "datasets/airport-codes": "8aed3088287cc7d04f87dd9fb5ac0d01f998cd6b",
    "apache/parquet-testing": "1a2a75127be06fc0123f03ebd36c966f7beda27d",
    "apache/avro": "87212a6d47247a30dff247d16386d722c56d4390",
    "duckdb/duckdb": "044a04a7cd39e6e8235f756597ae42dde084e5e5",
    "BurntSushi/rust-csv": "4a3997e91d668ea1d8595bdef15625a77cf2308a",
    "maxogden/csv-spectrum": "b251546d5ccb79217a61aa8ca623ce573977d7e1",
    "wireservice/csvkit": "ba8033dcbb2c72089e88f38a1a50ddfc8e5ac3df",
    "tidyverse/readr": "238ea873fdc1a34b3638f01493bd8df9f770ac62",
    "frictionlessdata/frictionless-py": "44661adf0c9ec593d48642ba380ce33bbad95e15",
    "fivethirtyeight/data": "fcf572c4fba05a42f1f34f415bd5e6dc389efd68",
    "plotly/datasets": "0c447c47b757ad74edecab31f0d72f849d2e67c2",
    "allisonhorst/palmerpenguins": "8957207b78d6ccd1b4654a9dd9c9041b657478ab",
    "datasets/co2-ppm": "146bdc608e1078d3e28e7a5d4755fdc316ffed2d",
    "datasets/global-temp": "80921494a98d764d3f1aad79dd77176482298cb0",
    "datasets/gold-prices": "d02264e9b728c1c0c9ecd5b74d141ef6113f752e",
    "datasets/house-prices-us": "1da31a648c7da851fcc8d44b42fd768da9199970",
    "datasets/language-codes": "2787e945225a6daaa75d9f3812a977c9f89c61bc",
    "datasets/exchange-rates": "fa7d949956d1db1d21102654b1f40d64d2568677",
    "datasets/un-locode": "b1309b37edea63334a819a78c22b8967f61c37ad",
    "datasets/publicbodies": "b58274a6d5e79d6dda83130780f955cec5e828ad",
    "datasets/euribor": "d9284db4d0327ae5ccd247c4a5b1420e34b8eddc",
    "datasets/dac-and-crs-code-lists": "4bb5a5e72f17ce8ca96b353bc0f69e5a14f80625",
    "cldf-datasets/wals": "3a9efd69074e1ced1da69e31b9aebfd55006eb70",
}


# Where the gateway's answer is written down otherwise than the reference reader's, and why.
EXPECT = {
    "CleverCSV/example_imdb.csv": {
        "delimiter": ",", "quote": "\"", "header": True, "skip_rows": 0, "columns": 44,
        "why": "DuckDB takes '|' (one column); the header and every row are comma-separated (44 fields)"},
    # DuckDB wrong: the gateway's answer is the file's dialect.
    "duckdb/data_csv_error_banklist.csv": {
        "delimiter": ",", "quote": "\"", "header": True, "skip_rows": 0, "columns": 7,
        "why": "DuckDB refuses it (not UTF-8, and its Latin-1 refuses 0x96): Windows-1252 text (0xa0 after each header name, 0x96 dashes), a header and 7 comma-separated fields"},
    "duckdb/data_csv_pollock_file_quotation_char_0x27.csv": {
        "delimiter": ",", "quote": "'", "header": False, "skip_rows": 0, "columns": 9,
        "why": "Pollock's quotation-character file: the description is quoted with ' (DuckDB's own test reads it with quote=\"'\", 9 columns); DuckDB's sniffer reads no quote and splits the description at its comma (10)"},
    "rust-csv/examples_data_strange.csv": {
        "delimiter": ";", "quote": "\"", "header": False, "skip_rows": 0, "columns": 2,
        "why": "DuckDB takes '|' (one column); records are name;year with \\\" escapes inside quotes and # comment lines, no header"},
    "csvkit/examples_bad.csv": {
        "delimiter": ",", "quote": "\"", "header": True, "skip_rows": 0, "columns": 3,
        "why": "DuckDB takes '|' (one column) for a ragged file: a 3-name comma-separated header, rows of 4, 2 and 3 fields"},
    "csvkit/examples_test_extra_header.csv": {
        "delimiter": ",", "quote": "", "header": True, "skip_rows": 0, "columns": 4,
        "why": "DuckDB takes '|' (one column): a comma-separated header of 4 names over a row of 3"},
    "frictionless-py/data_countries.csv": {
        "delimiter": ",", "quote": "", "header": True, "skip_rows": 0, "columns": 4,
        "why": "DuckDB takes '|' (one column) for a ragged file: a # comment line, then a 4-name comma-separated header and rows of 1 to 5 fields"},
    "co2-ppm/data_co2-mm-mlo.csv": {
        "delimiter": ",", "quote": "", "header": True, "skip_rows": 0, "columns": 6,
        "why": "DuckDB skips the header as a preamble (7 unnamed columns); the first line names the columns, six of them: the rows carry a seventh field the header does not name"},
    # The same table either way.
    "duckdb/data_csv_timings.csv": {
        "delimiter": "|", "quote": "\"", "header": True, "skip_rows": 0, "columns": 7,
        "why": "same table: its quotes are inside JSON values, never at a field's start, so it reads alike with '\"' (the gateway) or no quote (DuckDB)"},
    "frictionless-py/data_escaping.csv": {
        "delimiter": ",", "quote": "\"", "header": True, "skip_rows": 0, "columns": 2,
        "why": "same table: each quote follows a space after the comma, so it is no quoting and reads alike with '\"' (the gateway) or no quote (DuckDB)"},
    "csvkit/examples_test_skip_lines.csv": {
        "delimiter": ",", "quote": "", "header": True, "skip_rows": 0, "columns": 3,
        "why": "same table: DuckDB counts the three blank lines before the header as skipped, the gateway's reader passes over blank lines"},
    "frictionless-py/data_matrix-with-comment.csv": {
        "delimiter": ",", "quote": "", "header": True, "skip_rows": 0, "columns": 4,
        "why": "same table: DuckDB skips the leading '# comment' line, the gateway reads it as a comment (comment '#')"},
    "frictionless-py/data_skip-rows-before-headers.csv": {
        "delimiter": ",", "quote": "", "header": True, "skip_rows": 0, "columns": 2,
        "why": "same table: DuckDB skips the leading '# ...' line, the gateway reads it as a comment (comment '#')"},
    "plotly-datasets/Dash_Bio_Chromosomal_clustergram_mtcars.tsv": {
        "delimiter": "\t", "quote": "", "header": True, "skip_rows": 0, "columns": 12,
        "why": "same table: DuckDB skips the three '# Name/Description/Source' lines and a blank line, the gateway reads them as comments (comment '#')"},
    # Known misses: what the gateway answers today, written down until it is read right.
    "duckdb/data_csv_bug_10283.csv": {
        "delimiter": ",", "quote": "\"", "header": False, "skip_rows": 1, "columns": 120,
        "why": "known miss: a header taken as data (the AEMO 'I' header row holds a version number, 1): skip the 'C' line, header on line 2, 25 columns (a second 120-field table follows at line 291; DuckDB skips 290 lines to it, also wrong)"},
    "fivethirtyeight/poll-of-pollsters_poll-of-pollsters.tsv": {
        "delimiter": "\t", "quote": "\"", "header": False, "skip_rows": 0, "columns": 34,
        "why": "known miss: a header taken as data (survey questions as column names, over 64 characters)"},
    "fivethirtyeight/san-andreas_earthquake_data.csv": {
        "delimiter": ",", "quote": "\"", "header": False, "skip_rows": 0, "columns": 11,
        "why": "known miss: a header taken as data (survey questions as column names, over 64 characters)"},
    "duckdb/data_csv_page_namespacepage_title_sample.csv": {
        "delimiter": "\t", "quote": "\"", "header": True, "skip_rows": 0, "columns": 2,
        "why": "known miss: literal quotes taken for quoting (Wikipedia titles such as '\"!\"' and a lone '\"'; the dump is unquoted, as DuckDB reads it)"},
    "duckdb/data_csv_auto_titlebasicsdebug.tsv": {
        "delimiter": "\t", "quote": "\"", "header": True, "skip_rows": 0, "columns": 9,
        "why": "known miss: literal quotes taken for quoting (IMDb's TSV is unquoted: the title '\"Swing it\" magistern' loses its quotes)"},
    "duckdb/data_csv_thijs_unquoted.csv": {
        "delimiter": "|", "quote": "\"", "header": False, "skip_rows": 0, "columns": 3,
        "why": "known miss: literal quotes taken for quoting (company names such as '\"ANTON\" SONNENSCHUTZSYSTEME ...' begin with a quoted word; DuckDB reads no quote)"},
    "duckdb/data_csv_auto_multiple_skip_row.csv": {
        "delimiter": ",", "quote": "", "header": True, "skip_rows": 0, "columns": 1,
        "why": "known miss: a preamble not skipped (two note lines, the second of 2 fields, before a 3-name header; DuckDB skips 2)"},
    "frictionless-py/data_dialect.csv": {
        "delimiter": "|", "quote": "\"", "header": True, "skip_rows": 0, "columns": 2,
        "why": "known miss: a quote character other than '\"' and ' not detected (frictionless's dialect test quotes with '#', escapes with '-'); DuckDB, also wrong, skips 2 lines for 3 columns"},
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
    """DuckDB's sniff_csv; a file that is not UTF-8 sniffed again as Latin-1 (the encoding then
    written down); a file DuckDB reads in neither, its refusal."""
    error = None
    for encoding in (None, "latin-1"):
        option = f", encoding = '{encoding}'" if encoding else ""
        try:
            row = duckdb.sql(
                f"SELECT Delimiter, Quote, HasHeader, SkipRows, Columns FROM sniff_csv('{path}'{option})").fetchall()[0]
        except duckdb.Error as x:
            error = error or str(x).split("\n")[0][:200]
            if "unicode" not in str(x).lower() and "encod" not in str(x).lower():
                break
            continue
        delimiter, quote, header, skip, columns = row
        e = {"delimiter": delimiter, "quote": "" if quote in ("\0", "(empty)") else quote, "header": bool(header),
             "skip_rows": int(skip), "columns": len(columns)}
        return {**e, "encoding": encoding} if encoding else e
    return {"opens": False, "error": error}


def main():
    entries = []
    for repo, (licence, files) in SOURCES.items():
        snapshot = os.path.join(MIRROR, repo.replace("/", "+"), "repo")
        commit = COMMITS.get(repo) or subprocess.check_output(
            ["git", "-C", snapshot, "rev-parse", "HEAD"], text=True).strip()
        for f in files:
            name = f"{FOLDERS.get(repo, repo.split('/')[1])}/{f.replace('/', '_')}"
            dest = os.path.join(OUT, "files", name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as out:
                out.write(subprocess.check_output(["git", "-C", snapshot, "show", f"{commit}:{f}"]))
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
