"""The operations scripts against moto (mock_aws), and botocore's Stubber where moto does not
model the behaviour (a failing Glue run, a failing Athena query, reset_job_bookmark)."""

from __future__ import annotations

import datetime as dt
import re

import boto3
import duckdb
import pytest
import reset_bookmark
import run_glue_job
import upload_test_data
import validate_silver_athena
from botocore.stub import Stubber
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

REGION = "us-east-1"
JOB = "car-telemetry-dev-silver-consolidation"
BUCKET = "car-telemetry-dev-landing"


@pytest.fixture
def aws(monkeypatch):
    """Fake credentials and region, every AWS call answered by moto."""
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def glue(aws):
    client = boto3.client("glue", region_name=REGION)
    client.create_job(
        Name=JOB,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/job.py"},
        DefaultArguments={"--job-bookmark-option": "job-bookmark-enable"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
        GlueVersion="5.1",
    )
    return client


@pytest.fixture
def glue_run_steps():
    """Make moto's job runs move one state per get_job_run (set times) instead of at once."""

    def configure(times: int) -> None:
        state_manager.set_transition("glue::job_run", {"progression": "manual", "times": times})

    yield configure
    state_manager.unset_transition("glue::job_run")


def progress(caplog, logger: str) -> list[str]:
    return [
        re.sub(r"elapsed \d+s", "elapsed Ns", r.getMessage())
        for r in caplog.records
        if r.name == logger
    ]


# --- run_glue_job -------------------------------------------------------------------------


def test_run_glue_job_succeeds_with_progress_and_log_locations(
    glue, glue_run_steps, capsys, caplog
):
    glue_run_steps(1)  # STARTING -> RUNNING -> SUCCEEDED, one step per poll
    caplog.set_level("INFO", logger="run_glue_job")

    code = run_glue_job.main(
        ["--job-name", JOB, "--arguments", "full_refresh=true", "--poll-seconds", "0"]
    )

    assert code == 0
    run = glue.get_job_runs(JobName=JOB)["JobRuns"][0]
    run_id = run["Id"]
    assert run["Arguments"] == {
        "--job-bookmark-option": "job-bookmark-enable",
        "--full_refresh": "true",
    }
    assert progress(caplog, "run_glue_job") == [
        f"started {JOB} run {run_id} with arguments {{'--full_refresh': 'true'}}",
        f"{JOB} run {run_id}: RUNNING (elapsed Ns)",
        f"{JOB} run {run_id}: SUCCEEDED (elapsed Ns)",
    ]
    # moto reports the log group "test/log" and an execution time of 123 s for every run.
    assert capsys.readouterr().out == (
        f"job:     {JOB}\n"
        f"run id:  {run_id}\n"
        "state:   SUCCEEDED\n"
        "time:    123 s\n"
        f"logs:    test/log/output and test/log/error, log streams {run_id}-driver and\n"
        f"         {run_id}-executor<N>\n"
        f"         aws logs tail test/log/output --log-stream-names {run_id}-driver\n"
        f"         aws logs tail test/log/error --log-stream-name-prefix {run_id}\n"
        f"console: https://{REGION}.console.aws.amazon.com/gluestudio/home?region={REGION}"
        f"#/job/{JOB}/run/{run_id}\n"
    )


def _job_run(state: str, **extra) -> dict:
    started = dt.datetime(2025, 10, 29, 12, 0, tzinfo=dt.UTC)
    return {
        "JobRun": {
            "Id": "jr_0123",
            "JobName": JOB,
            "StartedOn": started,
            "JobRunState": state,
            **extra,
        }
    }


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "ERROR", "STOPPED"])
def test_run_glue_job_that_fails_exits_1_with_its_error_message(aws, capsys, state):
    # moto's job runs always succeed: Stubber plays the failing run.
    client = boto3.client("glue", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response(
        "start_job_run",
        {"JobRunId": "jr_0123"},
        {"JobName": JOB, "Arguments": {"--full_refresh": "true"}},
    )
    poll = {"JobName": JOB, "RunId": "jr_0123", "PredecessorsIncluded": False}
    stubber.add_response("get_job_run", _job_run("RUNNING"), poll)
    stubber.add_response(
        "get_job_run",
        _job_run(
            state,
            ErrorMessage="AnalysisException: Path does not exist: s3://bronze/car_data",
            ExecutionTime=61,
            LogGroupName="/aws-glue/jobs",
        ),
        poll,
    )
    stubber.add_response(
        "get_job",
        {
            "Job": {
                "Name": JOB,
                "DefaultArguments": {
                    "--enable-continuous-cloudwatch-log": "true",
                    "--continuous-log-logGroup": "/aws-glue/jobs/car-telemetry-dev",
                },
            }
        },
        {"JobName": JOB},
    )

    with stubber:
        code = run_glue_job.main(
            ["--job-name", JOB, "--arguments=--full_refresh=true", "--poll-seconds", "0"],
            client=client,
        )

    assert code == 1
    stubber.assert_no_pending_responses()
    assert capsys.readouterr().out == (
        f"job:     {JOB}\n"
        "run id:  jr_0123\n"
        f"state:   {state}\n"
        "time:    61 s\n"
        "error:   AnalysisException: Path does not exist: s3://bronze/car_data\n"
        "logs:    /aws-glue/jobs/output and /aws-glue/jobs/error, log streams jr_0123-driver and\n"
        "         jr_0123-executor<N>\n"
        "         /aws-glue/jobs/car-telemetry-dev (continuous logging), stream jr_0123\n"
        "         aws logs tail /aws-glue/jobs/output --log-stream-names jr_0123-driver\n"
        "         aws logs tail /aws-glue/jobs/error --log-stream-name-prefix jr_0123\n"
        f"console: https://{REGION}.console.aws.amazon.com/gluestudio/home?region={REGION}"
        f"#/job/{JOB}/run/jr_0123\n"
    )


def test_run_glue_job_stops_waiting_after_the_timeout_with_exit_3(glue, glue_run_steps, capsys):
    glue_run_steps(1000)  # the run stays STARTING

    code = run_glue_job.main(["--job-name", JOB, "--poll-seconds", "0", "--timeout-minutes", "0"])

    assert code == 3
    out = capsys.readouterr().out
    assert "state:   STARTING (still running: stopped waiting)\n" in out
    assert "time:" not in out


def test_run_glue_job_no_wait_returns_after_starting(glue, glue_run_steps, capsys):
    glue_run_steps(1000)

    assert run_glue_job.main(["--job-name", JOB, "--no-wait"]) == 0
    assert "state:   STARTING (started; not waiting)\n" in capsys.readouterr().out
    assert len(glue.get_job_runs(JobName=JOB)["JobRuns"]) == 1


def test_run_glue_job_of_an_unknown_job_exits_2(aws, capsys):
    code = run_glue_job.main(["--job-name", "no-such-job", "--poll-seconds", "0"])

    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: could not start a run of no-such-job: ")
    assert "EntityNotFoundException" in captured.err


def test_parse_arguments_adds_the_glue_dashes():
    assert run_glue_job.parse_arguments(["full_refresh=true", "--since=a=b", "--empty="]) == {
        "--full_refresh": "true",
        "--since": "a=b",
        "--empty": "",
    }
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        run_glue_job.parse_arguments(["full_refresh"])


@pytest.mark.parametrize(
    ("script", "argv", "message"),
    [
        ("run_glue_job", ["--job-name", "j", "--arguments", "full_refresh"], "expected KEY=VALUE"),
        (
            "validate_silver_athena",
            ["--workgroup", "w", "--database", "d", "--table", "x;y"],
            "table name",
        ),
    ],
)
def test_a_bad_argument_is_a_usage_error_before_any_aws_call(script, argv, message, capsys):
    module = {"run_glue_job": run_glue_job, "validate_silver_athena": validate_silver_athena}
    with pytest.raises(SystemExit) as exit_info:
        module[script].main(argv, client=object())  # any AWS call on it would raise
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# --- upload_test_data ---------------------------------------------------------------------


@pytest.fixture
def landing_files(tmp_path):
    source = tmp_path / "landing"
    (source / "day=29").mkdir(parents=True)
    files = {
        "car_raw_1.json": b'{"carChassis": "A", "currentMileage": 4321}\n',
        "day=29/car_raw_2.json": '{"market": {"location": "São Paulo, SP"}}\n'.encode(),
    }
    for name, body in files.items():
        (source / name).write_bytes(body)
    (source / "notes.txt").write_text("not landing data")
    single = tmp_path / "extra.json"
    single.write_bytes(b"[]\n")
    return source, single, {**files, "extra.json": b"[]\n"}


def test_upload_test_data_uploads_exactly_the_json_files(aws, landing_files, capsys):
    source, single, files = landing_files
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)

    code = upload_test_data.main(["--bucket", BUCKET, str(source), str(single)])

    assert code == 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == sorted(f"landing/{name}" for name in files)
    for name, body in files.items():
        stored = s3.get_object(Bucket=BUCKET, Key=f"landing/{name}")
        assert stored["Body"].read() == body
        assert stored["ContentType"] == "application/json"
    size = sum(len(body) for body in files.values())
    assert capsys.readouterr().out == (
        f"uploaded 3 files ({size} bytes) to s3://{BUCKET}/landing/\n"
    )


