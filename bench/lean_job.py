"""A lean Spark job doing the consolidation job's work: the benchmark baseline of issue 12.

Never deployed: `bench/bench_consolidation.py` times it beside the project job on the same
bronze and checks on every run that both wrote the same silver and quarantine rows. Same
rules (reject reasons in order; trim, blank -> null, Manufacturer Title Case, color lower
case; RFC and ISO event times to UTC; enrichment; zero-padded partitions; one row per car and
day by mileage, event time, ingestion time, source file; dynamic partition overwrite; rejects
with their reason), written plainly, without the job's bookmark, commit protocol, Unicode
trim, schema-drift handling, merge of existing quarantine rows or final total tie-break.

    python bench/lean_job.py BRONZE_DIR SILVER_DIR QUARANTINE_DIR
"""

from __future__ import annotations

import sys

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

PARTS = ("event_year", "event_month", "event_day")
INGEST_PARTS = ("ingest_year", "ingest_month", "ingest_day")
REQUIRED = {"carChassis": "string", "metrics_metricTimestamp": "string", "source_file": "string"}
REQUIRED |= {"currentMileage": "double", "ingestion_timestamp": "timestamp"}
RFC = r"^(?:[A-Za-z]{3},\s*)?(\d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2})$"


def flat_columns(schema: T.StructType, prefix: tuple[str, ...] = ()) -> list:
    out = []
    for f in schema.fields:
        path = (*prefix, f.name)
        if isinstance(f.dataType, T.StructType):
            out += flat_columns(f.dataType, path)
        else:
            out.append(F.col(".".join(f"`{p}`" for p in path)).alias("_".join(path)))
    return out


ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}"
RFC_FORMAT = "d MMM yyyy HH:mm:ss"


def to_utc(name: str):
    """`Wed, 29 Oct 2025 11:00:00` (UTC) or ISO-8601 with an optional offset; else null."""
    text = F.trim(F.col(name))
    rfc = F.regexp_extract(text, RFC, 1)
    iso = F.when(text.rlike(ISO), F.expr(f"try_cast(trim({name}) AS TIMESTAMP)"))
    return F.when(rfc != "", F.try_to_timestamp(rfc, F.lit(RFC_FORMAT))).otherwise(iso)


def blank(name: str):
    return F.trim(F.col(name)).isNull() | (F.trim(F.col(name)) == "")


def reject_reason():
    mileage = F.expr("try_cast(currentMileage AS DOUBLE)")
    rules = [
        ("blank_carChassis", blank("carChassis")),
        ("missing_metricTimestamp", blank("_ts_raw")),
        ("unparsable_metricTimestamp", F.col("metrics_metricTimestamp").isNull()),
        ("missing_currentMileage", F.col("currentMileage").isNull()),
        (
            "invalid_currentMileage",
            mileage.isNull() | F.isnan(mileage) | (F.abs(mileage) == float("inf")),
        ),
        ("negative_currentMileage", mileage < 0),
    ]
    reason = F.lit(None).cast("string")
    for name, broken in reversed(rules):
        reason = F.when(broken, name).otherwise(reason)
    return reason


def ratio(num: str, den: str, scale: float = 1.0):
    value = F.round(F.col(num) / F.col(den) * scale, 2)
    return F.when(F.col(den).isNull() | (F.col(den) == 0), None).otherwise(value)


def day_parts(ts: str, names: tuple[str, ...]) -> dict:
    return dict(zip(names, (F.date_format(ts, p) for p in ("yyyy", "MM", "dd")), strict=True))


