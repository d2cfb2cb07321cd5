"""Random landscape scenes for the built-in dataset, each drawable by day and by night.

A scene is a list of shapes in unit coordinates (x right, y down, both in [0, 1]) with a
*role* and a day colour. Rendering by night maps every role to its night look: the sky turns
navy with stars, the sun becomes a pale moon, clouds go grey-blue, lit windows turn yellow and
everything else is darkened, desaturated and tinted blue. So night = a fixed function of the
day picture (apart from the stars), a translation a network can learn.
"""
import math
import random
from typing import List, Tuple

import numpy as np
from PIL import Image, ImageDraw

Color = Tuple[int, int, int]

DAY_SKY = ((70, 130, 215), (175, 215, 245))  # top, horizon
NIGHT_SKY = ((6, 9, 32), (28, 38, 84))
SUN, SUN_GLOW, MOON, CRATER = (255, 214, 64), (255, 238, 150), (232, 232, 208), (204, 204, 186)
CLOUD_DAY, CLOUD_NIGHT = (247, 247, 252), (62, 68, 100)
WINDOW_DAY, WINDOW_LIT, WINDOW_DARK = (168, 204, 232), (255, 208, 84), (26, 30, 46)
STAR = (255, 252, 220)
GRASS = [(86, 164, 70), (110, 176, 64), (74, 148, 88), (134, 170, 74)]
WALLS = [(238, 216, 170), (222, 124, 92), (242, 190, 118), (204, 172, 140), (250, 236, 204)]
ROOFS = [(172, 60, 50), (124, 72, 50), (92, 92, 116), (196, 96, 42)]
LEAVES = [(58, 138, 52), (40, 110, 62), (96, 150, 48), (204, 120, 40)]
FLOWERS = [(232, 64, 72), (250, 210, 60), (236, 130, 200), (250, 250, 250)]
TRUNK, DOOR = (116, 78, 44), (96, 60, 40)


def night_color(day: Color) -> Color:
    """The generic night version of a day colour: desaturated, about a quarter as bright, bluer."""
    lum = 0.299 * day[0] + 0.587 * day[1] + 0.114 * day[2]
    tint = (0, 4, 22)
    return tuple(int(round(0.28 * (0.4 * c + 0.6 * lum) + t)) for c, t in zip(day, tint))


def _disc(cx: float, cy: float, rx: float, ry: float = None) -> Tuple[float, float, float, float]:
    """Bounding box of the ellipse centred on (cx, cy) with radii rx, ry (ry = rx by default)."""
    ry = rx if ry is None else ry
    return (cx - rx, cy - ry, cx + rx, cy + ry)


def _jitter(color: Color, rng: random.Random, amount: int) -> Color:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in color)


def _hill(rng: random.Random, base: float, amp: float, n: int = 48) -> List[Tuple[float, float]]:
    """Outline of a smooth hill (sum of two sines) closed along the bottom edge."""
    f1, f2 = rng.uniform(1.0, 3.0), rng.uniform(3.0, 7.0)
    p1, p2 = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    top = [(i / (n - 1), base - amp * (0.7 * math.sin(f1 * i / (n - 1) * math.pi + p1)
                                      + 0.3 * math.sin(f2 * i / (n - 1) * math.pi + p2)))
           for i in range(n)]
    return [(-0.01, 1.01)] + [(x * 1.02 - 0.01, y) for x, y in top] + [(1.01, 1.01)]


def _house(rng: random.Random, x: float, y: float, s: float) -> list:
    w, h = s * rng.uniform(0.9, 1.4), s * rng.uniform(0.7, 1.1)
    wall, roof = _jitter(rng.choice(WALLS), rng, 10), _jitter(rng.choice(ROOFS), rng, 10)
    shapes = [("rect", "solid", (x - w / 2, y - h, x + w / 2, y), wall),
              ("polygon", "solid", [(x - w * 0.62, y - h), (x + w * 0.62, y - h),
                                    (x, y - h - s * rng.uniform(0.45, 0.7))], roof),
              ("rect", "solid", (x - w * 0.1, y - h * 0.45, x + w * 0.1, y), DOOR)]
    win = min(w, h) * 0.24
    for cx in (x - w * 0.3, x + w * 0.3):
        box = (cx - win / 2, y - h * 0.72, cx + win / 2, y - h * 0.72 + win)
        shapes.append(("rect", "window" if rng.random() < 0.75 else "window_off", box, WINDOW_DAY))
    return shapes


def _tree(rng: random.Random, x: float, y: float, s: float) -> list:
    leaves = _jitter(rng.choice(LEAVES), rng, 12)
    trunk_h = s * rng.uniform(0.4, 0.7)
    shapes = [("rect", "solid", (x - s * 0.08, y - trunk_h, x + s * 0.08, y), TRUNK)]
    if rng.random() < 0.5:  # round tree
        r = s * rng.uniform(0.35, 0.5)
        shapes.append(("ellipse", "solid", _disc(x, y - trunk_h - 0.6 * r, r), leaves))
    else:  # pine
        height = s * rng.uniform(1.1, 1.6)
        base = y - trunk_h * 0.5
        shapes.append(("polygon", "solid",
                       [(x - s * 0.35, base), (x + s * 0.35, base), (x, base - height)], leaves))
    return shapes