def test_upload_test_data_dry_run_uploads_nothing(aws, landing_files, capsys):
    source, _, files = landing_files
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)

    code = upload_test_data.main(["--bucket", BUCKET, "--prefix", "in", "--dry-run", str(source)])

    assert code == 0
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    size = len(files["car_raw_1.json"]) + len(files["day=29/car_raw_2.json"])
    assert capsys.readouterr().out == (
        f"{source / 'car_raw_1.json'} -> s3://{BUCKET}/in/car_raw_1.json\n"
        f"{source / 'day=29' / 'car_raw_2.json'} -> s3://{BUCKET}/in/day=29/car_raw_2.json\n"
        f"dry run: would upload 2 files ({size} bytes) to s3://{BUCKET}/in/\n"
    )


def test_upload_test_data_rejects_misuse_with_exit_2(aws, landing_files, capsys):
    source, _, _ = landing_files
    assert upload_test_data.main(["--bucket", BUCKET, str(source / "notes.txt")]) == 2
    assert upload_test_data.main(["--bucket", BUCKET, str(source / "missing")]) == 2
    assert capsys.readouterr().err == (
        f"error: {source / 'notes.txt'} is not a .json file: it would not trigger ingestion\n"
        f"error: {source / 'missing'} does not exist\n"
    )


