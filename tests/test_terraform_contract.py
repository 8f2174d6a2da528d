"""Contract tests between terraform/ and the code it deploys, read statically with python-hcl2.

Nothing here talks to AWS or needs the provider: the Terraform is parsed and evaluated by
tests/hcl_eval.py, and the Glue entry script and the Lambda handler are parsed with ``ast``
(the script needs pyspark to import; the contract is its module-level tuples).
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import json
import posixpath
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import hcl2
import pytest
from hcl_eval import (
    ACCOUNT,
    CATALOG,
    INGESTION,
    JOB,
    MODULES,
    MONITORING,
    REGION,
    REPO_ROOT,
    ROOT,
    ROOT_DOC,
    TF_ROOT,
    all_policy_documents,
    blocks,
    glue_job,
    job_arguments,
    jsonencode_argument,
    lambda_function,
    load_dir,
    locals_of,
    module_scope,
    named,
    raw_statements,
    role_statements,
)

GLUE_SCRIPT = REPO_ROOT / "glue_jobs" / "silver_consolidation_job.py"
PACKAGE_DIR = REPO_ROOT / "glue_jobs" / "silver_job"
LAMBDA_DIR = REPO_ROOT / "lambdas" / "ingestion"


# Glue's own job parameters ("special parameters"): everything else in default_arguments must be
# an argument the script asks getResolvedOptions for.
GLUE_RESERVED_ARGS = {
    "--additional-python-modules",
    "--auto-stats-enabled",
    "--conf",
    "--continuous-log-conversionPattern",
    "--continuous-log-logGroup",
    "--continuous-log-logStreamPrefix",
    "--custom-logGroup-prefix",
    "--custom-logStream-prefix",
    "--datalake-formats",
    "--disable-proxy-v2",
    "--enable-auto-scaling",
    "--enable-continuous-cloudwatch-log",
    "--enable-continuous-log-filter",
    "--enable-glue-datacatalog",
    "--enable-job-insights",
    "--enable-metrics",
    "--enable-observability-metrics",
    "--enable-rename-algorithm-v2",
    "--enable-s3-parquet-optimized-committer",
    "--enable-spark-ui",
    "--encryption-type",
    "--executor-cores",
    "--extra-files",
    "--extra-jars",
    "--extra-py-files",
    "--job-bookmark-option",
    "--job-language",
    "--python-modules-installer-option",
    "--spark-event-logs-path",
    "--TempDir",
    "--user-jars-first",
}


# --------------------------------------------------------------------------------------------
# Glue job <-> script
# --------------------------------------------------------------------------------------------


def script_tuples() -> dict[str, tuple[str, ...]]:
    if not GLUE_SCRIPT.exists():
        pytest.skip(f"{GLUE_SCRIPT.relative_to(REPO_ROOT)} does not exist yet")
    tree = ast.parse(GLUE_SCRIPT.read_text(), filename=str(GLUE_SCRIPT))
    wanted = {"GLUE_REQUIRED_ARGS", "GLUE_OPTIONAL_ARGS", "LOCAL_ONLY_ARGS"}
    found = {}
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        for target in targets:
            if isinstance(target, ast.Name) and target.id in wanted and node.value is not None:
                found[target.id] = tuple(ast.literal_eval(node.value))
    assert set(found) == wanted, f"script must define {sorted(wanted)}, found {sorted(found)}"
    return found


def test_job_default_arguments_are_exactly_the_scripts_arguments():
    args = script_tuples()
    keys = set(job_arguments())
    user_args = {key.removeprefix("--") for key in keys - GLUE_RESERVED_ARGS}
    expected = (set(args["GLUE_REQUIRED_ARGS"]) - {"JOB_NAME"}) | set(args["GLUE_OPTIONAL_ARGS"])
    assert user_args == expected
    assert not user_args & set(args["LOCAL_ONLY_ARGS"])
    assert all(key.startswith("--") for key in keys)


def test_job_optional_arguments_default_like_the_script():
    arguments = job_arguments()
    assert arguments["--full_refresh"] == "false"
    assert arguments["--source_timezone"] == "UTC"


def test_the_job_keeps_the_catalog_tables_terraform_defines():
    arguments = job_arguments()
    tables = blocks(CATALOG.doc, "resource", "aws_glue_catalog_table")
    assert list(tables) == ["job"]
    defined = CATALOG.value(locals_of(CATALOG.doc)["job_tables"])
    assert (
        arguments["--catalog_database"],
        arguments["--silver_table"],
        arguments["--quarantine_table"],
    ) == ("car_telemetry_dev", defined["silver"]["name"], defined["quarantine"]["name"])
    assert CATALOG.value("${var.database_name}") == "car_telemetry_dev"
    # each table's location is the path the job writes it to
    silver_bucket = CATALOG.value("${var.silver_bucket_name}")
    for table, argument in (("silver", "--silver_path"), ("quarantine", "--quarantine_path")):
        assert arguments[argument] == f"s3://{silver_bucket}/{defined[table]['prefix']}/"
    assert tables["job"]["storage_descriptor"][0]["location"] == (
        "s3://${var.silver_bucket_name}/${each.value.prefix}/"
    )


def test_job_paths_are_the_lake_layout():
    arguments = job_arguments()
    assert arguments["--bronze_path"] == "s3://bronze-bucket/car_data/"
    assert arguments["--silver_path"] == "s3://silver-bucket/car_telemetry/"
    assert arguments["--quarantine_path"] == "s3://silver-bucket/quarantine/car_telemetry/"
    job_name = "car-telemetry-dev-silver-consolidation"
    assert arguments["--TempDir"] == f"s3://glue-temp-bucket/{job_name}/temporary/"
    assert arguments["--spark-event-logs-path"] == (
        f"s3://glue-temp-bucket/{job_name}/spark-event-logs/"
    )


def test_job_runs_on_glue_5_1_with_its_own_security_configuration():
    # Glue 5.1 is Spark 3.5.6 / Python 3.11, what pyproject.toml pins and the tests run.
    job = glue_job()
    assert JOB.value(job["glue_version"]) == "5.1"
    assert job["security_configuration"] == "${var.security_configuration_name}"
    assert JOB.inputs["security_configuration_name"] == (
        "${module.encryption.glue_job_security_configuration_name}"
    )


ENCRYPTION = module_scope("encryption")


def test_job_logs_go_to_the_documented_groups_that_its_grants_and_metric_filters_cover():
    """Glue 5 writes a run's logs to <--custom-logGroup-prefix>/output and /error ("Logging for
    AWS Glue jobs"); what a security configuration with CloudWatch encryption does to those
    names is undocumented, so the job's configuration leaves CloudWatch encryption out and the
    groups are encrypted by their own KMS key instead. The crawlers' configuration keeps it."""
    configurations = blocks(ENCRYPTION.doc, "resource", "aws_glue_security_configuration")
    modes = {
        name: body["encryption_configuration"][0]["cloudwatch_encryption"][0][
            "cloudwatch_encryption_mode"
        ]
        for name, body in configurations.items()
    }
    assert modes == {"job": "DISABLED", "this": "SSE-KMS"}
    outputs = named(load_dir(MODULES / "encryption"), "output")
    assert outputs["glue_job_security_configuration_name"]["value"] == (
        "${aws_glue_security_configuration.job.name}"
    )
    assert CATALOG.inputs["security_configuration_name"] == (
        "${module.encryption.glue_security_configuration_name}"
    )
    # The names that choice implies, and the groups Terraform creates, encrypted by their key.
    prefix = job_arguments()["--custom-logGroup-prefix"]
    implied = [f"{prefix}/error", f"{prefix}/output"]
    group = blocks(JOB.doc, "resource", "aws_cloudwatch_log_group")["this"]
    assert group["for_each"] == "${toset([output, error])}"  # (python-hcl2 drops the quotes)
    created = sorted(
        dataclasses.replace(JOB, bindings={"each.key": kind}).value(group["name"])
        for kind in ("output", "error")
    )
    assert created == implied
    assert group["kms_key_id"] == "${var.kms_key_arn}"
    # CloudWatch Logs may use the key for exactly those groups (the key policy's condition).
    key_policy = blocks(ENCRYPTION.doc, "data", "aws_iam_policy_document")["key"]
    (logs,) = [
        st for st in key_policy["statement"] if st["sid"] == "CloudWatchLogsEncryptsLakeLogGroups"
    ]
    patterns = ENCRYPTION.value(logs["condition"][0]["values"])
    name_prefix = ROOT.value("${local.name_prefix}")
    for name in implied:
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
        assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), (arn, patterns)
        assert name.startswith(f"/aws-glue/jobs/{name_prefix}-")
    # The job's logs: grants are on exactly those groups (their streams), no other group.
    statements = role_statements(JOB, "role_policies")
    logs_grants = {
        (st.actions, st.resources) for st in statements if st.actions[0].startswith("logs:")
    }
    assert logs_grants == {
        (
            ("logs:CreateLogStream", "logs:PutLogEvents"),
            ('${[for group in aws_cloudwatch_log_group.this : "${group.arn}:*"]}',),
        ),
        (
            ("logs:CreateLogGroup",),
            ("${[for group in aws_cloudwatch_log_group.this : group.arn]}",),
        ),
    }
    # The metric filters read the output group, where the script's stdout (summary line) goes.
    assert MONITORING.inputs["job_log_group_name"] == (
        '${module.consolidation_job.cloudwatch_log_group_names["output"]}'
    )
    filters = blocks(MONITORING.doc, "resource", "aws_cloudwatch_log_metric_filter")
    assert {name: body["log_group_name"] for name, body in filters.items()} == {
        "summary": "${var.job_log_group_name}",
        "runs_with_data": "${var.job_log_group_name}",
    }
    outputs = named(JOB.doc, "output")
    assert outputs["cloudwatch_log_group_names"]["value"] == (
        "${{for kind , group in aws_cloudwatch_log_group.this : kind => group.name}}"
    )


