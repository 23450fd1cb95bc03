"""``report.html``: one self-contained page (no JavaScript, no external URL, opens from disk without a server).

Content: the paper table (:mod:`leaderboards.paper_table`, best bold, second underlined, group headers), the
figures (:mod:`leaderboards.figures`) embedded as ``data:image/png;base64`` URIs with the notes on the skipped
ones, the runs (method, dataset with the SYNTHETIC mark, protocol, faces, licence, the "trained here" /
random-weights notes the leaderboard prints), the metrics (direction and description from the store's
``metric_info``) and the gallery (:mod:`leaderboards.gallery`) with every image a PNG data URI.  Text is
HTML-escaped.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from leaderboards.paper_table import ARROW, PaperTable, marked_rows

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.85em}
th,td{padding:3px 8px;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
.scroll{overflow-x:auto}
th{background:#f4f4f4}td.l,th.l{text-align:left}
th.group{text-align:left;border-bottom:2px solid #999}
p.caption{font-size:0.85em;color:#444;max-width:1100px}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.85em;color:#444}
.note{color:#7a4b00;font-size:0.85em}.synthetic{color:#b00;font-weight:bold}
.gallery td{text-align:center;vertical-align:top;border:none;font-size:0.78em;white-space:normal}
.gallery img{width:128px;height:128px;image-rendering:pixelated;border:1px solid #ccc}
.gallery .missing{width:128px;height:128px;display:inline-block;background:#eee;color:#777;line-height:128px}
"""


