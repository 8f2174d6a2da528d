"""The ingestion Lambda end to end on moto S3: real-shaped events in, bronze objects out."""

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path

import boto3
import handler as ingestion
import local_runtime
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from bronze_factory import LINEAGE_FIELDS, METRICS, V1_FIELDS, V1_SCHEMA
from ingest import core, keys
from moto import mock_aws

TESTS = Path(__file__).resolve().parent
EVENTS = TESTS / "events"
LANDING_DATA = TESTS / "data" / "landing"

REGION = "us-east-1"
LANDING = "car-telemetry-landing-dev"
BRONZE = "car-telemetry-bronze-dev"
UTC = dt.UTC

# The bronze contract's Arrow schema, shared with the job's bronze fixtures.
CONTRACT_FIELDS = V1_FIELDS

# The bronze name is a pure function of (bucket, key, ETag): pinned, because changing it would
# make a redelivery after a deployment write a second copy.
CAR_RAW_KEY = (
    "car_data/ingest_year=2025/ingest_month=11/ingest_day=02/car_raw-f6eace1566e49980.parquet"
)


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def landing_bytes(name: str) -> bytes:
    return (LANDING_DATA / name).read_bytes()


def event_for(key: str, *, etag: str) -> dict:
    """The car_raw event re-pointed at another (already URL-encoded) key and its ETag.

    The ETag must be the landing object's: the handler reads with If-Match on it.
    """
    event = copy.deepcopy(load_event("s3_put_car_raw.json"))
    event["Records"][0]["s3"]["object"].update(key=key, eTag=etag)
    return event


def md5_of(body: bytes) -> str:
    """S3's ETag of a single-part upload (unquoted, as in events)."""
    return hashlib.md5(body).hexdigest()


def quarantined_as(source_key: str, body: bytes, day: str = "2025-11-02", prefix="quarantine"):
    """The quarantine copy key of ``body`` uploaded (single part) to ``source_key``."""
    folder, name = source_key.rsplit("/", 1)
    stem, suffix = name[:-5], name[-5:]
    short = hashlib.sha256(md5_of(body).encode()).hexdigest()[:8]
    return f"{prefix}/{day}/{folder}/{stem}.{short}{suffix}"


def objects(s3, prefix: str = "") -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BRONZE, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BRONZE, Key=o["Key"])["Body"].read() for o in listing}


def read_parquet(body: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(body))