def test_job_bookmarks_are_enabled():
    assert job_arguments()["--job-bookmark-option"] == "job-bookmark-enable"


def test_job_runs_one_at_a_time():
    assert glue_job()["execution_property"] == [{"max_concurrent_runs": 1}]


def package_zip_as_terraform_builds_it(target: Path) -> list[str]:
    """The job's package zip, built from its `archive_file` block as the provider would: one
    entry per `for_each` value, named and filled by the block's own expressions."""
    archive = blocks(JOB.doc, "data", "archive_file")["package"]
    source = archive["dynamic"][0]["source"]
    (body,) = source["content"]
    names = []
    with zipfile.ZipFile(target, "w") as bundle:
        for value in JOB.value(source["for_each"]):
            each = dataclasses.replace(JOB, bindings={"source.value": value})
            names.append(each.value(body["filename"]))
            bundle.writestr(names[-1], each.value(body["content"]))
    return sorted(names)


def test_glue_gets_the_entry_script_and_a_zip_of_exactly_the_package(tmp_path):
    objects = blocks(JOB.doc, "resource", "aws_s3_object")
    script, package = objects["script"], objects["package"]
    assert Path(JOB.value(script["source"])).resolve() == GLUE_SCRIPT
    assert package["source"] == "${data.archive_file.package.output_path}"
    bundle = tmp_path / "package.zip"
    names = package_zip_as_terraform_builds_it(bundle)
    assert names == sorted(f"silver_job/{p.name}" for p in PACKAGE_DIR.glob("*.py"))
    # Glue runs the script it was given, with the zip of --extra-py-files on its path.
    command = glue_job()["command"][0]
    assert command["name"] == "glueetl"
    assert JOB.value(command["script_location"]) == (
        f"s3://{JOB.value(script['bucket'])}/{JOB.value(script['key'])}"
    )
    assert job_arguments()["--extra-py-files"] == (
        f"s3://{JOB.value(package['bucket'])}/{JOB.value(package['key'])}"
    )


