"""Sanitized email keeps its looks, as a real browser shows it: 14 realistic templates
(tests/data/email_templates/: a responsive newsletter with media queries, a table invoice, a
password reset, backgrounds and gradients, Outlook conditional comments and mso- properties, a
reply thread, dark-mode media queries, lists, a calendar invite, cards, in-message anchors,
right-to-left text, code, a status report with a chart) are rendered by headless Chromium as
written and as sanitized, at 600 and 360 px, and compared pixel by pixel: at most 1% of the
pixels in the painted area may differ.

The original is rendered as the full document it is. The sanitized fragment is rendered the
way a mail client shows a message: in a container with no margin of its own (every template
resets the body margin, as email templates do, since clients drop the body). cid: images are
served from local files in both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tinycss2
from PIL import Image, ImageChops, ImageDraw

from relayops.adapters.sanitize import sanitize
from tests.specs_util import REPO

TEMPLATES = sorted((REPO / "tests" / "data" / "email_templates").glob("*.html"))
WIDTHS = (600, 360)
HEIGHT = 1800
MAX_DIFFERENT = 0.01
CHANNEL_TOLERANCE = 24  # of 255: antialiasing noise, not a change of colour or layout
SHELL = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
    '<body style="margin:0;padding:0">{}</body></html>'
)
CID = re.compile(r"cid:([A-Za-z0-9@._-]+)")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not on PATH: scripts/bootstrap-tools.sh installs Debian's chromium "
    "package (make test runs it first)",
)


def _images(folder: Path) -> dict[str, Path]:
    """The cid: images the templates use, drawn as PNG files."""
    sizes = {"logo": (64, 64), "hero": (1136, 400), "chart": (1152, 400)}
    paths = {}
    for name, (width, height) in sizes.items():
        image = Image.new("RGB", (width, height), "#dbeafe")
        draw = ImageDraw.Draw(image)
        for i in range(8):
            x = i * width // 8
            gap = width // 64
            draw.rectangle(
                [x + gap, height - (i + 2) * height // 12, x + width // 8 - gap, height - gap],
                fill=(30 + 25 * i, 64, 175),
            )
        draw.ellipse([4, 4, min(width, height) // 3, min(width, height) // 3], fill="#f59e0b")
        paths[name] = folder / f"{name}.png"
        image.save(paths[name])
    return paths


def _local_images(html: str, images: dict[str, Path]) -> str:
    return CID.sub(lambda m: images[m[1]].as_uri(), html)


def _screenshot(page: Path, width: int, out: Path, profile: Path) -> Path:
    subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--allow-file-access-from-files",
            f"--user-data-dir={profile}",
            f"--window-size={width},{HEIGHT}",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> Iterator[dict[tuple[str, int], tuple[Path, Path, str]]]:
    """(template, width) -> (original screenshot, sanitized screenshot, sanitized HTML)."""
    folder = tmp_path_factory.mktemp("fidelity")
    images = _images(folder)
    jobs = []
    sanitized_html = {}
    for template in TEMPLATES:
        html = template.read_text()
        clean = sanitize(html, inline_ids=set(CID.findall(html))).html
        sanitized_html[template.stem] = clean
        original = folder / f"{template.stem}.original.html"
        original.write_text(_local_images(html, images))
        cleaned = folder / f"{template.stem}.sanitized.html"
        cleaned.write_text(SHELL.format(_local_images(clean, images)))
        for width in WIDTHS:
            for page in (original, cleaned):
                out = folder / f"{page.stem}.{width}.png"
                jobs.append((page, width, out, folder / f"profile-{len(jobs)}"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: _screenshot(*job), jobs))
    yield {
        (template.stem, width): (
            folder / f"{template.stem}.original.{width}.png",
            folder / f"{template.stem}.sanitized.{width}.png",
            sanitized_html[template.stem],
        )
        for template in TEMPLATES
        for width in WIDTHS
    }


def different_share(first: Path, second: Path) -> float:
    """The share of pixels that differ, within the area either image paints (not white)."""
    a, b = Image.open(first).convert("RGB"), Image.open(second).convert("RGB")
    assert a.size == b.size
    white = Image.new("RGB", a.size, "white")
    boxes = [box for box in (ImageChops.difference(image, white).getbbox() for image in (a, b))]
    painted = [box for box in boxes if box is not None]
    assert painted, "both screenshots are blank"
    left = min(box[0] for box in painted)
    top = min(box[1] for box in painted)
    right = max(box[2] for box in painted)
    bottom = max(box[3] for box in painted)
    region = (left, top, right, bottom)
    difference = ImageChops.difference(a.crop(region), b.crop(region)).convert("L")
    changed = sum(difference.point(lambda v: 255 if v > CHANNEL_TOLERANCE else 0).histogram()[255:])
    return changed / ((right - left) * (bottom - top))


def test_there_are_at_least_12_templates():
    assert len(TEMPLATES) >= 12


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("template", [t.stem for t in TEMPLATES])
def test_sanitized_email_looks_like_the_original(renders, template, width):
    original, sanitized, _ = renders[template, width]
    share = different_share(original, sanitized)
    assert share <= MAX_DIFFERENT, f"{share:.2%} of the painted pixels differ"


def test_the_comparison_sees_a_lost_style_block(renders, tmp_path):
    """The judge's own check: the newsletter without its style block differs by far more."""
    html = (TEMPLATES[0]).read_text()
    stripped = re.sub(r"<style.*?</style>", "", html, flags=re.DOTALL)
    images = _images(tmp_path)
    page = tmp_path / "stripped.html"
    page.write_text(_local_images(stripped, images))
    out = _screenshot(page, 600, tmp_path / "stripped.png", tmp_path / "profile")
    original, _, _ = renders[TEMPLATES[0].stem, 600]
    assert different_share(original, out) > 10 * MAX_DIFFERENT


def test_dark_mode_and_responsive_rules_survive(renders):
    """Media queries do not apply in a light, 600 px screenshot: read them back instead."""
    _, _, dark = renders["07_dark_mode", 600]
    _, _, newsletter = renders["01_responsive_newsletter", 600]

    def media_queries(html: str) -> list[str]:
        css = "".join(re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.DOTALL))
        rules = tinycss2.parse_stylesheet(css, skip_whitespace=True, skip_comments=True)
        return [
            tinycss2.serialize(rule.prelude).strip()
            for rule in rules
            if rule.type == "at-rule" and rule.lower_at_keyword == "media"
        ]

    assert media_queries(dark) == ["(prefers-color-scheme: dark)"]
    assert media_queries(newsletter) == ["only screen and (max-width: 600px)"]