def png_data_uri(image: np.ndarray) -> str:
    """A uint8 image (HxW or HxWx3) as a ``data:image/png;base64`` URI."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_data_uri(path: str | Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def heat_image(values: np.ndarray) -> np.ndarray:
    """A map in [0, 1] as an RGB uint8 image (matplotlib ``inferno``)."""
    from matplotlib import colormaps

    v = np.clip(np.nan_to_num(np.asarray(values, np.float64)), 0.0, 1.0)
    return (colormaps["inferno"](v)[..., :3] * 255).round().astype(np.uint8)


def _e(text: Any) -> str:
    return html.escape(str(text))


def paper_table_html(paper: PaperTable) -> str:
    groups = [g for g in paper.groups if g.columns]
    head1 = '<tr><th class="l" rowspan="2">Method</th>' + "".join(
        f'<th class="group" colspan="{len(g.columns)}">{_e(g.name)}</th>' for g in groups) + "</tr>"
    head2 = "<tr>" + "".join(f"<th>{_e(c.label)}{' ' + ARROW[c.direction] if c.direction in ARROW else ''}</th>"
                             for g in groups for c in g.columns) + "</tr>"
    body = [f'<tr><td class="l">{_e(label)}</td>' + "".join(f"<td>{t}</td>" for t in texts) + "</tr>"
            for label, texts in marked_rows(paper, best="<b>%s</b>", second="<u>%s</u>", tie=" ≈", escape=_e)]
    return (f'<div class="scroll"><table class="paper"><thead>{head1}{head2}</thead><tbody>{"".join(body)}</tbody>'
            f'</table></div><p class="caption">{_e(paper.caption)}</p><details><summary>How each group was '
            f'computed</summary><p class="caption">{_e(paper.details)}</p></details>')


def _licence(registry_name: str, name: str) -> str:
    from bench.core.registry import REGISTRIES

    try:
        cls = REGISTRIES[registry_name].component_class(name)
    except Exception:
        return ""
    return str(getattr(cls, "licence", "") or "")


def runs_html(tables: list[dict[str, Any]]) -> str:
    from leaderboards.tables import _method_note

    rows = []
    for table in tables:
        for i, run in enumerate(table["runs"]):
            dataset = _e(run["dataset"]) + (' <span class="synthetic">SYNTHETIC (procedurally drawn faces, not '
                                            'real photographs)</span>' if run["synthetic"] else "")
            note = _method_note(run["identity"].get("method", {}))
            method_name = (run["identity"].get("method") or {}).get("name") or run["method"]
            licence = _licence("methods", run["method"]) or _licence("methods", method_name)
            rows.append(f'<tr><td class="l">{_e(table["frame"].at[i, "method"])}</td><td class="l">{dataset}</td>'
                        f'<td class="l">{_e(run["protocol"])}</td><td>{_e(run["seed"])}</td>'
                        f'<td>{len(table["compared_ids"][run["run_id"]])}</td><td>{_e(run["n_ok"])}</td>'
                        f'<td>{_e(run["n_error"])}</td><td class="l">{_e(run["status"])}</td>'
                        f'<td class="l"><code>{_e(run["run_id"])}</code></td><td class="l">{_e(licence)}</td>'
                        f'<td class="l">{_e(note)}</td></tr>')
    head = ("<tr><th class='l'>method</th><th class='l'>dataset</th><th class='l'>protocol</th><th>seed</th>"
            "<th>compared faces</th><th>restored</th><th>failed</th><th class='l'>status</th><th class='l'>run</th>"
            "<th class='l'>licence</th><th class='l'>note</th></tr>")
    return f"<div class='scroll'><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"


def metrics_html(tables: list[dict[str, Any]]) -> str:
    from leaderboards.compare import key_direction

    info: dict[str, dict[str, Any]] = {}
    for table in tables:
        info.update(table["info"])
    rows = []
    for name in sorted(info):
        meta = info[name]
        if "." in name or (meta.get("layout") or {}).get("hidden"):
            continue
        arrow = ARROW.get(key_direction(info, name), "informational")
        kind = "set-level" if meta.get("set_level") else "per image"
        rows.append(f'<tr><td class="l"><code>{_e(name)}</code></td><td class="l">{_e(arrow)}</td>'
                    f'<td class="l">{kind}</td><td class="l">{_e(meta.get("unit") or "")}</td>'
                    f'<td class="l">{_e(meta.get("description") or "")}</td>'
                    f'<td class="l">{_e(_licence("metrics", name))}</td></tr>')
    head = ("<tr><th class='l'>metric</th><th class='l'>better</th><th class='l'>kind</th><th class='l'>unit</th>"
            "<th class='l'>description</th><th class='l'>licence</th></tr>")
    return f"<div class='scroll'><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"


def _tile_html(tile) -> str:
    if tile.image is None:
        img = '<span class="missing">not available</span>'
    else:
        img = f'<img alt="{_e(tile.title)}" src="{png_data_uri(tile.image)}">'
    extra = ""
    if tile.ifqa is not None:
        extra = f'<br><img alt="IFQA map {_e(tile.title)}" src="{png_data_uri(heat_image(tile.ifqa))}">'
    lines = "".join(f"<br>{_e(line)}" for line in tile.lines)
    return f"<td>{img}{extra}<br><b>{_e(tile.title)}</b>{lines}</td>"


def gallery_html(name: str, rows, notes: list[str]) -> str:
    parts = [f"<h3>{_e(name)}</h3>"]
    if rows:
        parts.append('<table class="gallery"><tbody>')
        for row in rows:
            parts.append(f'<tr><td class="l"><code>{_e(row.sample_id)}</code></td>'
                         + "".join(_tile_html(t) for t in row.tiles) + "</tr>")
        parts.append("</tbody></table>")
    parts += [f'<p class="note">{_e(n)}</p>' for n in notes]
    return "".join(parts)


def render(title: str, store_path: str, paper: PaperTable, tables: list[dict[str, Any]],
           figures: dict[str, dict[str, Path]], figure_notes: list[str], galleries: list[tuple[str, list, list[str]]],
           outputs: dict[str, Path]) -> str:
    """The whole page as a string."""
    captions = {
        "attr_vs_resolution": "Attribute error rates vs the up-scaling factor, one line per method; band: the stored "
                              "95 % bootstrap interval; each point on the common faces of its setting.",
        "quality_vs_bias": "Quality (FID, else PSNR) against the gender error vs HQ; bars: 95 % bootstrap interval.",
        "group_heatmap": "Gender error vs HQ per label group (age bin x gender), on the compared faces.",
        "flips": "Flip directions from the stored per-image predictions: male→female and female→male among faces "
                 "whose HQ has that gender; older/younger: restored age bin above/below the HQ's.",
    }
    figs = []
    for name, paths in figures.items():
        figs.append(f'<figure><img alt="{_e(name)}" src="{file_data_uri(paths["png"])}"><figcaption><b>{_e(name)}</b>: '
                    f'{_e(captions.get(name, ""))} Numbers: <code>{_e(paths["csv"].name)}</code>; vector: '
                    f'<code>{_e(paths["svg"].name)}</code>.</figcaption></figure>')
    figs += [f'<p class="note">{_e(n)}</p>' for n in figure_notes]
    written = "".join(f"<li><code>{_e(k)}</code>: <code>{_e(Path(v).name)}</code></li>" for k, v in outputs.items())
    synthetic = any(r["synthetic"] for t in tables for r in t["runs"])
    warning = ('<p class="synthetic">Some results are on the SYNTHETIC dataset (procedurally drawn faces, not real '
               'photographs).</p>') if synthetic else ""
    galleries_html = "".join(gallery_html(name, rows, notes) for name, rows, notes in galleries) or \
        '<p class="note">No gallery (gallery size 0 or no face restored by every run).</p>'
    n_runs = sum(len(t["runs"]) for t in tables)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title><style>{CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p>From the results store <code>{_e(store_path)}</code>: {n_runs} run(s) in {len(tables)} setting(s).</p>
{warning}
<h2 id="table">Results</h2>
{paper_table_html(paper)}
<h2 id="figures">Figures</h2>
{''.join(figs)}
<h2 id="runs">Runs and methods</h2>
{runs_html(tables)}
<h2 id="metrics">Metrics</h2>
{metrics_html(tables)}
<h2 id="gallery">Gallery</h2>
<p>LQ | each method's restoration | HQ, with the predicted age and gender (stored predictions of the attribute
evaluator) under each; faces chosen by a seeded hash of their ids among the faces every run restored.</p>
{galleries_html}
<h2 id="files">Files</h2>
<ul>{written}</ul>
</body></html>
"""