def test_the_entry_script_imports_with_the_zip_alone_on_its_path(tmp_path):
    """Only the two uploaded objects and site-packages: no repository folder on the path."""
    bundle = tmp_path / "package.zip"
    package_zip_as_terraform_builds_it(bundle)
    entry = tmp_path / "script"
    entry.mkdir()
    shutil.copy(GLUE_SCRIPT, entry / GLUE_SCRIPT.name)
    site = sysconfig.get_paths()["purelib"]  # pyspark, awsglue; its .pth files are not read
    probe = (
        f"import sys; sys.path[:] = [{str(entry)!r}, {str(bundle)!r}, *sys.path, {site!r}];"
        "import silver_consolidation_job, silver_job.run, silver_job.steps;"
        "print(silver_job.run.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(bundle / "silver_job" / "run.py")


def test_trigger_runs_the_job_hourly_by_default():
    trigger = blocks(JOB.doc, "resource", "aws_glue_trigger")["schedule"]
    assert JOB.value(trigger["type"]) == "SCHEDULED"
    assert JOB.value(trigger["schedule"]) == "cron(0 */1 * * ? *)"
    assert JOB.value(trigger["enabled"]) is True
    assert trigger["actions"] == [{"job_name": "${aws_glue_job.this.name}"}]


def test_failure_alerts_are_in_the_monitoring_module_and_reach_the_topic():
    # (The patterns themselves are evaluated against sample events in
    # test_terraform_monitoring.py.)
    rules = blocks(MONITORING.doc, "resource", "aws_cloudwatch_event_rule")
    targets = blocks(MONITORING.doc, "resource", "aws_cloudwatch_event_target")
    assert set(rules) == {"job_failed", "crawler_failed"}
    for name in rules:
        assert targets[name]["rule"] == f"${{aws_cloudwatch_event_rule.{name}.name}}"
        assert targets[name]["arn"] == "${aws_sns_topic.alerts.arn}"
    assert blocks(JOB.doc, "resource", "aws_cloudwatch_event_rule") == {}
    assert MONITORING.inputs["job_name"] == "${module.consolidation_job.glue_job_name}"
    assert MONITORING.inputs["crawler_names"] == "${values(module.catalog.glue_crawler_names)}"


# --------------------------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------------------------


def test_no_iam_statement_allows_a_wildcard_action():
    documents = all_policy_documents()
    assert len(documents) >= 20, "expected every module's policy documents to be found"
    offenders = []
    deny_wildcards = []
    for directory, name, document in documents:
        for body in raw_statements(document):
            assert "not_actions" not in body, f"{directory.name}/{name} uses not_actions"
            actions = body.get("actions", [])
            effect = body.get("effect", "Allow")
            wild = [a for a in actions if "*" in a]
            if wild and effect == "Allow":
                offenders.append((directory.name, name, wild))
            elif wild:
                deny_wildcards.append((directory.name, name, tuple(wild), json.dumps(body)))
    assert offenders == []
    # The only wildcard actions are the bucket policies' TLS-only denials.
    assert {(d, n, w) for d, n, w, _ in deny_wildcards} == {("storage", "tls_only", ("s3:*",))}
    assert all("aws:SecureTransport" in b or "s3:TlsVersion" in b for *_, b in deny_wildcards)


def test_every_role_policy_document_is_attached():
    for scope, policy_local in (
        (JOB, "role_policies"),
        (INGESTION, "role_policies"),
        (CATALOG, "crawler_role_policies"),
    ):
        documents = blocks(scope.doc, "data", "aws_iam_policy_document")
        attached = set(
            re.findall(r"data\.aws_iam_policy_document\.(\w+)", locals_of(scope.doc)[policy_local])
        )
        identity_documents = {
            name
            for name, body in documents.items()
            if not any("principals" in st for st in raw_statements(body))
        }
        assert attached == identity_documents


def test_job_role_keeps_exactly_its_two_catalog_tables():
    # The four calls of silver_job/catalog.py, on the table, its database and the catalog (every
    # Data Catalog action needs all three); no other table, no other action.
    statements = role_statements(JOB, "role_policies")
    glue = [st for st in statements if any(a.startswith("glue:") for a in st.actions)]
    assert [(st.actions, st.resources) for st in glue] == [
        (
            (
                "glue:BatchCreatePartition",
                "glue:GetPartitions",
                "glue:GetTable",
                "glue:UpdateTable",
            ),
            (
                f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog",
                f"arn:aws:glue:{REGION}:{ACCOUNT}:database/car_telemetry_dev",
                f"arn:aws:glue:{REGION}:{ACCOUNT}:table/car_telemetry_dev/silver_car_telemetry",
                f"arn:aws:glue:{REGION}:{ACCOUNT}:table/car_telemetry_dev/"
                "silver_car_telemetry_quarantine",
            ),
        )
    ]
    # the job's code calls exactly those (its client, spied on moto: test_silver_catalog.py)
    source = (PACKAGE_DIR / "catalog.py").read_text()
    called = set(re.findall(r"self\.client\.(\w+)\(", source)) - {"get_paginator"}
    called |= set(re.findall(r'get_paginator\("(\w+)"\)', source))
    assert sorted(called) == [
        "batch_create_partition",
        "get_partitions",
        "get_table",
        "update_table",
    ]


def test_lambda_role_uses_no_other_services_than_s3_sqs_and_logs():
    # Which S3 requests it may make is tests/test_iam_behaviour.py's business.
    statements = role_statements(INGESTION, "role_policies")
    assert sorted({a for st in statements for a in st.actions}) == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:PutObject",
        "sqs:SendMessage",
    ]
    queue_statements = [st for st in statements if "sqs:SendMessage" in st.actions]
    assert [st.resources for st in queue_statements] == [("${aws_sqs_queue.failures.arn}",)]