def test_upload_test_data_to_a_missing_bucket_exits_1(aws, landing_files, capsys):
    source, _, _ = landing_files
    assert upload_test_data.main(["--bucket", "no-such-bucket", str(source)]) == 1
    assert "NoSuchBucket" in capsys.readouterr().err


# --- validate_silver_athena ---------------------------------------------------------------

WORKGROUP = "car-telemetry-dev"
DATABASE = "car_telemetry_dev"
TABLE = "silver_car_telemetry"
ATHENA_ARGS = [
    "--workgroup",
    WORKGROUP,
    "--database",
    DATABASE,
    "--table",
    TABLE,
    "--poll-seconds",
    "0",
]
# Athena lower-cases column names and repeats them as the first row of a SELECT's result.
COLUMNS = ["carchassis", "event_year", "event_month", "event_day", "row_count"]


def athena_rows(*rows: list[str]) -> list[dict]:
    return [{"Data": [{"VarCharValue": value} for value in row]} for row in [COLUMNS, *rows]]


@pytest.fixture
def athena(aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="athena-results")
    client = boto3.client("athena", region_name=REGION)
    client.create_work_group(
        Name=WORKGROUP,
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://athena-results/dev/"}},
    )

    def queue_result(rows: list[dict]) -> None:
        """The rows moto returns for the next query (moto runs no SQL)."""
        column_info = [{"Name": name, "Type": "varchar"} for name in COLUMNS]
        backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
        backend.query_results_queue.append(QueryResults(rows=rows, column_info=column_info))

    return client, queue_result