def random_scene(rng: random.Random) -> dict:
    """Draw one random scene: sky tint, sun/moon, stars, clouds, hills, houses, trees, flowers."""
    horizon = rng.uniform(0.55, 0.72)
    scene = {"sky_shift": [rng.randint(-18, 18) for _ in range(3)], "shapes": []}
    add = scene["shapes"].extend
    for _ in range(rng.randint(8, 22)):
        r = rng.uniform(0.004, 0.008)
        x, y = rng.uniform(0, 1), rng.uniform(0, horizon - 0.05)
        add([("ellipse", "star", _disc(x, y, r), STAR)])
    sx, sy, sr = rng.uniform(0.12, 0.88), rng.uniform(0.1, 0.3), rng.uniform(0.06, 0.1)
    add([("ellipse", "sun_glow", _disc(sx, sy, sr * 1.5), SUN_GLOW),
         ("ellipse", "sun", _disc(sx, sy, sr), SUN)])
    for _ in range(rng.randint(0, 3)):
        cx, cy, cw = rng.uniform(0, 1), rng.uniform(0.08, horizon - 0.15), rng.uniform(0.08, 0.16)
        for k in range(3):
            dx, r = (k - 1) * cw * 0.6, cw * (0.55 if k == 1 else 0.4)
            add([("ellipse", "cloud", _disc(cx + dx, cy, r * 1.3, r * 0.7), CLOUD_DAY)])
    grass = rng.choice(GRASS)
    far = tuple(int(0.55 * c + 0.45 * h) for c, h in zip(grass, DAY_SKY[1]))  # hazy distance
    back = _hill(rng, horizon - 0.02, rng.uniform(0.04, 0.12))
    front = _hill(rng, horizon + 0.08, rng.uniform(0.01, 0.04))
    add([("polygon", "solid", back, _jitter(far, rng, 8)),
         ("polygon", "solid", front, _jitter(grass, rng, 8))])
    things = []
    for _ in range(rng.randint(0, 3)):
        things.append(("house", rng.uniform(0.08, 0.92), rng.uniform(horizon + 0.14, 0.95)))
    for _ in range(rng.randint(1, 5)):
        things.append(("tree", rng.uniform(0.03, 0.97), rng.uniform(horizon + 0.1, 0.97)))
    for _ in range(rng.randint(0, 6)):
        things.append(("flower", rng.uniform(0.02, 0.98), rng.uniform(horizon + 0.16, 0.99)))
    for kind, x, y in sorted(things, key=lambda t: t[2]):  # far (higher) first, near ones on top
        s = 0.1 + 0.25 * (y - horizon)  # nearer objects are bigger
        if kind == "house":
            add(_house(rng, x, y, s * 1.1))
        elif kind == "tree":
            add(_tree(rng, x, y, s))
        else:
            r = rng.uniform(0.012, 0.02)
            add([("ellipse", "solid", _disc(x, y, r), rng.choice(FLOWERS))])
    return scene


def _shape_color(role: str, day: Color, night: bool):
    """Colour of a shape with ``role`` in the chosen light; None = not drawn."""
    if not night:
        return None if role == "star" else day
    table = {"star": STAR, "sun": MOON, "sun_glow": None, "cloud": CLOUD_NIGHT,
             "window": WINDOW_LIT, "window_off": WINDOW_DARK}
    return table[role] if role in table else night_color(day)


def render(scene: dict, size: int, night: bool) -> Image.Image:
    """Draw ``scene`` as a ``size`` x ``size`` RGB image (supersampled for smooth edges)."""
    ss = 4 if size <= 64 else 2
    big = size * ss
    top, bottom = NIGHT_SKY if night else DAY_SKY
    shift = np.array(scene["sky_shift"]) * (0.3 if night else 1.0)
    t = np.linspace(0.0, 1.0, big)[:, None]
    rows = (1 - t) * (np.array(top) + shift) + t * (np.array(bottom) + shift)
    rows = np.clip(rows, 0, 255).round().astype(np.uint8)  # (big, 3): one colour per row
    sky = np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (big, big, 3)))
    img = Image.fromarray(sky, "RGB")
    draw = ImageDraw.Draw(img)
    for kind, role, coords, day in scene["shapes"]:
        color = _shape_color(role, day, night)
        if color is None:
            continue
        if kind == "polygon":
            draw.polygon([(x * big, y * big) for x, y in coords], fill=color)
            continue
        box = [c * big for c in coords]
        if role == "star":  # at least about one output pixel wide, else stars vanish when reduced
            r = max((box[2] - box[0]) / 2, 0.6 * ss)
            box = _disc((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, r)
        (draw.ellipse if kind == "ellipse" else draw.rectangle)(box, fill=color)
        if role == "sun" and night:  # two craters make the disc read as a moon
            w = box[2] - box[0]
            for fx, fy, fr in ((0.35, 0.4, 0.14), (0.62, 0.62, 0.1)):
                x, y, r = box[0] + fx * w, box[1] + fy * w, fr * w
                draw.ellipse(_disc(x, y, r), fill=CRATER)
    return img.reduce(ss)