# --------------------------------------------------------------------------------------------
# Ingestion Lambda <-> handler
# --------------------------------------------------------------------------------------------


def test_lambda_handler_names_a_function_that_exists():
    handler = INGESTION.value(lambda_function()["handler"])
    module_name, function_name = handler.rsplit(".", 1)
    source_dir = Path(
        INGESTION.value(blocks(INGESTION.doc, "data", "archive_file")["this"]["source_dir"])
    )
    assert source_dir.resolve() == LAMBDA_DIR
    module_file = LAMBDA_DIR / f"{module_name.replace('.', '/')}.py"
    if not module_file.exists():
        pytest.skip(f"{module_file.relative_to(REPO_ROOT)} does not exist yet")
    tree = ast.parse(module_file.read_text(), filename=str(module_file))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert handler == "handler.lambda_handler"
    assert function_name in functions


def test_lambda_runtime_sizing_and_environment():
    function = lambda_function()
    assert INGESTION.value(function["runtime"]) == "python3.12"
    assert INGESTION.value(function["memory_size"]) == 512
    assert INGESTION.value(function["timeout"]) == 120
    assert INGESTION.value(function["environment"][0]["variables"]) == {
        "BRONZE_BUCKET": "bronze-bucket",
        "BRONZE_PREFIX": "car_data",
        "QUARANTINE_PREFIX": "quarantine",
    }
    assert INGESTION.inputs["layer_arns"] == ["${local.aws_sdk_pandas_layer_arn}"]


