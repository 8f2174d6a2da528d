"""Deterministic synthetic landing files of the v1 car-telemetry contract (DESIGN.md §2).

Every car in the fleet drives every day; each car sends ``readings_per_day`` readings a day
between 06:00 and 22:00 UTC, and its odometer (``currentMileage``) grows with every trip, so
"highest mileage of the day" picks the day's last reading. On top of that clean stream:

* ``duplicate_rate`` - that share of all records are re-sent copies of an earlier reading of the
  same car on the same day: every other one byte-identical, the others differing only by a
  later ``metricTimestamp`` (same day, same mileage: the dedup's tie-break decides);
* ``bad_rate`` - that share of all records are made bad in one of the ways the pipeline
  rejects, the kinds of ``BAD_KINDS`` taken in turn (round-robin over the bad records in slot
  order): blank ``carChassis``, missing or unparsable ``metricTimestamp``, missing or negative
  ``currentMileage``.

Both counts are ``share(total, rate)``: ``total * rate`` rounded half up, where
``total = cars * days * readings_per_day`` is the number of records written. A bad record is
never the source of a duplicate, so the clean part of the stream stays easy to reason about.

The same arguments give byte-identical files: every random draw comes from ``random.Random``
seeded with a string derived from ``seed`` (car ``i`` is the same car whatever ``cars`` and
``days`` are), timestamps are formatted with fixed English day and month tables (never the
locale), and files are written as UTF-8 bytes with ``\\n`` line ends.

Usage::

    python scripts/local/generate_telemetry.py --out lake/landing --cars 5 --days 3 --seed-example
    python scripts/local/generate_telemetry.py --out /tmp/landing --cars 5000 --days 1 \\
        --readings-per-day 4 --format jsonl --records-per-file 1000 --bad-rate 0.01

or from Python: ``generate(out_dir, cars=5, days=3, ...)``, ``iter_records(...)`` (records with
the kind each one was given, for tests and benchmarks) and ``seed_example(out_dir)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import random
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

LOG = logging.getLogger("generate_telemetry")

# Fixed tables: the producer writes English abbreviations whatever the machine's locale is.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

FORMATS = ("object", "array", "jsonl")
FILE_PREFIX = "car_telemetry_"
FILE_SUFFIX = ".json"  # also for JSON Lines: the landing bucket's notification filters *.json

DEFAULT_START_DATE = date(2025, 10, 27)  # with the default 3 days, covers the seed's 29 Oct
DEFAULT_SEED = 42

# Kinds of records, as returned by iter_records(). Bad kinds map to the silver reject reasons.
KIND_OK = "ok"
KIND_DUPLICATE = "duplicate"
BAD_BLANK_CHASSIS = "blank_chassis"
BAD_MISSING_TIMESTAMP = "missing_metric_timestamp"
BAD_UNPARSABLE_TIMESTAMP = "unparsable_metric_timestamp"
BAD_MISSING_MILEAGE = "missing_current_mileage"
BAD_NEGATIVE_MILEAGE = "negative_current_mileage"
BAD_KINDS = (
    BAD_BLANK_CHASSIS,
    BAD_MISSING_TIMESTAMP,
    BAD_UNPARSABLE_TIMESTAMP,
    BAD_MISSING_MILEAGE,
    BAD_NEGATIVE_MILEAGE,
)
# Neither the day-first producer format nor ISO-8601, and not lenient-parsable either.
UNPARSABLE_TIMESTAMPS = ("N/A", "29/10/2025 11h00", "yesterday, late")
BLANK_CHASSIS = ("", "   ")

DAY_START = time(6, 0)
DRIVING_WINDOW_SECONDS = 16 * 3600  # readings fall in [06:00, 22:00); a re-send adds < 1 h
MAX_RESEND_DELAY_SECONDS = 3599

# (Manufacturer as the producer spells it, Model, horsePower, gasType, fuelCapacityLiters,
#  new price in BRL, km per liter or None for electric). Casing and stray spaces are on purpose:
# silver cleanses Manufacturer and color.
CATALOG = (
    ("hyundai", "HB20 Sedan", 120, "Flex", 50, 108_000, 12.5),
    ("Toyota", "Corolla Cross", 177, "Hybrid", 36, 185_000, 15.8),
    ("VOLKSWAGEN", "Polo Highline", 128, "Flex", 52, 115_000, 12.1),
    ("fiat", "Strada Volcano", 107, "Flex", 55, 120_000, 11.4),
    ("Chevrolet ", "Onix Plus", 116, "Flex", 44, 98_000, 13.2),
    ("jeep", "Compass Longitude", 185, "Diesel", 60, 200_000, 10.3),
    ("byd", "Dolphin", 95, "Electric", 0, 150_000, None),
)
COLORS = ("Blue", "white", "SILVER", "Black", "red", "Gray ")
INSURERS = ("SafeAuto", "Porto Seguro", "Allianz", "Tokio Marine")
LOCATIONS = ("Recife, PE", "São Paulo, SP", "Belo Horizonte, MG", "Curitiba, PR", "Salvador, BA")
DEALER_SUFFIXES = ("Pateo", "Center", "Prime", "Motors")
EVALUATORS = ("Tabela Fipe", "KBB Brasil")
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q as in real VINs

SEED_EXAMPLE_DAY = date(2025, 10, 29)
SEED_EXAMPLE_MILEAGES = (4321, 8500, 12000)
SEED_EXAMPLE_CAR_CHASSIS = "9BHCR41DBSP004321"


@dataclasses.dataclass(frozen=True)
class Car:
    """The static part of a record: what does not change between two readings of a car."""

    chassis: str
    manufacturer: str
    model: str
    year: int
    model_year: int
    horse_power: int
    gas_type: str
    color: str
    fuel_capacity_liters: float
    insurance_number: str
    insurance_provider: str
    insurance_valid_until: date
    current_price: float
    currency: str
    location: str
    dealer: str
    warranty_years: int
    evaluator: str


@dataclasses.dataclass(frozen=True)
class Reading:
    """One telemetry reading: the trip that ended at ``metric_time`` and the sensors then."""

    metric_time: datetime
    current_mileage: int
    trip_mileage: int
    trip_time_minutes: int
    trip_fuel_liters: float
    trip_max_speed_km: float
    trip_average_speed_km: float
    engine_temp_celsius: float
    oil_temp_celsius: float
    battery_charge_perc: float
    fuel_available_liters: float
    coolant_celsius: float


@dataclasses.dataclass(frozen=True)
class GeneratedRecord:
    """A landing record with what the generator made of it.

    ``kind`` is ``"ok"``, ``"duplicate"`` or one of ``BAD_KINDS``; ``slot`` is the record's
    position in the (day, car, reading) grid; ``source_slot`` the slot a duplicate copies.
    """

    record: dict[str, Any]
    kind: str
    slot: int
    car_index: int
    day: date
    source_slot: int | None = None


def format_producer_timestamp(value: datetime) -> str:
    """``Wed, 29 Oct 2025 11:00:00``: the producer's format, independent of the locale."""
    return (
        f"{WEEKDAYS[value.weekday()]}, {value.day:02d} {MONTHS[value.month - 1]} "
        f"{value.year:04d} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )


def make_record(car: Car, reading: Reading) -> dict[str, Any]:
    """The v1 landing record of one reading, fields in the producer's order. Pure."""
    trip_start = reading.metric_time - timedelta(minutes=reading.trip_time_minutes)
    return {
        "carChassis": car.chassis,
        "Model": car.model,
        "year": car.year,
        "ModelYear": car.model_year,
        "Manufacturer": car.manufacturer,
        "horsePower": car.horse_power,
        "gasType": car.gas_type,
        "currentMileage": reading.current_mileage,
        "color": car.color,
        "fuelCapacityLiters": car.fuel_capacity_liters,
        "metrics": {
            "engineTempCelsius": reading.engine_temp_celsius,
            "oilTempCelsius": reading.oil_temp_celsius,
            "batteryChargePerc": reading.battery_charge_perc,
            "fuelAvailableLiters": reading.fuel_available_liters,
            "coolantCelsius": reading.coolant_celsius,
            "trip": {
                "tripMileage": reading.trip_mileage,
                "tripTimeMinutes": reading.trip_time_minutes,
                "tripFuelLiters": reading.trip_fuel_liters,
                "tripMaxSpeedKm": reading.trip_max_speed_km,
                "tripAverageSpeedKm": reading.trip_average_speed_km,
                "tripStartTimestamp": format_producer_timestamp(trip_start),
            },
            "metricTimestamp": format_producer_timestamp(reading.metric_time),
        },
        "carInsurance": {
            "number": car.insurance_number,
            "provider": car.insurance_provider,
            "validUntil": car.insurance_valid_until.isoformat(),
        },
        "market": {
            "currentPrice": car.current_price,
            "currency": car.currency,
            "location": car.location,
            "dealer": car.dealer,
            "warrantyYears": car.warranty_years,
            "evaluator": car.evaluator,
        },
    }


def make_bad(record: dict[str, Any], kind: str, variant: int = 0) -> dict[str, Any]:
    """A copy of ``record`` broken in the way ``kind`` (one of ``BAD_KINDS``) names. Pure."""
    bad = json.loads(json.dumps(record))  # deep copy, keeps key order
    if kind == BAD_BLANK_CHASSIS:
        bad["carChassis"] = BLANK_CHASSIS[variant % len(BLANK_CHASSIS)]
    elif kind == BAD_MISSING_TIMESTAMP:
        del bad["metrics"]["metricTimestamp"]
    elif kind == BAD_UNPARSABLE_TIMESTAMP:
        bad["metrics"]["metricTimestamp"] = UNPARSABLE_TIMESTAMPS[
            variant % len(UNPARSABLE_TIMESTAMPS)
        ]
    elif kind == BAD_MISSING_MILEAGE:
        del bad["currentMileage"]
    elif kind == BAD_NEGATIVE_MILEAGE:
        bad["currentMileage"] = -max(1, abs(bad["currentMileage"]))
    else:
        raise ValueError(f"unknown bad kind {kind!r}; expected one of {BAD_KINDS}")
    return bad


def share(total: int, rate: float) -> int:
    """``total * rate`` rounded to the nearest integer, halves up: the records a rate makes."""
    return math.floor(total * rate + 0.5)


def _rng(seed: int, *parts: object) -> random.Random:
    # A str seed goes through SHA-512 in random.seed (version 2): stable across processes and
    # Python versions, unlike hash().
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def _chassis(rng: random.Random) -> str:
    return "9B" + "".join(rng.choice(VIN_ALPHABET) for _ in range(15))


def make_car(seed: int, index: int, start_date: date) -> Car:
    """Car number ``index`` of the fleet of ``seed``: the same whatever the fleet's size."""
    rng = _rng(seed, "car", index)
    manufacturer, model, horse_power, gas_type, capacity, price, _ = rng.choice(CATALOG)
    year = rng.randint(2018, 2025)
    age = max(0, start_date.year - year)
    brand = manufacturer.strip().title()
    return Car(
        chassis=_chassis(rng),
        manufacturer=manufacturer,
        model=model,
        year=year,
        model_year=year + rng.randint(0, 1),
        horse_power=horse_power,
        gas_type=gas_type,
        color=rng.choice(COLORS),
        fuel_capacity_liters=capacity,
        insurance_number=f"INS-{rng.randrange(10**9):09d}",
        insurance_provider=rng.choice(INSURERS),
        insurance_valid_until=start_date + timedelta(days=rng.randint(30, 730)),
        current_price=int(round(price * 0.9**age * rng.uniform(0.92, 1.05), -2)),
        currency="BRL",
        location=rng.choice(LOCATIONS),
        dealer=f"{brand} {rng.choice(DEALER_SUFFIXES)}",
        warranty_years=rng.choice((1, 3, 5)),
        evaluator=rng.choice(EVALUATORS),
    )


class _Odometer:
    """A car's moving state: mileage and fuel, advanced one trip at a time."""

    def __init__(self, seed: int, index: int, car: Car) -> None:
        self.rng = _rng(seed, "car", index, "readings")
        self.car = car
        self.km_per_liter = next(c[6] for c in CATALOG if c[1] == car.model)
        self.mileage = self.rng.randint(500, 90_000)
        self.fuel = round(car.fuel_capacity_liters * self.rng.uniform(0.3, 1.0), 1)

    def day_readings(self, day: date, count: int) -> list[Reading]:
        rng = self.rng
        slot_seconds = DRIVING_WINDOW_SECONDS // count
        start = datetime.combine(day, DAY_START)
        readings = []
        for k in range(count):
            metric_time = start + timedelta(seconds=k * slot_seconds + rng.randrange(slot_seconds))
            trip = rng.randint(3, 80)
            average_speed = rng.randint(18, 75)
            max_speed = average_speed + rng.randint(8, 45)
            minutes = max(1, round(trip / average_speed * 60))
            if self.km_per_liter is None:  # electric: no fuel, enrichment divisors are 0
                trip_fuel, self.fuel = 0.0, 0.0
            else:
                trip_fuel = max(0.1, round(trip / self.km_per_liter * rng.uniform(0.85, 1.2), 1))
                self.fuel = round(self.fuel - trip_fuel, 1)
                if self.fuel < self.car.fuel_capacity_liters * 0.15:  # refuel before the trip
                    self.fuel = round(self.car.fuel_capacity_liters - trip_fuel, 1)
            self.mileage += trip
            readings.append(
                Reading(
                    metric_time=metric_time,
                    current_mileage=self.mileage,
                    trip_mileage=trip,
                    trip_time_minutes=minutes,
                    trip_fuel_liters=trip_fuel,
                    trip_max_speed_km=max_speed,
                    trip_average_speed_km=average_speed,
                    engine_temp_celsius=rng.randint(85, 108),
                    oil_temp_celsius=rng.randint(90, 118),
                    battery_charge_perc=rng.randint(40, 100),
                    fuel_available_liters=self.fuel,
                    coolant_celsius=rng.randint(80, 98),
                )
            )
        return readings


@dataclasses.dataclass(frozen=True)
class _Faults:
    duplicates: dict[int, tuple[int, int]]  # slot -> (source slot, rank among duplicates)
    bad: dict[int, tuple[str, int]]  # slot -> (kind, variant)


def _plan_faults(
    seed: int, cells: int, readings_per_day: int, duplicate_rate: float, bad_rate: float
) -> _Faults:
    """Which slots are duplicates (of which slot) and which are bad (of which kind)."""
    total = cells * readings_per_day
    n_duplicates = share(total, duplicate_rate)
    n_bad = share(total, bad_rate)
    rng = _rng(seed, "faults")

    duplicate_slots: set[int] = set()
    if n_duplicates:
        per_cell = readings_per_day - 1  # reading 0 of a car-day is never a copy
        if n_duplicates > cells * per_cell:
            raise ValueError(
                f"duplicate rate {duplicate_rate} asks for {n_duplicates} copies but only "
                f"{cells * per_cell} readings follow another one of the same car and day "
                f"(readings_per_day={readings_per_day}); raise readings_per_day"
            )
        for pick in rng.sample(range(cells * per_cell), n_duplicates):
            duplicate_slots.add((pick // per_cell) * readings_per_day + pick % per_cell + 1)

    duplicates: dict[int, tuple[int, int]] = {}
    for rank, slot in enumerate(sorted(duplicate_slots)):
        source = slot - 1
        while source in duplicate_slots:  # copy the nearest earlier original of that car-day
            source -= 1
        duplicates[slot] = (source, rank)
    sources = {source for source, _ in duplicates.values()}

    bad_slots: set[int] = set()
    available = total - len(duplicates) - len(sources)
    if n_bad > available:
        raise ValueError(
            f"bad rate {bad_rate} asks for {n_bad} bad records but only {available} records "
            "are neither duplicates nor copied by one"
        )
    while len(bad_slots) < n_bad:
        slot = rng.randrange(total)
        if slot not in duplicates and slot not in sources:
            bad_slots.add(slot)
    bad = {
        slot: (BAD_KINDS[i % len(BAD_KINDS)], i // len(BAD_KINDS))
        for i, slot in enumerate(sorted(bad_slots))
    }
    return _Faults(duplicates, bad)


def _check_args(cars: int, days: int, readings_per_day: int, **rates: float) -> None:
    for name, value in (("cars", cars), ("days", days), ("readings_per_day", readings_per_day)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if readings_per_day > DRIVING_WINDOW_SECONDS:
        raise ValueError(f"readings_per_day must be <= {DRIVING_WINDOW_SECONDS}")
    for name, value in rates.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if sum(rates.values()) > 1.0:
        raise ValueError(f"the rates add up to more than 1: {rates}")


def iter_records(
    *,
    cars: int,
    days: int,
    start_date: date = DEFAULT_START_DATE,
    readings_per_day: int = 3,
    duplicate_rate: float = 0.0,
    bad_rate: float = 0.0,
    seed: int = DEFAULT_SEED,
) -> Iterator[GeneratedRecord]:
    """Every record in sending order (day by day, then time, chassis, slot), with its kind.

    Streams: memory holds one day of the fleet, so years of history for thousands of cars fit.
    """
    _check_args(cars, days, readings_per_day, duplicate_rate=duplicate_rate, bad_rate=bad_rate)
    faults = _plan_faults(seed, cars * days, readings_per_day, duplicate_rate, bad_rate)
    fleet = [make_car(seed, i, start_date) for i in range(cars)]
    odometers = [_Odometer(seed, i, car) for i, car in enumerate(fleet)]
    for d in range(days):
        day = start_date + timedelta(days=d)
        batch: list[tuple[datetime, str, int, GeneratedRecord]] = []
        for c, (car, odometer) in enumerate(zip(fleet, odometers, strict=True)):
            first_slot = (d * cars + c) * readings_per_day
            readings = odometer.day_readings(day, readings_per_day)
            for k, reading in enumerate(readings):
                slot = first_slot + k
                if slot in faults.duplicates:
                    source, rank = faults.duplicates[slot]
                    copied = readings[source - first_slot]
                    record = make_record(car, copied)
                    if rank % 2:  # the same reading re-sent later: a tie on mileage
                        delay = 1 + (slot * 7919) % MAX_RESEND_DELAY_SECONDS
                        resent_at = copied.metric_time + timedelta(seconds=delay)
                        record["metrics"]["metricTimestamp"] = format_producer_timestamp(resent_at)
                    item = GeneratedRecord(record, KIND_DUPLICATE, slot, c, day, source)
                elif slot in faults.bad:
                    kind, variant = faults.bad[slot]
                    record = make_bad(make_record(car, reading), kind, variant)
                    item = GeneratedRecord(record, kind, slot, c, day)
                else:
                    item = GeneratedRecord(make_record(car, reading), KIND_OK, slot, c, day)
                batch.append((reading.metric_time, car.chassis, slot, item))
        batch.sort(key=lambda entry: entry[:3])
        for *_, item in batch:
            yield item


def file_count(
    total: int, fmt: str, files: int | None = None, records_per_file: int | None = None
) -> int:
    """How many files ``total`` records make in format ``fmt`` (object = one record a file)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if files is not None and records_per_file is not None:
        raise ValueError("give files or records_per_file, not both")
    if files is not None and not 1 <= files <= total:
        raise ValueError(f"files must be in [1, {total}] (the number of records), got {files}")
    if records_per_file is not None and records_per_file < 1:
        raise ValueError(f"records_per_file must be >= 1, got {records_per_file}")
    if fmt == "object":
        if files not in (None, total) or records_per_file not in (None, 1):
            raise ValueError(
                f"format 'object' writes one record per file ({total} files); "
                "use format 'array' or 'jsonl' to group records"
            )
        return total
    if records_per_file is not None:
        return math.ceil(total / records_per_file)
    return files if files is not None else 1


def file_name(index: int, count: int) -> str:
    """``car_telemetry_00001.json``: 1-based, zero-padded so names sort in writing order."""
    return f"{FILE_PREFIX}{index:0{max(5, len(str(count)))}d}{FILE_SUFFIX}"


def encode(records: Sequence[dict[str, Any]], fmt: str) -> bytes:
    """The bytes of one landing file holding ``records`` in format ``fmt``."""
    if fmt == "object":
        if len(records) != 1:
            raise ValueError(f"format 'object' holds exactly one record, got {len(records)}")
        text = json.dumps(records[0], indent=2, ensure_ascii=False) + "\n"
    elif fmt == "array":
        text = json.dumps(list(records), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return text.encode("utf-8")


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = sorted(out_dir.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))
    if stale and not overwrite:
        raise FileExistsError(
            f"{out_dir} already holds {len(stale)} generated files ({stale[0].name}, ...); "
            "pass overwrite=True (--overwrite) to replace them"
        )
    for path in stale:
        path.unlink()


def write_fleet(
    out_dir: Path | str,
    *,
    cars: int,
    days: int,
    start_date: date = DEFAULT_START_DATE,
    readings_per_day: int = 3,
    files: int | None = None,
    records_per_file: int | None = None,
    duplicate_rate: float = 0.0,
    bad_rate: float = 0.0,
    seed: int = DEFAULT_SEED,
    fmt: str = "object",
    overwrite: bool = False,
) -> tuple[list[Path], Counter[str]]:
    """Write ``cars * days * readings_per_day`` records into landing files under ``out_dir``.

    Records are spread over the files in sending order (the first files hold the earliest
    readings). ``fmt`` "object" writes one record per file (as the producer does), so ``files``
    and ``records_per_file`` are for "array" and "jsonl" (default: a single file). Existing
    ``car_telemetry_*.json`` files in ``out_dir`` are an error unless ``overwrite``, which
    deletes them first; other files are left alone. Returns the paths written, sorted, and the
    number of records of each kind.
    """
    out_dir = Path(out_dir)
    _check_args(cars, days, readings_per_day, duplicate_rate=duplicate_rate, bad_rate=bad_rate)
    total = cars * days * readings_per_day
    count = file_count(total, fmt, files, records_per_file)
    _prepare_out_dir(out_dir, overwrite)
    records = iter_records(
        cars=cars,
        days=days,
        start_date=start_date,
        readings_per_day=readings_per_day,
        duplicate_rate=duplicate_rate,
        bad_rate=bad_rate,
        seed=seed,
    )
    kinds: Counter[str] = Counter()
    paths = []
    base, extra = divmod(total, count)  # the first `extra` files hold one record more
    for index in range(count):
        chunk = [next(records) for _ in range(base + (index < extra))]
        kinds.update(item.kind for item in chunk)
        path = out_dir / file_name(index + 1, count)
        path.write_bytes(encode([item.record for item in chunk], fmt))
        paths.append(path)
    LOG.info("wrote %d files to %s: %s", len(paths), out_dir, dict(sorted(kinds.items())))
    return paths, kinds


def generate(out_dir: Path | str, **options: Any) -> list[Path]:
    """``write_fleet`` without the counts: the paths written, sorted."""
    return write_fleet(out_dir, **options)[0]


SEED_EXAMPLE_CAR = Car(
    chassis=SEED_EXAMPLE_CAR_CHASSIS,
    manufacturer="hyundai",
    model="HB20 Sedan",
    year=2024,
    model_year=2025,
    horse_power=120,
    gas_type="Flex",
    color="Blue",
    fuel_capacity_liters=50,
    insurance_number="INS-204863175",
    insurance_provider="SafeAuto",
    insurance_valid_until=date(2026, 10, 29),
    current_price=108_000,
    currency="BRL",
    location="Recife, PE",
    dealer="Hyundai Pateo",
    warranty_years=5,
    evaluator="Tabela Fipe",
)

# The three uploads of the seed's example: one car, one day, 4321 / 8500 / 12000 km.
# Columns: hour, currentMileage, tripMileage, tripTimeMinutes, tripFuelLiters, tripMaxSpeedKm,
# tripAverageSpeedKm, engineTempCelsius, oilTempCelsius, batteryChargePerc,
# fuelAvailableLiters, coolantCelsius.
_SEED_EXAMPLE_ROWS = (
    (11, 4321, 16, 63, 3, 55, 28, 98, 105, 65, 32, 90),
    (14, 8500, 22, 58, 3.8, 68, 23, 102, 108, 72, 28, 93),
    (17, 12000, 31, 47, 4.6, 84, 40, 101, 107, 70, 23.4, 92),
)
SEED_EXAMPLE_READINGS = tuple(
    Reading(datetime.combine(SEED_EXAMPLE_DAY, time(hour)), *values)
    for hour, *values in _SEED_EXAMPLE_ROWS
)


def seed_example(out_dir: Path | str) -> list[Path]:
    """Write the seed's example, ``car_raw_1.json`` .. ``car_raw_3.json``, into ``out_dir``.

    Three uploads of one car (``SEED_EXAMPLE_CAR_CHASSIS``) on 29 Oct 2025 with
    ``currentMileage`` 4321, 8500 and 12000, one single-object file each, like the producer's.
    Silver must keep exactly one of them: the 12000 km reading. Overwrites those three files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, reading in enumerate(SEED_EXAMPLE_READINGS, start=1):
        path = out_dir / f"car_raw_{number}.json"
        path.write_bytes(encode([make_record(SEED_EXAMPLE_CAR, reading)], "object"))
        paths.append(path)
    return paths


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from err


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Write deterministic synthetic landing files of the v1 car-telemetry contract. "
            "Records = cars x days x readings-per-day; the same arguments give byte-identical "
            "files."
        ),
        epilog="exit codes: 0 done; 2 usage error (options, an --out that cannot be written); "
        "130 interrupted",
    )
    parser.add_argument("--out", required=True, type=Path, help="directory to write into")
    parser.add_argument(
        "--cars", type=_positive_int, default=5, help="cars in the fleet (default: %(default)s)"
    )
    parser.add_argument(
        "--days", type=_positive_int, default=3, help="days of driving (default: %(default)s)"
    )
    parser.add_argument(
        "--start-date",
        type=_date,
        default=DEFAULT_START_DATE,
        help="first day, YYYY-MM-DD, UTC (default: %(default)s)",
    )
    parser.add_argument(
        "--readings-per-day",
        type=_positive_int,
        default=3,
        help="readings each car sends a day; its mileage grows with each (default: %(default)s)",
    )
    grouping = parser.add_mutually_exclusive_group()
    grouping.add_argument(
        "--files",
        type=_positive_int,
        help="number of files to spread the records over (array/jsonl; default 1)",
    )
    grouping.add_argument(
        "--records-per-file",
        type=_positive_int,
        help="records per file instead of --files (array/jsonl; the last file may hold fewer)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="object",
        help="object: one JSON object per file, as the producer sends; array: a JSON array "
        "per file; jsonl: JSON Lines (files are still named *.json) (default: %(default)s)",
    )
    parser.add_argument(
        "--duplicate-rate",
        type=_rate,
        default=0.0,
        help="share of records that are re-sent copies of an earlier reading of the same car "
        "and day, in [0, 1) (needs --readings-per-day >= 2; default: %(default)s)",
    )
    parser.add_argument(
        "--bad-rate",
        type=_rate,
        default=0.0,
        help="share of records made bad, in [0, 1), kinds in turn: "
        + ", ".join(BAD_KINDS)
        + " (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)"
    )
    parser.add_argument(
        "--seed-example",
        action="store_true",
        help="also write car_raw_1..3.json: the seed's example (one car on 29 Oct 2025 with "
        "4321, 8500 and 12000 km)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace car_telemetry_*.json files already in --out (else they are an error)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        paths, kinds = write_fleet(
            args.out,
            cars=args.cars,
            days=args.days,
            start_date=args.start_date,
            readings_per_day=args.readings_per_day,
            duplicate_rate=args.duplicate_rate,
            bad_rate=args.bad_rate,
            seed=args.seed,
            fmt=args.format,
            files=args.files,
            records_per_file=args.records_per_file,
            overwrite=args.overwrite,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # generated files in the way, or --out cannot be a folder written
        why = (
            str(err) if err.errno is None else f"cannot write into --out {args.out}: {err.strerror}"
        )
        print(f"error: {why}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
    print(f"wrote {len(paths)} files ({sum(kinds.values())} records: {summary}) to {args.out}")
    if args.seed_example:
        example = seed_example(args.out)
        print(f"wrote the seed example: {', '.join(p.name for p in example)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