def test_validate_silver_athena_with_no_duplicates_exits_0(athena, capsys):
    client, queue_result = athena
    queue_result(athena_rows())

    assert validate_silver_athena.main(ATHENA_ARGS) == 0

    assert capsys.readouterr().out == f"OK: one row per car per day in {DATABASE}.{TABLE}\n"
    (query_id,) = client.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Query"] == validate_silver_athena.load_check_sql(DATABASE, TABLE)
    assert f'FROM "{DATABASE}"."{TABLE}"' in execution["Query"]
    assert execution["QueryExecutionContext"]["Database"] == DATABASE


def test_validate_silver_athena_with_duplicates_prints_them_and_exits_1(athena, capsys):
    _, queue_result = athena
    queue_result(
        athena_rows(
            ["9BHCR41DBSP004321", "2025", "10", "29", "3"],
            ["9BUCV5F9RKVSM49VH", "2025", "10", "28", "2"],
        )
    )

    assert validate_silver_athena.main(ATHENA_ARGS) == 1

    assert capsys.readouterr().out == (
        f"FAIL: 2 (car, day) keys hold more than one row in {DATABASE}.{TABLE} (5 rows)\n"
        "  carChassis         day         rows\n"
        "  9BUCV5F9RKVSM49VH  2025-10-28  2\n"
        "  9BHCR41DBSP004321  2025-10-29  3\n"
    )


def test_validate_silver_athena_failed_query_exits_2(aws, capsys):
    client = boto3.client("athena", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubber.add_response(
        "get_query_execution",
        {
            "QueryExecution": {
                "QueryExecutionId": "q-1",
                "Status": {
                    "State": "FAILED",
                    "StateChangeReason": "TABLE_NOT_FOUND: line 5:6: Table does not exist",
                },
            }
        },
        {"QueryExecutionId": "q-1"},
    )

    with stubber:
        code = validate_silver_athena.main(ATHENA_ARGS, client=client)

    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: the dedup check did not run: query q-1 FAILED: "
        "TABLE_NOT_FOUND: line 5:6: Table does not exist\n"
    )


def test_fetch_rows_reads_every_page_and_drops_the_header(aws):
    client = boto3.client("athena", region_name=REGION)
    metadata = {"ColumnInfo": [{"Name": n, "Type": "varchar"} for n in COLUMNS]}
    first, second = (
        athena_rows(["A", "2025", "10", "29", "2"]),
        athena_rows(["B", "2025", "10", "30", "4"])[1:],
    )
    stubber = Stubber(client)
    stubber.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": first, "ResultSetMetadata": metadata}, "NextToken": "t2"},
        {"QueryExecutionId": "q-2"},
    )
    stubber.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": second, "ResultSetMetadata": metadata}},
        {"QueryExecutionId": "q-2", "NextToken": "t2"},
    )

    with stubber:
        rows = validate_silver_athena.fetch_rows(client, "q-2")

    assert rows == [
        dict(zip(COLUMNS, ["A", "2025", "10", "29", "2"], strict=True)),
        dict(zip(COLUMNS, ["B", "2025", "10", "30", "4"], strict=True)),
    ]


def test_the_check_sql_runs_unchanged_in_duckdb():
    con = duckdb.connect()
    con.execute(f'CREATE SCHEMA "{DATABASE}"')
    con.execute(
        f'CREATE TABLE "{DATABASE}"."{TABLE}" AS SELECT * FROM (VALUES '
        "('A', 2025, 10, 9), ('A', 2025, 10, 9), ('A', 2025, 10, 10), ('B', 2025, 10, 9)) "
        "AS t(carChassis, event_year, event_month, event_day)"
    )
    cursor = con.execute(validate_silver_athena.load_check_sql(DATABASE, TABLE))
    names = [d[0] for d in cursor.description]

    duplicates = validate_silver_athena.duplicates_from_rows(
        dict(zip(names, row, strict=True)) for row in cursor.fetchall()
    )

    assert duplicates == [
        {
            "carChassis": "A",
            "event_year": "2025",
            "event_month": "10",
            "event_day": "09",
            "row_count": 2,
        }
    ]


def test_load_check_sql_refuses_names_that_break_the_quotes():
    with pytest.raises(ValueError, match="table name"):
        validate_silver_athena.load_check_sql(DATABASE, 'silver" ; DROP TABLE x; --')
    assert "${" not in validate_silver_athena.load_check_sql(DATABASE, TABLE)


