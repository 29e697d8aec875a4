"""Heatmaps as SVG and PNG: the cells' colours, regressions outlined, labels as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from service.errors import InvalidInput
from service.export.heatmap import Heatmap, code_of, column_label, row_label
from service.export.heatmap_png import heatmap_png
from service.export.palette import MISSING, REGRESSION, VERDICT_COLOURS
from service.export.png import read_png_rgb
from service.export.raster import hex_colour
from service.export.svg import cell_size, heatmap_svg

SVG = "{http://www.w3.org/2000/svg}"


def _heatmap(codes: tuple[str, ...], title: str = "shop · run 7 · locked") -> Heatmap:
    return Heatmap(
        title=title,
        rows=tuple(f"dev/src-{i}" for i in range(len(codes))),
        columns=tuple(f"api/t-{j} 80/TCP" for j in range(len(codes[0]))),
        codes=codes,
    )


def test_labels_and_codes_name_places_and_verdicts() -> None:
    assert row_label("dev", "frontend") == "dev/frontend"
    assert column_label("api", "backend", "http", 8080, "TCP") == "api/backend http(8080)/TCP"
    assert column_label("api", "backend", 80, 80, "UDP") == "api/backend 80/UDP"
    assert code_of("blocked", regression=False) == "b"
    assert code_of("error", regression=True) == "E"


def test_a_heatmap_counts_its_cells_by_verdict_and_regression() -> None:
    heatmap = _heatmap(("aB.", "eiA"))
    assert heatmap.cells == 5
    assert heatmap.regressions == 2
    assert heatmap.verdict_count("allowed") == 2
    assert heatmap.verdict_count("blocked") == 1
    assert heatmap.at(0, 1) == ("blocked", True)
    assert heatmap.at(0, 2) == (None, False)


def test_a_heatmap_with_rows_of_the_wrong_length_or_codes_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        Heatmap(title="x", rows=("a", "b"), columns=("c", "d"), codes=("ab", "a?"))
    assert [str(p.path) for p in caught.value.problems] == ["codes[1]"]


def _grid_area(svg: str) -> tuple[Counter[str], int]:
    """Cell area per fill colour inside the grid group, and the number of outlines."""
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g"))
    area: Counter[str] = Counter()
    outlines = 0
    for rect in group.iter(f"{SVG}rect"):
        if rect.get("fill") == "none":
            outlines += 1
            assert rect.get("stroke") == REGRESSION
        else:
            area[rect.get("fill", "")] += int(rect.get("width", "0")) * int(rect.get("height", "0"))
    return area, outlines


def test_the_svg_paints_each_cell_in_its_verdicts_colour_and_outlines_regressions() -> None:
    codes = ("aaBb", "e.iA", "bbbb")
    heatmap = _heatmap(codes)
    area, outlines = _grid_area(heatmap_svg(heatmap))
    cell = cell_size(3, 4) ** 2
    assert outlines == 2
    assert area[VERDICT_COLOURS["allowed"]] == 3 * cell
    assert area[VERDICT_COLOURS["blocked"]] == 6 * cell
    assert area[VERDICT_COLOURS["error"]] == cell
    assert area[VERDICT_COLOURS["invalid"]] == cell
    assert area[MISSING] == cell


def test_svg_labels_are_text_never_markup() -> None:
    heatmap = Heatmap(
        title="<script>alert(1)</script>",
        rows=("dev/<img src=x onerror=alert(1)>",),
        columns=("api/a&b 80/TCP",),
        codes=("a",),
    )
    svg = heatmap_svg(heatmap)
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<script>alert(1)</script>" in texts
    assert "dev/<img src=x onerror=alert(1)>" in texts
    assert not list(root.iter(f"{SVG}script"))
    assert not list(root.iter("script"))


def test_a_large_heatmap_merges_runs_of_one_colour_and_drops_labels_too_small_to_read() -> None:
    codes = tuple("a" * 100 + "b" * 100 for _ in range(200))
    svg = heatmap_svg(_heatmap(codes))
    area, _ = _grid_area(svg)
    assert sum(area.values()) == 40_000 * cell_size(200, 200) ** 2
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g"))
    assert len(list(group.iter(f"{SVG}rect"))) == 400
    assert "dev/src-0" not in svg
    assert "dev/src-0" in heatmap_svg(_heatmap(tuple(line[:20] for line in codes[:20])))


def _colour_counts(png: bytes) -> Counter[tuple[int, int, int]]:
    _, _, rgb = read_png_rgb(png)
    return Counter(zip(rgb[0::3], rgb[1::3], rgb[2::3], strict=True))


def test_the_png_paints_a_cell_in_its_verdicts_colour() -> None:
    allowed, blocked = (
        hex_colour(VERDICT_COLOURS["allowed"]),
        hex_colour(VERDICT_COLOURS["blocked"]),
    )
    one = _colour_counts(heatmap_png(_heatmap(("ab", "bb"))))
    other = _colour_counts(heatmap_png(_heatmap(("bb", "bb"))))
    cell = cell_size(2, 2) ** 2
    assert one[allowed] - other[allowed] == cell
    assert other[blocked] - one[blocked] == cell


def test_the_png_outlines_regressions() -> None:
    outline = hex_colour(REGRESSION)
    plain = _colour_counts(heatmap_png(_heatmap(("ab", "ba"))))
    flagged = _colour_counts(heatmap_png(_heatmap(("aB", "ba"))))
    assert flagged[outline] > plain[outline]


def test_a_10000_cell_png_is_drawn_at_a_readable_size() -> None:
    codes = tuple(("ab" * 50) for _ in range(100))
    width, height, _ = read_png_rgb(heatmap_png(_heatmap(codes)))
    assert 900 <= width <= 1400
    assert 900 <= height <= 1400
