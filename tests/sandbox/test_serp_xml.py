"""Properties of the emulator's XML: always well-formed, deterministic, the query echoed, positions consistent."""

from __future__ import annotations

from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgen_sandbox.serp_xml import SerpSpec, company_hosts, render_serp_xml, translit

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    query=st.text(min_size=1, max_size=120),
    page=st.integers(0, 30),
    groups=st.integers(1, 100),
    docs=st.integers(1, 3),
    region=st.sampled_from([None, "213", "2", "54", "999"]),
)
def test_always_well_formed(query: str, page: int, groups: int, docs: int, region: str | None) -> None:
    spec = SerpSpec(query, region=region, page=page, groups_on_page=groups, docs_in_group=docs)
    xml = render_serp_xml(spec, now=NOW)
    assert xml == render_serp_xml(spec, now=NOW)
    root = SafeET.fromstring(xml)
    assert root.find("request/page").text == str(page)
    error = root.find("response/error")
    groups_found = root.findall(".//results/grouping/group")
    if error is None:
        marker = root.find(".//results/grouping/page")
        assert int(marker.get("first")) == page * groups + 1
        assert int(marker.get("last")) == page * groups + len(groups_found)
        assert 1 <= len(groups_found) <= groups
        for group in groups_found:
            assert 1 <= len(group.findall("doc")) <= docs
            for doc in group.findall("doc"):
                assert doc.findtext("url", "").startswith("http")
    else:
        assert error.get("code") in {"15", "18"} and not groups_found


@given(st.text(min_size=1, max_size=40))
def test_translit_is_a_hostname_label(word: str) -> None:
    label = translit(word)
    assert label and all(c.isascii() and (c.isalnum() or c == "-") for c in label)


def test_company_hosts_are_valid_idna_hostnames() -> None:
    for query in ["окна пвх", "стоматология детская", "ремонт iPhone", "кафе «Ёлка»"]:
        for host in company_hosts(query, region="213", count=30):
            assert host == host.lower() and host.encode("ascii")
            assert all(0 < len(label) < 64 for label in host.split("."))