@pytest.fixture(scope="module")
def moto_s3():
    """One moto mock and one client for the module (a boto3 client costs ~0.2 s to create)."""
    with mock_aws() as mock:
        client = boto3.client(
            "s3",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield mock, client


@pytest.fixture
def s3(moto_s3, monkeypatch):
    """An empty S3 with the landing and bronze buckets; the handler uses the same client."""
    mock, client = moto_s3
    mock.reset()  # empty backends for every test
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("BRONZE_BUCKET", BRONZE)
    monkeypatch.delenv("BRONZE_PREFIX", raising=False)
    monkeypatch.delenv("QUARANTINE_PREFIX", raising=False)
    client.create_bucket(Bucket=LANDING)
    client.create_bucket(Bucket=BRONZE)
    monkeypatch.setattr(ingestion, "_STORE", core.S3Store(client))
    return client


def fail_calls(s3_client, operation: str, code: str, *, key_suffix: str = "") -> list[str]:
    """Make the handler's S3 client fail ``operation`` (optionally only for some keys)."""
    failed: list[str] = []

    def hook(params, **_):
        if params["Key"].endswith(key_suffix):
            failed.append(params["Key"])
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    s3_client.meta.events.register(f"before-parameter-build.s3.{operation}", hook)
    return failed


def handler_client(monkeypatch):
    client = boto3.client("s3", region_name=REGION)
    monkeypatch.setattr(ingestion, "_STORE", core.S3Store(client))
    return client


CAR_ROW = {
    "carChassis": "9BWAB45U7LT012345",
    "Model": "Polo Track",
    "year": 2023,
    "ModelYear": 2024,
    "Manufacturer": "VOLKSWAGEN",
    "horsePower": 84.0,
    "gasType": "Flex",
    "currentMileage": 18250.0,
    "color": " Silver ",
    "fuelCapacityLiters": 52.0,
    "metrics": {
        "engineTempCelsius": 91.0,
        "oilTempCelsius": 99.0,
        "batteryChargePerc": 88.0,
        "fuelAvailableLiters": 27.0,
        "coolantCelsius": 86.0,
        "trip": {
            "tripMileage": 42.0,
            "tripTimeMinutes": 55.0,
            "tripFuelLiters": 4.0,
            "tripMaxSpeedKm": 97.0,
            "tripAverageSpeedKm": 46.0,
            "tripStartTimestamp": "Sun, 02 Nov 2025 07:20:00",
        },
        "metricTimestamp": "Sun, 02 Nov 2025 08:15:00",
    },
    "carInsurance": {
        "number": "APL-55512031",
        "provider": "Porto Seguro",
        "validUntil": "2026-03-31",
    },
    "market": {
        "currentPrice": 89900.0,
        "currency": "BRL",
        "location": "Curitiba, PR",
        "dealer": "Auto Sul Veiculos",
        "warrantyYears": 3.0,
        "evaluator": "Tabela Fipe",
    },
    "ingestion_timestamp": dt.datetime(2025, 11, 2, 8, 15, 42, 517000, tzinfo=UTC),
    "source_bucket": LANDING,
    "source_file": "landing/car_raw.json",
}


def test_v1_sample_becomes_one_parquet_with_the_contract_schema(s3, lambda_context):
    s3.put_object(Bucket=LANDING, Key="landing/car_raw.json", Body=landing_bytes("v1_car.json"))

    result = ingestion.lambda_handler(load_event("s3_put_car_raw.json"), lambda_context)

    assert result == {
        "processed": [
            {
                "source_bucket": LANDING,
                "source_key": "landing/car_raw.json",
                "target_bucket": BRONZE,
                "target_key": CAR_RAW_KEY,
                "rows": 1,
                "bytes": len(objects(s3)[CAR_RAW_KEY]),
            }
        ],
        "quarantined": [],
        "skipped": [],
    }
    bronze = objects(s3)
    assert list(bronze) == [CAR_RAW_KEY]
    table = read_parquet(bronze[CAR_RAW_KEY])
    assert table.schema.names == V1_SCHEMA.names
    for name, expected_type in CONTRACT_FIELDS + LINEAGE_FIELDS:
        assert table.schema.field(name).type == expected_type, name
    assert table.schema.equals(V1_SCHEMA)
    assert table.to_pylist() == [CAR_ROW]


def test_integer_in_one_file_and_float_in_another_give_the_same_parquet_types(s3, lambda_context):
    # v1_car.json: all integers (18250, 84, 2024); v1_array.json: floats (18311.4, 84.0, 2024.0)
    s3.put_object(Bucket=LANDING, Key="landing/ints.json", Body=landing_bytes("v1_car.json"))
    s3.put_object(Bucket=LANDING, Key="landing/floats.json", Body=landing_bytes("v1_array.json"))

    ingestion.lambda_handler(
        event_for("landing/ints.json", etag=md5_of(landing_bytes("v1_car.json"))), lambda_context
    )
    ingestion.lambda_handler(
        event_for("landing/floats.json", etag=md5_of(landing_bytes("v1_array.json"))),
        lambda_context,
    )

    tables = {
        key.rsplit("/", 1)[1].split("-")[0]: read_parquet(b) for key, b in objects(s3).items()
    }
    assert sorted(tables) == ["floats", "ints"]
    assert tables["ints"].schema.equals(V1_SCHEMA)
    assert tables["floats"].schema.equals(V1_SCHEMA)
    assert tables["ints"]["currentMileage"].to_pylist() == [18250.0]
    assert tables["floats"]["currentMileage"].to_pylist() == [18311.4, 40210.8, 65002.0]
    assert tables["floats"]["ModelYear"].to_pylist() == [2024, 2023, 2021]  # 2024.0 -> 2024


@pytest.mark.parametrize(
    ("sample", "chassis"),
    [
        ("v1_array.json", ["9BWAB45U7LT012345", "93Y5SRD04PJ778899", "9BD358A4NYM001122"]),
        ("v1_lines.json", ["9BWAB45U7LT012345", "93Y5SRD04PJ778899", "9BD358A4NYM001122"]),
    ],
)
def test_array_and_json_lines_give_one_row_per_record(s3, lambda_context, sample, chassis):
    s3.put_object(Bucket=LANDING, Key=f"landing/{sample}", Body=landing_bytes(sample))

    event = event_for(f"landing/{sample}", etag=md5_of(landing_bytes(sample)))
    result = ingestion.lambda_handler(event, lambda_context)

    assert [p["rows"] for p in result["processed"]] == [3]
    (body,) = objects(s3).values()
    table = read_parquet(body)
    assert table["carChassis"].to_pylist() == chassis
    assert table["source_file"].to_pylist() == [f"landing/{sample}"] * 3
    assert table.schema.equals(V1_SCHEMA)


def test_array_rows_keep_missing_and_null_fields_as_nulls(s3, lambda_context):
    s3.put_object(Bucket=LANDING, Key="landing/a.json", Body=landing_bytes("v1_array.json"))

    event = event_for("landing/a.json", etag=md5_of(landing_bytes("v1_array.json")))
    ingestion.lambda_handler(event, lambda_context)

    (body,) = objects(s3).values()
    rows = read_parquet(body).to_pylist()
    assert rows[1]["carInsurance"] is None and rows[1]["market"] is None  # absent objects
    assert rows[1]["metrics"]["metricTimestamp"] == "2025-11-03T18:14:10Z"
    assert rows[2]["color"] is None
    assert rows[2]["metrics"] == {
        "engineTempCelsius": 97.0,
        "oilTempCelsius": 104.0,
        "batteryChargePerc": 64.0,
        "fuelAvailableLiters": 30.0,
        "coolantCelsius": 91.0,
        "trip": None,
        "metricTimestamp": "Mon, 03 Nov 2025 21:00:00",
    }


def test_utf8_bom_is_accepted(s3, lambda_context):
    assert landing_bytes("v1_bom.json").startswith(b"\xef\xbb\xbf")
    s3.put_object(Bucket=LANDING, Key="landing/bom.json", Body=landing_bytes("v1_bom.json"))

    event = event_for("landing/bom.json", etag=md5_of(landing_bytes("v1_bom.json")))
    result = ingestion.lambda_handler(event, lambda_context)

    assert result["quarantined"] == []
    (body,) = objects(s3).values()
    row = read_parquet(body).to_pylist()[0]
    assert (row["carChassis"], row["market"]["location"]) == ("9BGKS48U0MG334455", "São Paulo, SP")


def test_url_encoded_key_arrives_decoded(s3, lambda_context):
    s3.put_object(Bucket=LANDING, Key="landing/car raw+1.json", Body=landing_bytes("v1_car.json"))

    result = ingestion.lambda_handler(load_event("s3_put_encoded_key.json"), lambda_context)

    (processed,) = result["processed"]
    assert processed["source_key"] == "landing/car raw+1.json"
    assert processed["target_key"].startswith(
        "car_data/ingest_year=2025/ingest_month=11/ingest_day=02/car_raw_1-"
    )
    table = read_parquet(objects(s3)[processed["target_key"]])
    assert table.column("source_file").to_pylist() == ["landing/car raw+1.json"]
    assert table.column("ingestion_timestamp").to_pylist() == [
        dt.datetime(2025, 11, 2, 23, 59, 59, 999000, tzinfo=UTC)
    ]


def test_duplicate_delivery_three_times_leaves_one_identical_object(s3, lambda_context):
    s3.put_object(Bucket=LANDING, Key="landing/car_raw.json", Body=landing_bytes("v1_car.json"))
    event = load_event("s3_put_car_raw.json")

    snapshots = []
    for _ in range(3):
        ingestion.lambda_handler(copy.deepcopy(event), lambda_context)
        snapshots.append(objects(s3))

    assert [list(s) for s in snapshots] == [[CAR_RAW_KEY]] * 3
    assert snapshots[0] == snapshots[1] == snapshots[2]
    # the landing object is never deleted
    assert s3.get_object(Bucket=LANDING, Key="landing/car_raw.json")["Body"].read() == (
        landing_bytes("v1_car.json")
    )


def test_versioned_event_names_the_file_by_version_id(s3, lambda_context):
    s3.put_object(Bucket=LANDING, Key="landing/car_raw.json", Body=landing_bytes("v1_car.json"))

    result = ingestion.lambda_handler(load_event("s3_put_versioned.json"), lambda_context)

    version_key = keys.bronze_key(
        "landing/car_raw.json",
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        dt.datetime(2025, 11, 2, 8, 15, 42, 517000, tzinfo=UTC),
        source_bucket=LANDING,
    )
    assert version_key != CAR_RAW_KEY
    assert [p["target_key"] for p in result["processed"]] == [version_key]
    assert list(objects(s3)) == [version_key]


QUARANTINE_CASES = [
    (
        "malformed.json",
        "malformed JSON at line 3 column 1: Expecting property name enclosed in double quotes",
    ),
    ("empty.json", "empty file (0 bytes)"),
    ("scalar.json", "top-level JSON value is string, not an object or array"),
    ("latin1.json", "not valid UTF-8: invalid continuation byte at byte 61"),
]


@pytest.mark.parametrize(("sample", "reason"), QUARANTINE_CASES)
def test_bad_content_is_quarantined_with_its_reason(s3, lambda_context, sample, reason):
    original = landing_bytes(sample)
    key = f"landing/bad files/{sample}"
    s3.put_object(Bucket=LANDING, Key=key, Body=original)
    event = event_for(f"landing/bad+files/{sample}", etag=hashlib.md5(original).hexdigest())

    result = ingestion.lambda_handler(event, lambda_context)

    copy_key = quarantined_as(key, original)
    assert copy_key == (
        f"quarantine/2025-11-02/landing/bad files/{sample[: -len('.json')]}."
        f"{hashlib.sha256(hashlib.md5(original).hexdigest().encode()).hexdigest()[:8]}.json"
    )
    assert result == {
        "processed": [],
        "quarantined": [
            {
                "source_bucket": LANDING,
                "source_key": key,
                "target_bucket": BRONZE,
                "target_key": copy_key,
                "error_key": f"{copy_key}.error.json",
                "reason": reason,
            }
        ],
        "skipped": [],
    }
    bronze = objects(s3)
    assert sorted(bronze) == [copy_key, f"{copy_key}.error.json"]
    assert bronze[copy_key] == original
    assert json.loads(bronze[f"{copy_key}.error.json"]) == {
        "reason": reason,
        "source_bucket": LANDING,
        "source_key": key,
        "etag": hashlib.md5(original).hexdigest(),
        "version_id": None,
        "event_time": "2025-11-02T08:15:42.517000Z",
        "quarantine_key": copy_key,
        "size_bytes": len(original),
    }


def test_get_error_raises_and_writes_nothing(s3, lambda_context):
    # the landing object does not exist: GetObject fails with NoSuchKey
    with pytest.raises(ClientError, match="NoSuchKey"):
        ingestion.lambda_handler(load_event("s3_put_car_raw.json"), lambda_context)

    assert objects(s3) == {}


def test_throttled_put_raises_and_leaves_no_bronze_object(s3, lambda_context, monkeypatch):
    s3.put_object(Bucket=LANDING, Key="landing/car_raw.json", Body=landing_bytes("v1_car.json"))
    failed = fail_calls(handler_client(monkeypatch), "PutObject", "SlowDown")

    with pytest.raises(ClientError, match="SlowDown"):
        ingestion.lambda_handler(load_event("s3_put_car_raw.json"), lambda_context)

    assert failed == [CAR_RAW_KEY]
    assert objects(s3) == {}


def test_sidecar_is_written_last_and_a_retry_completes_the_quarantine(
    s3, lambda_context, monkeypatch
):
    original = landing_bytes("malformed.json")
    s3.put_object(Bucket=LANDING, Key="landing/bad.json", Body=original)
    event = event_for("landing/bad.json", etag=md5_of(original))
    copy_key = quarantined_as("landing/bad.json", original)
    failed = fail_calls(
        handler_client(monkeypatch), "PutObject", "InternalError", key_suffix=".error.json"
    )

    with pytest.raises(ClientError, match="InternalError"):
        ingestion.lambda_handler(copy.deepcopy(event), lambda_context)

    # an interrupted quarantine: the exact copy, no sidecar (so nothing claims it is complete)
    assert failed == [f"{copy_key}.error.json"]
    assert objects(s3) == {copy_key: original}

    monkeypatch.setattr(ingestion, "_STORE", None)  # the retry: a new client, healthy S3
    result = ingestion.lambda_handler(copy.deepcopy(event), lambda_context)

    assert [q["target_key"] for q in result["quarantined"]] == [copy_key]
    assert sorted(objects(s3)) == [copy_key, f"{copy_key}.error.json"]


def test_every_record_is_handled_and_non_json_keys_are_skipped(s3, lambda_context):
    s3.put_object(
        Bucket=LANDING,
        Key="landing/fleet/2025/11/03/v1_array.json",
        Body=landing_bytes("v1_array.json"),
    )
    s3.put_object(
        Bucket=LANDING,
        Key="landing/fleet/2025/11/04/V1_LINES.JSON",
        Body=landing_bytes("v1_lines.json"),
    )
    # README.txt is not uploaded: reading it would raise NoSuchKey, so a skip never reads
    event = load_event("s3_put_multiple_records.json")
    # The sample's eTags are placeholders; a real event carries the uploaded objects' ETags,
    # which the handler reads with (If-Match).
    for record, sample in zip(
        event["Records"], ("v1_array.json", None, "v1_lines.json"), strict=True
    ):
        if sample:
            record["s3"]["object"]["eTag"] = md5_of(landing_bytes(sample))

    result = ingestion.lambda_handler(event, lambda_context)

    assert [(p["source_key"], p["rows"]) for p in result["processed"]] == [
        ("landing/fleet/2025/11/03/v1_array.json", 3),
        ("landing/fleet/2025/11/04/V1_LINES.JSON", 3),
    ]
    assert result["skipped"] == [
        {
            "source_bucket": LANDING,
            "source_key": "landing/fleet/2025/11/03/README.txt",
            "reason": "not a .json key",
        }
    ]
    assert result["quarantined"] == []
    assert sorted(k.rsplit("/", 2)[1] for k in objects(s3)) == [
        "ingest_day=03",
        "ingest_day=04",
    ]


def test_unknown_fields_nested_or_not_are_kept(s3, lambda_context):
    s3.put_object(Bucket=LANDING, Key="landing/x.json", Body=landing_bytes("v1_extra_fields.json"))

    event = event_for("landing/x.json", etag=md5_of(landing_bytes("v1_extra_fields.json")))
    ingestion.lambda_handler(event, lambda_context)

    (body,) = objects(s3).values()
    table = read_parquet(body)
    tires = pa.struct(
        [(n, pa.float64()) for n in ("frontLeft", "frontRight", "rearLeft", "rearRight")]
    )
    metrics = pa.struct(list(METRICS) + [pa.field("tirePressurePsi", tires)])
    # unknown fields: as pyarrow infers them, numbers double, fields in name order
    telematics = pa.struct(
        [
            ("firmware", pa.string()),
            ("gpsFix", pa.bool_()),
            ("signalBars", pa.float64()),
            ("unitId", pa.string()),
        ]
    )
    expected_schema = pa.schema(
        [(n, metrics if n == "metrics" else t) for n, t in CONTRACT_FIELDS]
        + [("alerts", pa.list_(pa.string())), ("telematics", telematics)]
        + LINEAGE_FIELDS
    )
    assert table.schema.equals(expected_schema)
    (row,) = table.to_pylist()
    assert row["metrics"]["tirePressurePsi"] == {
        "frontLeft": 32.0,
        "frontRight": 32.5,
        "rearLeft": 30.0,
        "rearRight": 30.5,
    }
    assert row["telematics"] == {
        "unitId": "TCU-0042",
        "firmware": "4.2.0",
        "signalBars": 3.0,
        "gpsFix": True,
    }
    assert row["alerts"] == ["LOW_TIRE_PRESSURE", "SERVICE_DUE"]


def test_prefixes_come_from_the_environment(s3, lambda_context, monkeypatch):
    monkeypatch.setenv("BRONZE_PREFIX", "bronze/cars")
    monkeypatch.setenv("QUARANTINE_PREFIX", "rejected")
    s3.put_object(Bucket=LANDING, Key="landing/car_raw.json", Body=landing_bytes("v1_car.json"))
    s3.put_object(Bucket=LANDING, Key="landing/empty.json", Body=b"")

    ingestion.lambda_handler(load_event("s3_put_car_raw.json"), lambda_context)
    ingestion.lambda_handler(event_for("landing/empty.json", etag=md5_of(b"")), lambda_context)

    assert sorted(objects(s3)) == [
        CAR_RAW_KEY.replace("car_data/", "bronze/cars/"),
        quarantined_as("landing/empty.json", b"", prefix="rejected"),
        quarantined_as("landing/empty.json", b"", prefix="rejected") + ".error.json",
    ]


def test_missing_bronze_bucket_configuration_raises(s3, lambda_context, monkeypatch):
    monkeypatch.delenv("BRONZE_BUCKET")

    with pytest.raises(ValueError, match="BRONZE_BUCKET"):
        ingestion.lambda_handler(load_event("s3_put_car_raw.json"), lambda_context)


def test_local_entry_point_writes_the_same_object_as_the_handler(s3, lambda_context, tmp_path):
    s3.put_object(Bucket=LANDING, Key="landing/car_raw.json", Body=landing_bytes("v1_car.json"))
    ingestion.lambda_handler(load_event("s3_put_car_raw.json"), lambda_context)
    landing_root = tmp_path / "landing_root"
    (landing_root / "landing").mkdir(parents=True)
    local_file = landing_root / "landing" / "car_raw.json"
    local_file.write_bytes(landing_bytes("v1_car.json"))

    outcome = local_runtime.convert_local_file(
        local_file,
        tmp_path / "bronze",
        landing_root=landing_root,
        source_bucket=LANDING,  # the lineage value the handler writes
        event_time=dt.datetime(2025, 11, 2, 8, 15, 42, 517000, tzinfo=UTC),
    )

    # the event's eTag is the MD5 of the content, as convert_local_file computes it
    assert outcome["target_key"] == CAR_RAW_KEY
    assert Path(outcome["target_path"]).read_bytes() == objects(s3)[CAR_RAW_KEY]


def test_events_without_created_objects_read_and_write_nothing(s3, lambda_context):
    removed = load_event("s3_put_car_raw.json")
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2025-11-02T08:00:00.000Z",
        "Bucket": LANDING,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }

    assert ingestion.lambda_handler(test_event, lambda_context) == {
        "processed": [],
        "quarantined": [],
        "skipped": [],
    }
    assert ingestion.lambda_handler(removed, lambda_context) == {
        "processed": [],
        "quarantined": [],
        "skipped": [{"event_name": "ObjectRemoved:Delete", "reason": "not S3 ObjectCreated"}],
    }
    assert objects(s3) == {}