def test_lambda_package_excludes_bytecode():
    archive = blocks(INGESTION.doc, "data", "archive_file")["this"]
    assert INGESTION.value(archive["excludes"]) == [
        "**/__pycache__",
        "**/__pycache__/**",
        "**/*.pyc",
    ]


def test_landing_trigger_is_json_objects_with_a_scoped_permission():
    notification = blocks(INGESTION.doc, "resource", "aws_s3_bucket_notification")["landing"]
    target = notification["lambda_function"]
    assert target == [
        {
            "lambda_function_arn": "${aws_lambda_function.this.arn}",
            "events": ["s3:ObjectCreated:*"],
            "filter_suffix": "${local.landing_suffix}",
        }
    ]
    assert INGESTION.value(notification["bucket"]) == "landing-bucket"
    assert notification["depends_on"] == ["${aws_lambda_permission.landing}"]
    permission = blocks(INGESTION.doc, "resource", "aws_lambda_permission")["landing"]
    assert INGESTION.value(permission["principal"]) == "s3.amazonaws.com"
    assert INGESTION.value(permission["source_arn"]) == "arn:aws:s3:::landing-bucket"
    assert INGESTION.value(permission["source_account"]) == ACCOUNT


def test_failed_events_go_to_the_queue_after_retries():
    config = blocks(INGESTION.doc, "resource", "aws_lambda_function_event_invoke_config")["this"]
    assert INGESTION.value(config["maximum_retry_attempts"]) == 2
    assert config["destination_config"] == [
        {"on_failure": [{"destination": "${aws_sqs_queue.failures.arn}"}]}
    ]


