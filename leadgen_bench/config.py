"""What a month run runs: its settings (days, plan size, daily cap, fault rates) and the built-in niches and cities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# B2B niches a small sales team would plan in a month, and the cities they would target.
NICHES = (
    "стоматология", "окна пвх", "натяжные потолки", "ремонт квартир", "клининговая компания", "автосервис",
    "грузоперевозки", "бухгалтерские услуги", "юридические услуги", "типография", "кейтеринг",
    "складские услуги", "производство мебели", "ветеринарная клиника", "фитнес клуб", "детский сад частный",
    "агентство недвижимости", "строительство домов", "охранное агентство", "изготовление вывесок",
    "металлоконструкции", "доставка воды", "курьерская служба", "ремонт холодильников", "школа английского",
)  # fmt: skip
CITIES = (
    "Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Нижний Новгород", "Самара",
    "Краснодар", "Ростов-на-Дону", "Уфа", "Челябинск", "Пермь", "Воронеж", "Волгоград",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MonthConfig:
    """What to run: simulated days, plan size, where the database lives, the daily cap."""

    workdir: Path
    days: int = 30
    niches: int = len(NICHES)
    cities: int = len(CITIES)
    queries_per_niche: int = 1
    daily_cap: int = 100
    database_url: str | None = None  # default: a SQLite file in workdir
    seed: int = 1
    start: datetime = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)  # Monday 00:00 Moscow
    bounce_rate: float = 0.02  # share of recipients whose mailbox does not exist (550 5.1.1)
    temp_fail_rate: float = 0.03  # share of sends that first get a 421/450 (retried later)
    night_step_minutes: int = 10  # how often the night search/collect step runs
    farm_process: bool = True  # serve the site farm from its own process (uses the second core)
    farm_slow_seconds: float = 0.5  # real seconds of the farm's deliberately slow sites
    crawl_timeout_seconds: float = 2.0