# ---------------------------------------------------------------------------------------------
# A landing key overwritten before its event is processed
# ---------------------------------------------------------------------------------------------

CAR_1 = landing_bytes("v1_car.json")
CAR_2 = landing_bytes("v1_bom.json")  # another car (9BGKS48U0MG334455)


def upload(s3, key: str, body: bytes) -> str:
    """Put a landing object; its ETag as an event carries it (unquoted)."""
    return s3.put_object(Bucket=LANDING, Key=key, Body=body)["ETag"].strip('"')


def test_moto_get_object_with_a_stale_if_match_fails_with_412(s3):
    # What the handler relies on: S3 (and moto) check If-Match on GetObject.
    old = upload(s3, "landing/car_raw.json", CAR_1)
    new = upload(s3, "landing/car_raw.json", CAR_2)

    current = s3.get_object(Bucket=LANDING, Key="landing/car_raw.json", IfMatch=f'"{new}"')
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=LANDING, Key="landing/car_raw.json", IfMatch=f'"{old}"')

    assert current["Body"].read() == CAR_2
    assert caught.value.response["Error"]["Code"] == "PreconditionFailed"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_overwritten_upload_gets_a_superseded_record_and_no_bronze_file(s3, lambda_context, caplog):
    etag_1 = upload(s3, "landing/car_raw.json", CAR_1)
    etag_2 = upload(s3, "landing/car_raw.json", CAR_2)  # before event 1 is processed
    event_1 = event_for("landing/car_raw.json", etag=etag_1)
    event_2 = event_for("landing/car_raw.json", etag=etag_2)
    record_key = keys.superseded_key(
        "landing/car_raw.json", etag_1, dt.datetime(2025, 11, 2, 8, 15, 42, tzinfo=UTC)
    )
    assert record_key == (
        "quarantine/2025-11-02/landing/car_raw."
        f"{hashlib.sha256(etag_1.encode()).hexdigest()[:8]}.superseded.json"
    )

    with caplog.at_level("WARNING", logger=ingestion.__name__):
        first = ingestion.lambda_handler(copy.deepcopy(event_1), lambda_context)

    # event 1 succeeds without reading CAR-2's bytes as if they were CAR-1's
    assert first == {
        "processed": [],
        "quarantined": [],
        "skipped": [
            {
                "source_bucket": LANDING,
                "source_key": "landing/car_raw.json",
                "reason": core.SUPERSEDED_REASON,
                "etag": etag_1,
                "target_bucket": BRONZE,
                "error_key": record_key,
            }
        ],
    }
    assert core.SUPERSEDED_REASON == (
        "superseded: the landing object was overwritten before this event was processed; "
        "its content is no longer readable"
    )
    assert list(objects(s3)) == [record_key]
    assert json.loads(objects(s3)[record_key]) == {
        "reason": core.SUPERSEDED_REASON,
        "source_bucket": LANDING,
        "source_key": "landing/car_raw.json",
        "etag": etag_1,
        "version_id": None,
        "event_time": "2025-11-02T08:15:42.517000Z",
        "quarantine_key": None,
    }
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert json.loads(warning.getMessage())["message"] == "superseded"

    # a redelivery of event 1 rewrites the same record; event 2 converts CAR-2, once
    ingestion.lambda_handler(copy.deepcopy(event_1), lambda_context)
    second = ingestion.lambda_handler(event_2, lambda_context)

    (processed,) = second["processed"]
    assert processed["target_key"] == keys.bronze_key(
        "landing/car_raw.json",
        etag_2,
        dt.datetime(2025, 11, 2, 8, 15, 42, 517000, tzinfo=UTC),
        source_bucket=LANDING,
    )
    bronze = objects(s3)
    assert sorted(bronze) == sorted([record_key, processed["target_key"]])
    assert read_parquet(bronze[processed["target_key"]])["carChassis"].to_pylist() == [
        "9BGKS48U0MG334455"
    ]