def test_old_cleansing_lambda_and_bronze_trigger_are_absent():
    functions, notifications = [], []
    for directory in [TF_ROOT, *sorted(p for p in MODULES.iterdir() if p.is_dir())]:
        doc = load_dir(directory)
        functions += [(directory.name, n) for n in blocks(doc, "resource", "aws_lambda_function")]
        notifications += [
            (directory.name, n) for n in blocks(doc, "resource", "aws_s3_bucket_notification")
        ]
    assert functions == [("ingestion", "this")]
    assert notifications == [("ingestion", "landing")]


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


def test_crawlers_target_the_tables_with_the_contract_names():
    crawler = blocks(CATALOG.doc, "resource", "aws_glue_crawler")["this"]
    settings = CATALOG.value(locals_of(CATALOG.doc)["crawlers"])
    expected = {
        "bronze": ("bronze-bucket", "car_data", "bronze_car_data"),
        "silver": ("silver-bucket", "car_telemetry", "silver_car_telemetry"),
    }
    for layer, (bucket, prefix, table) in expected.items():
        assert settings[layer]["bucket_name"] == bucket
        assert settings[layer]["prefix"] == prefix
        assert settings[layer]["table_name"] == table
        # table_prefix = table name minus the folder the crawler names the table after
        assert table.removesuffix(posixpath.basename(prefix)) + prefix == table
    assert crawler["table_prefix"] == (
        "${trimsuffix(each.value.table_name, basename(each.value.prefix))}"
    )
    assert crawler["s3_target"][0]["path"] == "s3://${each.value.bucket_name}/${each.value.prefix}/"
    assert crawler["schema_change_policy"] == [
        {"update_behavior": "${each.value.update_behavior}", "delete_behavior": "LOG"}
    ]
    assert crawler["recrawl_policy"] == [{"recrawl_behavior": "${each.value.recrawl_behavior}"}]
    # bronze: only folders added since the last crawl (AWS requires LOG with it); the optional
    # silver crawler may add columns, which needs a full crawl
    policies = {
        layer: (s["recrawl_behavior"], s["update_behavior"]) for layer, s in settings.items()
    }
    assert policies == {
        "bronze": ("CRAWL_NEW_FOLDERS_ONLY", "LOG"),
        "silver": ("CRAWL_EVERYTHING", "UPDATE_IN_DATABASE"),
    }
    assert crawler["for_each"] == "${local.enabled_crawlers}"
    assert locals_of(CATALOG.doc)["enabled_crawlers"] == (
        '${{for layer , crawler in local.crawlers : layer => crawler if layer == "bronze" || '
        "var.silver_crawler_enabled}}"
    )
    assert ROOT.var("silver_crawler_enabled") is False
    assert CATALOG.inputs["silver_crawler_enabled"] == "${var.silver_crawler_enabled}"


