"""report.html: self-contained (data URIs only, no http), tables, gallery from saved and regenerated images,
and a headless Chromium check that every image decodes and the page is not blank."""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest

from leaderboards.gallery import pick_ids
from leaderboards.report import write_report
from tests.conftest import running_in_ci
from tests.leaderboards.report_support import METHODS, report_store  # noqa: F401 (fixture)

GALLERY = 3


@pytest.fixture(scope="module")
def report(report_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    paths = write_report(report_store, out, gallery=GALLERY, seed=5, title="Test <report> & co")
    return paths, paths["html"].read_text(encoding="utf-8")


def test_page_is_self_contained(report):
    _, page = report
    assert not re.search(r"https?://", page)
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<(script|link|iframe)\b", page) and "url(" not in page
    for src in sources:  # every data URI is a decodable PNG
        from PIL import Image

        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert image.size[0] > 0
    assert "Test &lt;report&gt; &amp; co" in page


def test_page_content(report, report_store):
    from bench.harness.store import ResultStore

    paths, page = report
    assert page.count("<table") >= 3 and 'class="paper"' in page
    assert page.count('alt="attr_vs_resolution"') == 1 and page.count('alt="flips"') == 1
    assert "SYNTHETIC" in page and "MIT (frbench; torch BSD-3-Clause)" in page  # dataset mark, method licence
    # gallery: per setting, GALLERY faces x (LQ + 2 methods + HQ)
    tiles = re.findall(r'<img alt="(LQ|HQ|bicubic|bilinear)"', page)
    assert len(tiles) == 2 * GALLERY * (2 + len(METHODS))
    # bicubic saved its images; bilinear was regenerated and checked against its stored PSNR
    assert f"bilinear: restorations regenerated from the recorded configuration ({GALLERY} of {GALLERY} checked" in page
    assert "bicubic: restorations regenerated" not in page
    with ResultStore(report_store, readonly=True) as db:
        run = next(r for r in db.runs() if r["method"] == "bicubic" and r["protocol"] == "x4")
        ids = pick_ids(db.sample_ids(run["run_id"], "ok"), GALLERY, 5)
        preds = {sid: {} for sid in ids}
        for _, sid, metric, value, _ in db.scores(run["run_id"]):
            if sid in preds:
                preds[sid][metric] = value
    gallery = page.split('id="gallery"', 1)[1]
    for sid in ids:
        assert f"<code>{sid}</code>" in gallery
        p = preds[sid]
        text = f"age {p['attr_pred.age']:.0f} · {'male' if p['attr_pred'] == 1 else 'female'}"
        assert text in gallery
    assert paths["latex"].exists() and paths["csv"].exists() and paths["markdown"].exists()


def test_gallery_choice_is_seeded_and_nested():
    ids = [f"s{i:03d}" for i in range(50)]
    assert pick_ids(ids, 5, 0) == pick_ids(list(reversed(ids)), 5, 0)
    assert pick_ids(ids, 8, 0)[:5] == pick_ids(ids, 5, 0)
    assert pick_ids(ids, 5, 0) != pick_ids(ids, 5, 1)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    reason = "headless Chromium is not installed (Debian: apt-get install -y chromium)"
    if running_in_ci():
        pytest.fail(reason + " (CI=true: the browser check must run)", pytrace=False)
    pytest.skip(reason)


CHECK = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var bad = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  var out = document.createElement('pre');
  out.id = 'frbench-check';
  out.textContent = 'images=' + images.length + ' broken=' + bad + ' tables=' + document.querySelectorAll('table').length;
  document.body.appendChild(out);
});
</script>"""


def _run(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_chromium_loads_every_image_and_renders(report, tmp_path):
    browser = _chromium()
    paths, page = report
    # the report has no script; a copy with a checking script reports what the browser decoded
    probe = paths["html"].with_name("probe.html")
    probe.write_text(page.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    done = _run(browser, tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    found = re.search(r"images=(\d+) broken=(\d+) tables=(\d+)", done.stdout)
    assert found, done.stderr[-2000:]
    images, broken, tables = map(int, found.groups())
    assert images == len(re.findall(r"<img\b", page)) and images > 0
    assert broken == 0 and tables >= 3
    shot = tmp_path / "report.png"
    done = _run(browser, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", paths["html"].as_uri())
    assert shot.exists(), done.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), np.float64)
    assert pixels.shape == (2400, 1280) and pixels.var() > 100.0


def test_gallery_ifqa_maps_match_the_stored_scores(tmp_path):
    """A run with IFQA (seeded random weights: a smoke network, not a quality judgement): the gallery maps the
    restored faces, and each map's mean is the run's stored IFQA score of that face."""
    from bench.harness.runner import Runner
    from bench.harness.store import ResultStore
    from leaderboards.gallery import build_gallery
    from leaderboards.tables import build_tables

    store = tmp_path / "s.sqlite"
    Runner("bicubic", "synthetic", metrics="psnr,ifqa", metric_options={"ifqa": {"weights": "random"}}, limit=2,
           store=store, dataset_options={"n": 2, "size": 64}, out=tmp_path, progress=False).run()
    table = build_tables(store)[0]
    with ResultStore(store, readonly=True) as db:
        rows, notes = build_gallery(db, table, 2, 0, {})
        stored = {sid: v for _, sid, m, v, _ in db.scores() if m == "ifqa"}
    assert len(rows) == 2 and "2 of 2 checked against the stored PSNR" in " ".join(notes)
    for row in rows:
        tile = row.tiles[1]
        assert tile.ifqa is not None and tile.ifqa.ndim == 2
        assert float(np.mean(tile.ifqa, dtype=np.float64)) == pytest.approx(stored[row.sample_id], rel=1e-5)


def test_gallery_without_saved_or_reproducible_images_shows_hq_lq_and_a_note(report_store):
    """A run without saved images whose recorded method description the registry cannot reproduce: its
    tiles are empty with a note; LQ and HQ are still shown."""
    import copy

    from bench.harness.store import ResultStore
    from leaderboards.gallery import build_gallery
    from leaderboards.html_report import gallery_html
    from leaderboards.tables import build_tables

    table = copy.deepcopy(build_tables(report_store)[0])
    bilinear = next(r for r in table["runs"] if r["method"] == "bilinear")
    bilinear["identity"]["method"]["align_corners"] = True  # not what the registry's bilinear builds
    with ResultStore(report_store, readonly=True) as db:
        rows, notes = build_gallery(db, table, 2, 0, {})
    assert len(rows) == 2 and any("bilinear: restorations not saved" in n for n in notes)
    for row in rows:
        titles = {t.title: t for t in row.tiles}
        assert titles["bilinear"].image is None
        assert titles["bicubic"].image is not None and titles["LQ"].image.shape == (16, 16, 3)
        assert titles["HQ"].image.shape == (64, 64, 3)
    assert "not available" in gallery_html("x4", rows, notes)


def test_gallery_of_a_512_px_protocol_shows_the_protocol_reference_hq(tmp_path):
    """``debiasfr-x16`` works on the HQ resized to 512 px (bench.data.degradation.debiasfr): the gallery shows
    that 512 px reference, and the regenerated restorations match the PSNR stored against it."""
    from bench.harness.runner import Runner
    from bench.harness.store import ResultStore
    from leaderboards.gallery import build_gallery
    from leaderboards.tables import build_tables

    store = tmp_path / "s.sqlite"
    Runner("bicubic", "synthetic", metrics="psnr", degradation="debiasfr-x16", limit=2, store=store,
           dataset_options={"n": 2, "size": 64}, out=tmp_path, progress=False).run()
    table = build_tables(store)[0]
    with ResultStore(store, readonly=True) as db:
        rows, notes = build_gallery(db, table, 2, 0, {})
    assert len(rows) == 2 and "2 of 2 checked against the stored PSNR" in " ".join(notes)
    for row in rows:
        titles = {t.title: t for t in row.tiles}
        assert titles["HQ"].image.shape == (512, 512, 3) and titles["LQ"].image.shape == (32, 32, 3)
        assert titles["bicubic"].image.shape == (512, 512, 3)
