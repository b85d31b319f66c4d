"""Region dictionary: official ids, coverage, and a lookup tolerant to case, ё/е, hyphens and nicknames."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from leadgen.planning import all_regions, lookup_region, normalise_place


@pytest.mark.parametrize(
    ("name", "region_id"),
    [
        ("Москва", 213),
        ("москва", 213),
        ("МОСКВА", 213),
        ("Moscow", 213),
        ("г. Москва", 213),
        ("город Москва", 213),
        ("Санкт-Петербург", 2),
        ("Санкт Петербург", 2),
        ("санкт–петербург", 2),
        ("СПб", 2),
        ("Питер", 2),
        ("Saint Petersburg", 2),
        ("Новосибирск", 65),
        ("Екатеринбург", 54),
        ("Казань", 43),
        ("Нижний Новгород", 47),
        ("нижний-новгород", 47),
        ("Ростов-на-Дону", 39),
        ("ростов на дону", 39),
        ("Орёл", 10),
        ("Орел", 10),
        ("ОРЁЛ", 10),
        ("Йошкар-Ола", 41),
        ("йошкар ола", 41),
        ("Самара", 51),
        ("Уфа", 172),
        ("Россия", 225),
        ("РФ", 225),
        ("Russia", 225),
        ("Беларусь", 149),
        ("Казахстан", 159),
        ("Московская область", 1),
        ("  Сочи  ", 239),
        ("Королев", 20728),
        ("Набережные Челны", 236),
        ("Н.Челны", 236),
        ("Н. Новгород", 47),
        ("Ростов н/Д", 39),
        ("Омск г.", 66),
        ("г Омск", 66),
        ("Петербург", 2),
        ("Благовещенск (Амурская область)", 77),
        ("Казань, Республика Татарстан", 43),
        ("Тольятти", 240),
        ("Стерлитамак", 11116),
        ("Нефтекамск", 11114),
        ("Невинномысск", 11064),
        ("Минеральные Воды", 11063),
        ("Татарстан", 11119),
        ("Свердловская область", 11162),
    ],
)
def test_lookup(name: str, region_id: int) -> None:
    region = lookup_region(name)
    assert region is not None, name
    assert region.id == region_id


@pytest.mark.parametrize("name", ["", "   ", "Урюпинск-на-Луне", "Gotham", "-"])
def test_unknown_places(name: str) -> None:
    assert lookup_region(name) is None


def test_normalise_place() -> None:
    assert normalise_place("  Г. Ростов-на-Дону ") == "ростов на дону"
    assert normalise_place("Орёл") == "орел"


def test_ids_and_names_are_unique_and_coverage_holds() -> None:
    regions = all_regions()
    assert len({r.id for r in regions}) == len(regions)
    cities = [r for r in regions if r.kind == "city"]
    subjects = [r for r in regions if r.kind == "subject"]
    assert len(cities) >= 100
    assert len(subjects) >= 80
    assert {r.id for r in regions if r.kind == "country"} >= {225}


def test_every_official_id_is_marked_verified() -> None:
    """The ids copied from the Yandex Cloud Search API docs (reference/regions.md) keep their source mark."""
    official = {
        225: "Россия", 213: "Москва", 2: "Санкт-Петербург", 65: "Новосибирск", 54: "Екатеринбург",
        43: "Казань", 47: "Нижний Новгород", 1: "Москва и Московская область", 16: "Ярославль",
        1104: "Черкесск", 973: "Сургут", 239: "Сочи", 1106: "Грозный",
    }  # fmt: skip
    by_id = {r.id: r for r in all_regions()}
    for region_id, name in official.items():
        assert by_id[region_id].name == name
        assert by_id[region_id].verified == "yandex-cloud-docs"


def test_every_entry_names_its_source() -> None:
    raw = json.loads(resources.files("leadgen.planning").joinpath("regions.json").read_text("utf-8"))
    sources = set(raw["sources"])
    assert all(str(r.verified) in sources for r in all_regions())
    assert all(r.verified is not None for r in all_regions())


def test_aliases_never_point_to_two_regions() -> None:
    raw = json.loads(resources.files("leadgen.planning").joinpath("regions.json").read_text("utf-8"))
    seen: dict[str, int] = {}
    for item in raw["regions"]:
        for name in (item["name"], *item["aliases"]):
            key = normalise_place(name)
            assert seen.setdefault(key, item["id"]) == item["id"], (name, seen[key], item["id"])