def test_quarantine_is_outside_the_crawled_silver_path():
    silver = "s3://silver-bucket/car_telemetry/"
    assert not job_arguments()["--quarantine_path"].startswith(silver)


def test_crawler_configuration_keeps_partitions_consistent():
    crawler = blocks(CATALOG.doc, "resource", "aws_glue_crawler")["this"]
    assert jsonencode_argument(crawler["configuration"]) == {
        "Version": 1.0,
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
        "CrawlerOutput": {
            "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
            "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
        },
        "CreatePartitionIndex": "${each.value.create_partition_index}",
    }
    settings = CATALOG.value(locals_of(CATALOG.doc)["crawlers"])
    # bronze: the crawler creates table and index; silver: both are defined in Terraform
    assert settings["bronze"]["create_partition_index"] is True
    assert settings["silver"]["create_partition_index"] is False


def test_named_query_is_the_repositorys_duplicates_check():
    query = blocks(CATALOG.doc, "resource", "aws_athena_named_query")["silver_duplicates_check"]
    sql_path = Path(CATALOG.value("${var.duplicates_check_query_path}"))
    assert sql_path.resolve() == TF_ROOT / "queries" / "silver_duplicates_check.sql"
    assert query["query"] == (
        "${templatefile(var.duplicates_check_query_path, "
        '{"database": "${aws_glue_catalog_database.this.name}", '
        '"table": "${var.silver_table_name}"})}'
    )
    assert CATALOG.value("${var.silver_table_name}") == "silver_car_telemetry"
    sql = sql_path.read_text()
    assert '"${database}"."${table}"' in sql
    assert set(re.findall(r"\$\{(\w+)\}", sql)) == {"database", "table"}


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_cutoff():
    workgroup = blocks(CATALOG.doc, "resource", "aws_athena_workgroup")["this"]
    configuration = workgroup["configuration"][0]
    assert CATALOG.value(configuration["enforce_workgroup_configuration"]) is True
    assert CATALOG.value(configuration["bytes_scanned_cutoff_per_query"]) == 10 * 1024**3
    result = configuration["result_configuration"][0]
    assert CATALOG.value(result["output_location"]) == "s3://athena-results-bucket/results/"
    assert result["encryption_configuration"] == [
        {
            "encryption_option": '${var.s3_kms_key_arn == null ? "SSE_S3" : "SSE_KMS"}',
            "kms_key_arn": "${var.s3_kms_key_arn}",
        }
    ]


def test_tfvars_example_sets_only_declared_variables_with_their_types():
    with (TF_ROOT / "terraform.tfvars.example").open() as handle:
        example = hcl2.load(handle)
    variables = named(ROOT_DOC, "variable")
    assert set(example) <= set(variables)
    python_types = {"string": str, "number": (int, float), "bool": bool, "map(string)": dict}
    for name, value in example.items():
        declared = variables[name]["type"].removeprefix("${").removesuffix("}")
        assert isinstance(value, python_types[declared]), (name, value, declared)


def test_the_ingestion_benchmark_estimates_the_lambda_terraform_deploys():
    # bench_ingestion.py turns local CPU into a Lambda estimate with the function's memory and
    # judges it against its timeout: both must be what Terraform deploys by default
    import bench_ingestion

    function = ("resource", "aws_lambda_function", "this")
    deployed = [INGESTION.attribute(*function, arg) for arg in ("memory_size", "timeout")]
    assert deployed == [bench_ingestion.LAMBDA_MEMORY_MB, bench_ingestion.LAMBDA_TIMEOUT_S]
