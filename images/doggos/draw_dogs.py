"""Draw the rando-doggos pictures: small cartoon dogs made of SVG shapes.

    python3 images/doggos/draw_dogs.py OUTDIR

writes OUTDIR/<name>.svg for every dog below plus OUTDIR/dogs.txt (one name a
line, read by the CGI scripts). The output is deterministic (no randomness,
no timestamps) so scripts/build-images can hash it to decide whether the
image needs a rebuild. Standard library only; no downloads.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Dog:
    name: str
    pose: str  # "sit" (facing you) or "stand" (side view)
    fur: str
    light: str  # muzzle, belly, paws
    accent: str  # ears, spots
    background: str
    ears: str  # "floppy", "pointy" or "round"
    collar: str
    tilt: int = 0  # head tilt in degrees (sitting dogs)
    spots: bool = False
    tongue: bool = False
    wag: int = 0  # tail angle in degrees


DOGS = [
    Dog("biscuit", "sit", "#d9a066", "#f6e2c3", "#a0623a", "#fde7ef", "floppy", "#e63946", tilt=-8, tongue=True),
    Dog("pepper", "sit", "#4a4a4f", "#bdbdc4", "#2b2b30", "#e3f2fd", "pointy", "#2a9d8f", tilt=6),
    Dog("mochi", "sit", "#fafafa", "#ffffff", "#e9c9a8", "#fff4d6", "round", "#f4a261", tilt=10, tongue=True),
    Dog("waffles", "stand", "#c68642", "#f1d3a8", "#7b4a1e", "#e8f5e9", "floppy", "#3a86ff", wag=25, tongue=True),
    Dog("luna", "stand", "#f2f2f2", "#ffffff", "#333333", "#ede7f6", "pointy", "#ff006e", spots=True, wag=-10),
    Dog("ziggy", "sit", "#8d5a3b", "#e7c9a9", "#5a3520", "#e0f7fa", "pointy", "#ffbe0b", tilt=-12, spots=True),
    Dog("noodle", "stand", "#b5651d", "#e8b98a", "#6f3b10", "#fff0e0", "floppy", "#8338ec", wag=40),
    Dog("pickles", "sit", "#e6c07b", "#fff6e0", "#c0913d", "#f1f8e9", "floppy", "#06d6a0", tilt=4, spots=True, tongue=True),
]

INK = "#2d2a32"


def _eye(x: float, y: float, r: float = 5.5) -> str:
    return (
        f'<circle cx="{x}" cy="{y}" r="{r}" fill="{INK}"/>'
        f'<circle cx="{x + r * 0.35:.1f}" cy="{y - r * 0.35:.1f}" r="{r * 0.32:.1f}" fill="#fff"/>'
    )


def _sitting(d: Dog) -> str:
    parts = []
    # tail first so the body covers its root
    parts.append(
        f'<g transform="rotate({d.wag} 160 195)">'
        f'<path d="M160 195 C 200 190, 205 160, 190 140" stroke="{d.fur}" stroke-width="14" '
        f'fill="none" stroke-linecap="round"/></g>'
    )
    parts.append(f'<ellipse cx="120" cy="170" rx="55" ry="50" fill="{d.fur}"/>')
    parts.append(f'<ellipse cx="120" cy="180" rx="30" ry="34" fill="{d.light}"/>')
    if d.spots:
        parts.append(f'<ellipse cx="90" cy="160" rx="12" ry="9" fill="{d.accent}" opacity="0.8"/>')
        parts.append(f'<ellipse cx="152" cy="182" rx="9" ry="12" fill="{d.accent}" opacity="0.8"/>')
    for x in (97, 143):  # front legs and paws
        parts.append(f'<rect x="{x - 10}" y="175" width="20" height="38" rx="10" fill="{d.fur}"/>')
        parts.append(f'<ellipse cx="{x}" cy="214" rx="15" ry="9" fill="{d.light}"/>')
    # collar with a tag
    parts.append(f'<path d="M85 132 Q120 150 155 132" stroke="{d.collar}" stroke-width="9" fill="none" stroke-linecap="round"/>')
    parts.append(f'<circle cx="120" cy="149" r="6" fill="#ffd166" stroke="{INK}" stroke-width="1"/>')
    # head, tilted
    head = []
    if d.ears == "floppy":
        head.append(f'<ellipse cx="80" cy="98" rx="15" ry="32" fill="{d.accent}" transform="rotate(18 80 98)"/>')
        head.append(f'<ellipse cx="160" cy="98" rx="15" ry="32" fill="{d.accent}" transform="rotate(-18 160 98)"/>')
    elif d.ears == "pointy":
        head.append(f'<polygon points="82,78 80,28 112,58" fill="{d.accent}"/>')
        head.append(f'<polygon points="158,78 160,28 128,58" fill="{d.accent}"/>')
        head.append(f'<polygon points="87,68 86,42 103,58" fill="{d.light}"/>')
        head.append(f'<polygon points="153,68 154,42 137,58" fill="{d.light}"/>')
    else:
        head.append(f'<circle cx="84" cy="62" r="17" fill="{d.accent}"/>')
        head.append(f'<circle cx="156" cy="62" r="17" fill="{d.accent}"/>')
    head.append(f'<circle cx="120" cy="95" r="45" fill="{d.fur}"/>')
    if d.spots:
        head.append(f'<ellipse cx="140" cy="80" rx="14" ry="11" fill="{d.accent}" opacity="0.8"/>')
    head.append(f'<ellipse cx="120" cy="114" rx="24" ry="18" fill="{d.light}"/>')
    head.append(_eye(103, 88))
    head.append(_eye(137, 88))
    head.append(f'<ellipse cx="120" cy="105" rx="9" ry="6.5" fill="{INK}"/>')
    head.append(f'<path d="M120 111 V118 M108 118 Q114 125 120 118 Q126 125 132 118" stroke="{INK}" stroke-width="2.5" fill="none" stroke-linecap="round"/>')
    if d.tongue:
        head.append(f'<path d="M114 121 Q120 137 126 121 Z" fill="#ff7b9c" stroke="{INK}" stroke-width="1.5"/>')
    parts.append(f'<g transform="rotate({d.tilt} 120 110)">' + "".join(head) + "</g>")
    return "".join(parts)


def _standing(d: Dog) -> str:
    parts = []
    parts.append(
        f'<g transform="rotate({d.wag} 62 128)">'
        f'<path d="M62 128 C 40 120, 32 96, 44 78" stroke="{d.fur}" stroke-width="12" '
        f'fill="none" stroke-linecap="round"/></g>'
    )
    for x, shade in ((72, d.accent), (140, d.accent), (88, d.fur), (156, d.fur)):  # back legs darker
        parts.append(f'<rect x="{x - 9}" y="140" width="18" height="58" rx="9" fill="{shade}"/>')
        parts.append(f'<ellipse cx="{x + 3}" cy="198" rx="13" ry="7" fill="{d.light}"/>')
    parts.append(f'<ellipse cx="115" cy="135" rx="62" ry="32" fill="{d.fur}"/>')
    parts.append(f'<ellipse cx="118" cy="150" rx="40" ry="14" fill="{d.light}"/>')
    if d.spots:
        parts.append(f'<ellipse cx="95" cy="122" rx="14" ry="10" fill="{d.accent}" opacity="0.85"/>')
        parts.append(f'<ellipse cx="132" cy="128" rx="9" ry="7" fill="{d.accent}" opacity="0.85"/>')
        parts.append(f'<ellipse cx="72" cy="140" rx="7" ry="6" fill="{d.accent}" opacity="0.85"/>')
    # neck and collar
    parts.append(f'<path d="M150 128 L168 92 L190 108 L172 140 Z" fill="{d.fur}"/>')
    parts.append(f'<path d="M158 114 L185 126" stroke="{d.collar}" stroke-width="9" stroke-linecap="round"/>')
    parts.append(f'<circle cx="172" cy="128" r="5.5" fill="#ffd166" stroke="{INK}" stroke-width="1"/>')
    # head
    parts.append(f'<circle cx="180" cy="88" r="31" fill="{d.fur}"/>')
    parts.append(f'<ellipse cx="207" cy="100" rx="22" ry="14" fill="{d.light}"/>')
    parts.append(f'<ellipse cx="226" cy="95" rx="7" ry="6" fill="{INK}"/>')
    parts.append(_eye(190, 80, 5))
    parts.append(f'<path d="M212 110 Q220 114 227 106" stroke="{INK}" stroke-width="2.5" fill="none" stroke-linecap="round"/>')
    if d.tongue:
        parts.append(f'<path d="M213 111 Q214 128 221 112 Z" fill="#ff7b9c" stroke="{INK}" stroke-width="1.5"/>')
    if d.ears == "floppy":
        parts.append(f'<ellipse cx="166" cy="88" rx="12" ry="27" fill="{d.accent}" transform="rotate(20 166 88)"/>')
    elif d.ears == "pointy":
        parts.append(f'<polygon points="160,68 166,28 184,60" fill="{d.accent}"/>')
        parts.append(f'<polygon points="165,62 168,40 178,58" fill="{d.light}"/>')
    else:
        parts.append(f'<circle cx="165" cy="62" r="14" fill="{d.accent}"/>')
    return "".join(parts)


def svg(d: Dog) -> str:
    body = _sitting(d) if d.pose == "sit" else _standing(d)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 240" width="240" height="240" '
        f'role="img" aria-labelledby="t-{d.name}">'
        f'<title id="t-{d.name}">{d.name.capitalize()}, a good dog</title>'
        f'<circle cx="120" cy="120" r="118" fill="{d.background}"/>'
        f'<ellipse cx="120" cy="220" rx="80" ry="9" fill="{INK}" opacity="0.12"/>'
        f"{body}</svg>\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for d in DOGS:
        (out / f"{d.name}.svg").write_text(svg(d), encoding="utf-8")
    (out / "dogs.txt").write_text("".join(f"{d.name}\n" for d in DOGS), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
