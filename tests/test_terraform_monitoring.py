"""Alerts, metrics, the layer lookup and the catalog settings that only a real account exercises.

EventBridge patterns are evaluated against sample events of the shapes AWS documents (the
EventBridge reference, "AWS Glue events") with moto's event-pattern matcher; the metric filters
are checked against a run summary line of the job's documented shape.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest
from hcl_eval import (
    CATALOG,
    INGESTION,
    JOB,
    MONITORING,
    ROOT,
    ROOT_DOC,
    blocks,
    job_arguments,
    jsonencode_argument,
    lambda_function,
    load_dir,
    locals_of,
    module_scope,
    named,
)
from moto.events.models import EventPattern

REPO_ROOT = Path(__file__).resolve().parents[1]
JOB_NAME = "car-telemetry-dev-silver-consolidation"
CRAWLERS = ["car-telemetry-dev-bronze", "car-telemetry-dev-silver"]

# The AWS SDK for pandas releases this project can pin, with what their python3.12 layer ships:
# pyarrow is built from the ARROW_VERSION of the release's building/lambda/build-lambda-layer.sh;
# pandas is resolved by pip at build time under the release's "pandas<3.0.0" bound.
LAYER_RELEASES = {"3.15.1": {"pyarrow": "20.0.0", "pandas": "2.3.3"}}


def rule_pattern(name: str) -> EventPattern:
    rule = blocks(MONITORING.doc, "resource", "aws_cloudwatch_event_rule")[name]
    pattern = jsonencode_argument(rule["event_pattern"])
    resolved = json.loads(
        json.dumps(pattern)
        .replace('"${var.job_name}"', json.dumps(JOB_NAME))
        .replace('"${var.crawler_names}"', json.dumps(CRAWLERS))
    )
    assert "${" not in json.dumps(resolved), resolved
    return EventPattern.load(json.dumps(resolved))


def job_event(state: str, job: str = JOB_NAME) -> dict:
    return {
        "version": "0",
        "id": "abcdef00-1234-5678-9abc-def012345678",
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": "123456789012",
        "time": "2025-11-02T09:00:42Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "jobName": job,
            "severity": "ERROR" if state in ("FAILED", "TIMEOUT") else "INFO",
            "state": state,
            "jobRunId": "jr_0123abcd",
            "message": "Command failed with exit code 1",
        },
    }


def crawler_event(state: str, crawler: str) -> dict:
    detail = {
        "crawlerName": crawler,
        "accountId": "123456789012",
        "cloudWatchLogLink": "https://console.aws.amazon.com/cloudwatch/home",
        "state": state,
        "message": f"Crawler {state}",
    }
    if state == "Failed":
        detail["errorMessage"] = "Internal Service Exception"
    return {
        "version": "0",
        "id": "f7965b59-470f-2e06-bb89-a8cebaabefac",
        "detail-type": "Glue Crawler State Change",
        "source": "aws.glue",
        "account": "123456789012",
        "time": "2025-11-02T09:45:08Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@pytest.mark.parametrize(
    ("state", "alerts"),
    [
        ("FAILED", True),
        ("TIMEOUT", True),
        ("STOPPED", True),
        ("SUCCEEDED", False),
        ("RUNNING", False),
        ("STARTING", False),
    ],
)
def test_job_rule_matches_failed_timed_out_and_stopped_runs(state, alerts):
    assert rule_pattern("job_failed").matches_event(job_event(state)) is alerts


def test_job_rule_ignores_other_jobs():
    assert not rule_pattern("job_failed").matches_event(job_event("FAILED", job="other-job"))


@pytest.mark.parametrize("crawler", CRAWLERS)
def test_crawler_rule_matches_a_failed_crawl_of_each_crawler(crawler):
    pattern = rule_pattern("crawler_failed")
    assert pattern.matches_event(crawler_event("Failed", crawler))
    assert not pattern.matches_event(crawler_event("Succeeded", crawler))
    assert not pattern.matches_event(crawler_event("Started", crawler))


def test_crawler_rule_ignores_other_crawlers_and_the_crawler_names_are_the_catalogs():
    assert not rule_pattern("crawler_failed").matches_event(crawler_event("Failed", "other"))
    crawler = blocks(CATALOG.doc, "resource", "aws_glue_crawler")["this"]
    assert crawler["name"] == "${var.name_prefix}-${each.key}"
    layers = set(CATALOG.value(locals_of(CATALOG.doc)["crawlers"]))
    assert sorted(f"{CATALOG.var('name_prefix')}-{layer}" for layer in layers) == CRAWLERS


def test_topic_policy_lets_both_rules_and_the_alarms_publish():
    policy = blocks(MONITORING.doc, "data", "aws_iam_policy_document")["alerts_topic"]
    events, alarms = policy["statement"]
    assert events["condition"][0]["values"] == [
        "${aws_cloudwatch_event_rule.job_failed.arn}",
        "${aws_cloudwatch_event_rule.crawler_failed.arn}",
    ]
    assert alarms["principals"][0]["identifiers"] == ["cloudwatch.amazonaws.com"]
    ingestion_call = named(ROOT_DOC, "module")["ingestion"]
    assert ingestion_call["alarm_topic_arn"] == "${module.monitoring.sns_topic_arn}"


# --------------------------------------------------------------------------------------------
# Metrics from the run summary line
# --------------------------------------------------------------------------------------------

SUMMARY = {
    "event": "silver_run_summary",
    "job": JOB_NAME,
    "status": "ok",
    "mode": "incremental",
    "bronze_files_read": 3,
    "bronze_records_read": 1200,
    "rows_rejected_total": 7,
    "rows_rejected": {"blank_carChassis": 4, "bad_metricTimestamp": 3},
    "rows_after_dedup": 310,
    "partitions_written_count": 2,
    "partitions_written": ["event_year=2025/event_month=11/event_day=02"],
    "run_seconds": 84.2,
    "values_rescued_total": 0,
    "recovered_run": None,
}


def selectors(pattern: str) -> list[tuple[str, str, str]]:
    """(field, operator, operand) of each comparison of a JSON metric filter pattern."""
    assert pattern.startswith("{") and pattern.endswith("}"), pattern
    return re.findall(r'\$\.(\w+)\s*(=|!=|>=|<=|>|<)\s*("[^"]*"|[\d.]+|\*)', pattern)


def holds(field: str, operator: str, operand: str, event: dict) -> bool:
    value = event.get(field)
    if operand.startswith('"'):
        assert operator in ("=", "!=")
        return (value == operand.strip('"')) == (operator == "=")
    if operand == "*":
        return field in event
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return {
        "=": value == float(operand),
        "!=": value != float(operand),
        ">": value > float(operand),
        "<": value < float(operand),
        ">=": value >= float(operand),
        "<=": value <= float(operand),
    }[operator]


def metric_filters() -> dict[str, dict]:
    """{metric name: {pattern, value, log_group}} of every metric filter, evaluated."""
    resources = blocks(MONITORING.doc, "resource", "aws_cloudwatch_log_metric_filter")
    found = {}
    summary_metrics = locals_of(MONITORING.doc)["summary_metrics"]
    for metric, field in summary_metrics.items():
        body = resources["summary"]
        pattern = body["pattern"].replace("${each.value}", field)
        value = body["metric_transformation"][0]["value"].replace("${each.value}", field)
        found[metric] = {"pattern": pattern, "value": value, "log_group": body["log_group_name"]}
    body = resources["runs_with_data"]
    found["runs_with_data"] = {
        "pattern": body["pattern"],
        "value": body["metric_transformation"][0]["value"],
        "log_group": body["log_group_name"],
    }
    return found


def test_metric_filters_publish_the_issues_metrics_from_the_summary_fields():
    filters = metric_filters()
    assert set(filters) == {
        "rows_rejected",
        "rows_after_dedup",
        "bronze_records_read",
        "partitions_written",
        "run_seconds",
        "runs_with_data",
    }
    for metric, spec in filters.items():
        assert all(holds(*sel, SUMMARY) for sel in selectors(spec["pattern"])), metric
        assert ("event", "=", '"silver_run_summary"') in selectors(spec["pattern"])
        if spec["value"].startswith("$."):
            value = SUMMARY[spec["value"][2:]]
            assert isinstance(value, int | float) and not isinstance(value, bool), metric
        else:
            assert spec["value"] == "1"
        assert spec["log_group"] == "${var.job_log_group_name}"


def test_freshness_counts_only_successful_runs_that_read_data():
    pattern = metric_filters()["runs_with_data"]["pattern"]
    assert all(holds(*sel, SUMMARY) for sel in selectors(pattern))
    for changed in ({"status": "no_new_data"}, {"bronze_records_read": 0}, {"event": "other"}):
        assert not all(holds(*sel, {**SUMMARY, **changed}) for sel in selectors(pattern))


def test_metric_filters_read_the_log_group_that_receives_the_jobs_stdout():
    assert MONITORING.inputs["job_log_group_name"] == (
        '${module.consolidation_job.cloudwatch_log_group_names["output"]}'
    )
    group = blocks(JOB.doc, "resource", "aws_cloudwatch_log_group")["this"]
    prefix = job_arguments()["--custom-logGroup-prefix"]
    assert prefix == f"/aws-glue/jobs/{JOB_NAME}"
    assert group["name"] == "${local.log_group_prefix}/${each.key}"
    assert JOB.value(locals_of(JOB.doc)["log_group_prefix"]) == prefix


def test_the_lake_key_lets_cloudwatch_logs_encrypt_the_job_log_groups():
    encryption = module_scope("encryption")
    key = blocks(encryption.doc, "data", "aws_iam_policy_document")["key"]
    (logs,) = [
        st for st in key["statement"] if st.get("sid") == "CloudWatchLogsEncryptsLakeLogGroups"
    ]
    patterns = [encryption.value(v) for v in logs["condition"][0]["values"]]
    for kind in ("output", "error"):
        group_arn = (
            f"arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/jobs/{JOB_NAME}/{kind}"
        )
        assert any(fnmatch.fnmatchcase(group_arn, p) for p in patterns), (group_arn, patterns)


def test_alarms_on_reject_rate_and_freshness():
    alarms = blocks(MONITORING.doc, "resource", "aws_cloudwatch_metric_alarm")
    reject = alarms["reject_rate"]
    queries = {q["id"]: q for q in reject["metric_query"]}
    assert queries["reject_rate"]["expression"] == "IF(read > 0, rejected / read, 0)"
    assert queries["rejected"]["metric"][0]["metric_name"] == "rows_rejected"
    assert queries["read"]["metric"][0]["metric_name"] == "bronze_records_read"
    assert reject["threshold"] == "${var.reject_rate_threshold}"
    assert reject["alarm_actions"] == ["${aws_sns_topic.alerts.arn}"]

    fresh = alarms["freshness"]
    assert fresh["metric_name"] == "runs_with_data"
    assert fresh["period"] == "${var.freshness_hours * 3600}"
    assert fresh["treat_missing_data"] == "breaching"
    assert fresh["comparison_operator"] == "LessThanThreshold"
    assert fresh["alarm_actions"] == ["${aws_sns_topic.alerts.arn}"]
    assert MONITORING.value(MONITORING.inputs["freshness_hours"]) == 3


def test_dashboard_shows_the_job_metrics_and_the_lambdas_errors_and_duration():
    dashboard = blocks(MONITORING.doc, "resource", "aws_cloudwatch_dashboard")["this"]
    body = jsonencode_argument(dashboard["dashboard_body"])
    shown = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            names = [m for m in metric if isinstance(m, str)]
            shown.add((names[0], names[1]))
    namespace = "${local.namespace}"
    for name in ("rows_rejected", "rows_after_dedup", "bronze_records_read"):
        assert (namespace, name) in shown
    assert (namespace, "partitions_written") in shown and (namespace, "run_seconds") in shown
    assert ("AWS/Lambda", "Errors") in shown and ("AWS/Lambda", "Duration") in shown
    assert MONITORING.inputs["lambda_function_name"] == "${module.ingestion.lambda_function_name}"


# --------------------------------------------------------------------------------------------
# The layer
# --------------------------------------------------------------------------------------------


def test_layer_is_looked_up_in_the_deployment_region_from_the_public_ssm_parameter():
    parameter = blocks(ROOT_DOC, "data", "aws_ssm_parameter")["aws_sdk_pandas_layer"]
    function = lambda_function()
    runtime = INGESTION.value(function["runtime"])
    (architecture,) = INGESTION.value(function["architectures"])
    assert parameter["name"] == (
        f"/aws/service/aws-sdk-pandas/${{var.aws_sdk_pandas_version}}/"
        f"py{runtime.removeprefix('python')}/{architecture}/layer-arn"
    )
    assert parameter["count"] == "${var.aws_sdk_pandas_layer_arn == null ? 1 : 0}"
    assert ROOT.var("aws_sdk_pandas_layer_arn") is None  # the override is opt-in
    assert locals_of(ROOT_DOC)["aws_sdk_pandas_layer_arn"] == (
        "${coalesce(var.aws_sdk_pandas_layer_arn, "
        "one(data.aws_ssm_parameter.aws_sdk_pandas_layer[*].insecure_value))}"
    )


def test_pyproject_pins_the_pyarrow_and_pandas_of_the_layer_release():
    release = ROOT.var("aws_sdk_pandas_version")
    assert release in LAYER_RELEASES, f"add {release}'s pyarrow/pandas to LAYER_RELEASES"
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = dict(dep.split("==") for dep in pyproject["project"]["dependencies"] if "==" in dep)
    assert {name: pins[name] for name in ("pyarrow", "pandas")} == LAYER_RELEASES[release]


def test_a_layer_of_another_region_fails_at_plan():
    function = lambda_function()
    (condition,) = function["lifecycle"][0]["precondition"]
    assert condition["condition"] == (
        '${alltrue([for arn in var.layer_arns : split(":", arn)[3] == '
        "data.aws_region.current.region])}"
    )


# --------------------------------------------------------------------------------------------
# The catalog: partition pruning, crawl timing, exclusions
# --------------------------------------------------------------------------------------------


def test_both_job_tables_have_a_partition_index_partition_filtering_and_compression_type():
    table = blocks(CATALOG.doc, "resource", "aws_glue_catalog_table")["job"]
    assert table["for_each"] == "${local.job_tables}"
    defined = CATALOG.value(locals_of(CATALOG.doc)["job_tables"])
    assert {t: (d["name"], d["partition_keys"], d["prefix"]) for t, d in defined.items()} == {
        "silver": (
            "silver_car_telemetry",
            ["event_year", "event_month", "event_day"],
            "car_telemetry",
        ),
        "quarantine": (
            "silver_car_telemetry_quarantine",
            ["ingest_year", "ingest_month", "ingest_day"],
            "quarantine/car_telemetry",
        ),
    }
    assert table["name"] == "${each.value.name}"
    # "none": what a crawler writes for Parquet, so an optional crawl changes nothing
    assert table["parameters"] == {
        "classification": "parquet",
        "compressionType": "none",
        "partition_filtering.enabled": "true",
    }
    (keys,) = table["dynamic"]
    assert keys["partition_keys"]["for_each"] == "${each.value.partition_keys}"
    assert keys["partition_keys"]["content"] == [
        {"name": "${partition_keys.value}", "type": "string"}  # zero-padded strings
    ]
    assert table["partition_index"] == [
        {"index_name": "${each.value.index_name}", "keys": "${each.value.partition_keys}"}
    ]
    settings = CATALOG.value(locals_of(CATALOG.doc)["crawlers"])["silver"]
    assert (defined["silver"]["prefix"], CATALOG.value("${var.silver_bucket_name}")) == (
        settings["prefix"],
        settings["bucket_name"],
    )


def test_no_crawl_waits_on_the_job_and_silver_is_not_crawled_by_default():
    # The job registers its partitions as it commits; a conditional trigger would only fire for
    # runs a trigger started (AWS Glue developer guide, "AWS Glue triggers").
    assert blocks(CATALOG.doc, "resource", "aws_glue_trigger") == {}
    assert "silver_crawl_after_job_name" not in named(CATALOG.doc, "variable")
    assert CATALOG.var("silver_crawler_enabled") is False
    assert ROOT.var("silver_crawler_schedule") is None
    assert CATALOG.var("silver_crawler_schedule") is None


@pytest.mark.parametrize(
    "relative_key",
    [
        "_temporary/0/_temporary/attempt_0/part-00000.parquet",
        "event_year=2025/_temporary/0/part-00000.parquet",
        ".spark-staging-4f1c/event_year=2025/event_month=11/event_day=02/part-00000.parquet",
        "event_year=2025/event_month=11/event_day=02/_SUCCESS",
        "event_year=2025/event_month=11/event_day=02/.part-00000.parquet.crc",
        "event_year=2025/event_month=11_$folder$",
        "_commits/run/silver/part-00000.parquet",
    ],
)
def test_silver_crawler_excludes_what_is_not_table_data(relative_key):
    exclusions = CATALOG.value(locals_of(CATALOG.doc)["crawlers"])["silver"]["exclusions"]
    # Glue exclusion globs: ** crosses folders, * stays within one; fnmatch's * crosses both,
    # so this checks the patterns' intent, not Glue's exact matcher (see the checklist).
    assert any(fnmatch.fnmatchcase(relative_key, pattern) for pattern in exclusions)
    assert not any(
        fnmatch.fnmatchcase("event_year=2025/event_month=11/event_day=02/part-00000.parquet", p)
        for p in exclusions
    )


def test_monitoring_module_has_the_standard_files():
    path = REPO_ROOT / "terraform" / "modules" / "monitoring"
    assert {p.name for p in path.iterdir()} >= {
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "README.md",
    }
    assert "provider" not in load_dir(path)
