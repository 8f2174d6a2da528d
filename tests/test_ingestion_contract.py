"""The v1 contract (``ingest.contract``): its declaration, the contract columns and types of
bronze, numbers written as text, and how a reason quotes a value."""

import pyarrow as pa
import pytest
from bronze_factory import LINEAGE_FIELDS, V1_SCHEMA
from ingest import contract
from ingestion_helpers import CONTRACT_NAMES, LINEAGE, convert_records, table_of


def test_the_contract_declaration_is_the_bronze_schema_the_job_tests_build():
    assert contract.BRONZE_CONTRACT.equals(V1_SCHEMA)
    assert contract.LINEAGE.equals(pa.schema(LINEAGE_FIELDS))


def test_contract_columns_are_always_present_with_contract_types():
    table = table_of([{"carChassis": "C1"}])

    assert table.schema.equals(V1_SCHEMA)
    assert table.to_pylist() == [{**dict.fromkeys(CONTRACT_NAMES), "carChassis": "C1", **LINEAGE}]


def test_integral_float_year_becomes_int_and_numeric_strings_fill_number_fields():
    table = table_of(
        [
            {"year": 2024.0, "ModelYear": "2025", "currentMileage": "4321.5"},
            {"year": 2023, "ModelYear": 2024, "currentMileage": 10},
        ]
    )

    assert table.select(["year", "ModelYear", "currentMileage"]).to_pylist() == [
        {"year": 2024, "ModelYear": 2025, "currentMileage": 4321.5},
        {"year": 2023, "ModelYear": 2024, "currentMileage": 10.0},
    ]


def test_a_reason_quotes_a_number_clipped_even_one_too_long_to_print():
    huge = 10**5000  # only a record built in Python (replay, local callers) holds one
    records = [
        {"year": -(2**70)},
        {"year": huge},
        {"color": huge},
        {"currentMileage": "9" * 400},
        {b"x" * 100: 1},
        {"carChassis": "C0"},
    ]

    table, rejected = convert_records(records)

    assert rejected == [
        (0, "field 'year': -1180591620717411303424 is out of the int64 range"),
        (1, "field 'year': an integer of over 4,300 digits is out of the int64 range"),
        (2, "field 'color' must be a string per the v1 contract, got number ..."),
        (3, "field 'currentMileage': '" + "9" * 36 + "... is not a finite number"),
        (4, "field name b'" + "x" * 35 + "... is not a string"),
    ]
    assert table["carChassis"].to_pylist() == ["C0"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("١٢٣", '"١٢٣"'),  # Arabic-Indic digits: float() reads them as 123.0
        ("１２３", '"１２３"'),  # full-width digits
        ("12\u0663", '"12\u0663"'),  # one Arabic-Indic digit among ASCII ones
        ("\u00a0123", '"\u00a0123"'),  # a no-break space around ASCII digits
    ],
)
def test_numeric_text_takes_ascii_digits_only(text, shown):
    records = [
        {"carChassis": "C0", "currentMileage": " 123 ", "year": "2024"},
        {"carChassis": "BAD-1", "currentMileage": text},
        {"carChassis": "BAD-2", "year": text},
        {"carChassis": "C1", "currentMileage": "+1.5e3"},
    ]

    table, rejected = convert_records(records)

    assert rejected == [
        (1, f"field 'currentMileage' must be a number per the v1 contract, got string {shown}"),
        (2, f"field 'year' must be an integer per the v1 contract, got string {shown}"),
    ]
    assert table.select(["carChassis", "currentMileage", "year"]).to_pylist() == [
        {"carChassis": "C0", "currentMileage": 123.0, "year": 2024},
        {"carChassis": "C1", "currentMileage": 1500.0, "year": None},
    ]