def test_duplicates_from_rows_names_missing_columns():
    with pytest.raises(ValueError, match=r"lacks columns \['row_count'\]"):
        validate_silver_athena.duplicates_from_rows(
            [{"carChassis": "A", "event_year": "2025", "event_month": "10", "event_day": "29"}]
        )


# --- reset_bookmark -----------------------------------------------------------------------


def _bookmark_stubber(client, *, runs: list[str], reset_error: str | None = None) -> Stubber:
    stubber = Stubber(client)
    stubber.add_response("get_job", {"Job": {"Name": JOB}}, {"JobName": JOB})
    stubber.add_response(
        "get_job_runs",
        {
            "JobRuns": [
                {"Id": f"jr_{i}", "JobName": JOB, "JobRunState": s} for i, s in enumerate(runs)
            ]
        },
        {"JobName": JOB, "MaxResults": 25},
    )
    if reset_error:
        stubber.add_client_error(
            "reset_job_bookmark",
            reset_error,
            "Continuation for job not found",
            expected_params={"JobName": JOB},
        )
    else:
        stubber.add_response(
            "reset_job_bookmark",
            {
                "JobBookmarkEntry": {
                    "JobName": JOB,
                    "Version": 4,
                    "Run": 7,
                    "Attempt": 1,
                    "RunId": "jr_abc",
                    "JobBookmark": "{}",
                }
            },
            {"JobName": JOB},
        )
    return stubber


def test_reset_bookmark_resets_and_reports_the_old_position(aws, capsys):
    # moto does not implement reset_job_bookmark: Stubber answers, and checks the calls.
    client = boto3.client("glue", region_name=REGION)
    stubber = _bookmark_stubber(client, runs=["SUCCEEDED", "FAILED"])

    with stubber:
        code = reset_bookmark.main(["--job-name", JOB, "--yes"], client=client)

    assert code == 0
    stubber.assert_no_pending_responses()
    assert capsys.readouterr().out == (
        f"bookmark of job {JOB} reset (it was at run 7, attempt 1, run id jr_abc); "
        "the next run reads all of bronze\n"
    )


def test_reset_bookmark_without_a_bookmark_yet_exits_0(aws, capsys):
    client = boto3.client("glue", region_name=REGION)
    stubber = _bookmark_stubber(client, runs=[], reset_error="EntityNotFoundException")

    with stubber:
        assert reset_bookmark.main(["--job-name", JOB, "--yes"], client=client) == 0

    assert capsys.readouterr().out == f"job {JOB} has no bookmark yet: nothing to reset\n"


def test_reset_bookmark_refuses_while_a_run_is_in_progress(aws, capsys):
    client = boto3.client("glue", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("get_job", {"Job": {"Name": JOB}}, {"JobName": JOB})
    stubber.add_response(
        "get_job_runs", {"JobRuns": [{"Id": "jr_9", "JobRunState": "RUNNING"}]}, None
    )

    with stubber:
        assert reset_bookmark.main(["--job-name", JOB, "--yes"], client=client) == 1

    stubber.assert_no_pending_responses()  # and no reset_job_bookmark call was made
    assert capsys.readouterr().err == (
        f"error: {JOB} has a run in progress (jr_9); wait for it to end, then reset\n"
    )


@pytest.mark.parametrize("answer", ["n", "", EOFError])
def test_reset_bookmark_asks_first_and_a_no_changes_nothing(aws, capsys, answer):
    client = boto3.client("glue", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("get_job", {"Job": {"Name": JOB}}, {"JobName": JOB})
    stubber.add_response("get_job_runs", {"JobRuns": []}, None)
    prompts = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        if answer is EOFError:
            raise EOFError
        return answer

    with stubber:
        assert reset_bookmark.main(["--job-name", JOB], client=client, ask=ask) == 1

    assert prompts == [f"Reset the bookmark of {JOB}? The next run reads all bronze [y/N] "]
    assert capsys.readouterr().out == "not reset\n"


def test_reset_bookmark_of_an_unknown_job_exits_2(aws, capsys):
    assert reset_bookmark.main(["--job-name", "no-such-job", "--yes"]) == 2
    assert "EntityNotFoundException" in capsys.readouterr().err