def test_versioned_event_of_an_overwritten_upload_is_superseded_too(s3, lambda_context):
    # With a versionId the old upload still exists, but reading it would need
    # s3:GetObjectVersion, which the function's role leaves out on purpose.
    upload(s3, "landing/car_raw.json", CAR_2)  # overwrites the upload of the event

    result = ingestion.lambda_handler(load_event("s3_put_versioned.json"), lambda_context)

    (skipped,) = result["skipped"]
    assert skipped["reason"] == core.SUPERSEDED_REASON
    assert skipped["error_key"].endswith(
        f".{hashlib.sha256(b'3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY').hexdigest()[:8]}.superseded.json"
    )
    assert json.loads(objects(s3)[skipped["error_key"]])["version_id"] == (
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    )
    assert result["processed"] == []


def test_the_handler_only_calls_get_object_and_put_object(s3, lambda_context, monkeypatch):
    # IAM: s3:GetObject on landing, s3:PutObject on the bronze prefixes; nothing else.
    calls: list[tuple[str, dict]] = []
    client = handler_client(monkeypatch)
    client.meta.events.register(
        "provide-client-params.s3.*",
        lambda params, model, **_: calls.append((model.name, dict(params))),
    )
    good = upload(s3, "landing/car_raw.json", CAR_1)
    bad = upload(s3, "landing/bad.json", landing_bytes("malformed.json"))
    stale = upload(s3, "landing/gone.json", CAR_1)
    upload(s3, "landing/gone.json", CAR_2)

    for key, etag in (("landing/car_raw.json", good), ("landing/bad.json", bad)):
        ingestion.lambda_handler(event_for(key, etag=etag), lambda_context)
    ingestion.lambda_handler(event_for("landing/gone.json", etag=stale), lambda_context)

    assert [name for name, _ in calls] == [
        "GetObject",
        "PutObject",
        "GetObject",
        "PutObject",
        "PutObject",
        "GetObject",
        "PutObject",
    ]
    gets = [params for name, params in calls if name == "GetObject"]
    assert [p["Bucket"] for p in gets] == [LANDING] * 3
    assert [p["IfMatch"] for p in gets] == [f'"{good}"', f'"{bad}"', f'"{stale}"']
    assert all("VersionId" not in p for p in gets)
    assert {p["Bucket"] for name, p in calls if name == "PutObject"} == {BRONZE}


# ---------------------------------------------------------------------------------------------
# Quarantine names, nesting, numbers and names the silver job cannot take
# ---------------------------------------------------------------------------------------------


def test_two_bad_uploads_of_one_key_on_one_day_keep_a_copy_each(s3, lambda_context):
    first, second = b'{"a": ', landing_bytes("malformed.json")
    etags = [upload(s3, "landing/bad.json", first)]
    ingestion.lambda_handler(event_for("landing/bad.json", etag=etags[0]), lambda_context)
    etags.append(upload(s3, "landing/bad.json", second))
    ingestion.lambda_handler(event_for("landing/bad.json", etag=etags[1]), lambda_context)

    copies = [quarantined_as("landing/bad.json", body) for body in (first, second)]
    assert copies[0] != copies[1]
    bronze = objects(s3)
    assert sorted(bronze) == sorted(copies + [f"{c}.error.json" for c in copies])
    assert [bronze[c] for c in copies] == [first, second]
    assert [json.loads(bronze[f"{c}.error.json"])["etag"] for c in copies] == etags