def silver_rows(good: DataFrame) -> DataFrame:
    cols = []
    for f in good.schema.fields:
        col = F.col(f"`{f.name}`")
        if isinstance(f.dataType, T.StringType):
            col = F.when(F.trim(col) != "", F.trim(col))
            col = {"Manufacturer": F.initcap(col), "color": F.lower(col)}.get(f.name, col)
        cols.append(col.alias(f.name))
    trip = F.regexp_extract(F.col("metrics_trip_tripStartTimestamp"), RFC, 1)
    valid = F.try_to_timestamp("carInsurance_validUntil", F.lit("yyyy-MM-dd")).cast("date")
    return good.select(*cols).withColumns(
        {
            "metrics_trip_tripStartTimestamp": F.try_to_timestamp(trip, F.lit(RFC_FORMAT)),
            "carInsurance_validUntil": valid,
            "fuel_level_percentage": ratio(
                "metrics_fuelAvailableLiters", "fuelCapacityLiters", 100.0
            ),
            "km_per_liter": ratio("metrics_trip_tripMileage", "metrics_trip_tripFuelLiters"),
            **day_parts("metrics_metricTimestamp", PARTS),
        }
    )


def write(df: DataFrame, path: str, parts: tuple[str, ...], sort_col: str) -> None:
    df = df.repartition(*parts).sortWithinPartitions(*parts, sort_col)
    df.write.mode("overwrite").partitionBy(*parts).parquet(path)


def existing_paths(spark: SparkSession, table: str, touched: list[tuple]) -> list[str]:
    fs = spark._jvm.org.apache.hadoop.fs
    conf = spark._jsc.hadoopConfiguration()
    paths = [
        table + "/" + "/".join(f"{k}={v}" for k, v in zip(PARTS, t, strict=True)) for t in touched
    ]
    return [p for p in paths if fs.Path(p).getFileSystem(conf).exists(fs.Path(p))]


def run(spark: SparkSession, bronze: str, silver: str, quarantine: str) -> None:
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    reader = spark.read.option("mergeSchema", "true").option("recursiveFileLookup", "true")
    raw = reader.parquet(bronze).drop(*INGEST_PARTS)
    flat = raw.select(*flat_columns(raw.schema))
    for name, dtype in REQUIRED.items():
        if name not in flat.columns:
            flat = flat.withColumn(name, F.lit(None).cast(dtype))
    batch = (
        flat.withColumnRenamed("metrics_metricTimestamp", "_ts_raw")
        .withColumn("metrics_metricTimestamp", to_utc("_ts_raw"))
        .withColumn("reject_reason", reject_reason())
        .persist()
    )
    good = batch.where("reject_reason IS NULL").drop("reject_reason", "_ts_raw")
    new = silver_rows(good)
    paths = existing_paths(
        spark, silver, [tuple(r) for r in new.select(*PARTS).distinct().collect()]
    )
    if paths:  # the existing rows of the touched days, read in full before the overwrite
        old = spark.read.option("basePath", silver).parquet(*paths)
        new = old.unionByName(new, allowMissingColumns=True).localCheckpoint()
    keys = ("currentMileage", "metrics_metricTimestamp", "ingestion_timestamp", "source_file")
    order = Window.partitionBy("carChassis", *PARTS).orderBy(*[F.desc_nulls_last(k) for k in keys])
    ranked = new.withColumn("_rank", F.row_number().over(order))
    write(ranked.where("_rank = 1").drop("_rank"), silver, PARTS, "carChassis")
    rejects = batch.where("reject_reason IS NOT NULL").drop("metrics_metricTimestamp")
    rejects = rejects.withColumnRenamed("_ts_raw", "metrics_metricTimestamp")
    rejects = rejects.withColumns(day_parts("ingestion_timestamp", INGEST_PARTS))
    write(rejects, quarantine, INGEST_PARTS, "source_file")
    batch.unpersist()


def main(argv: list[str]) -> int:
    import argparse

    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("bronze_dir", "silver_dir", "quarantine_dir"):
        cli.add_argument(name)
    args = cli.parse_args(argv[1:])
    import local_runtime  # the local session (UTC, dynamic overwrite, no partition inference)

    spark = local_runtime.spark_session("lean-job", short_lived=False)
    run(spark, args.bronze_dir, args.silver_dir, args.quarantine_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
