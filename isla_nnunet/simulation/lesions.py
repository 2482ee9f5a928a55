"""Acute infarcts: territorial, lacunar and embolic lesions of a requested volume.

Every lesion component is the connected superlevel set of a smooth score field defined in template
(MNI) millimetres, restricted to parenchyma voxels of the output grid:

- a *territorial* infarct is a wedge: a tube from a deep point of the feeding artery (root) to a
  cortical seed, widening towards the cortex, staying in one hemisphere;
- a *lacunar* infarct is a small ellipsoid in the basal ganglia, internal capsule or thalamus;
- *emboli* are small round lesions scattered over one or more territories.

A low-frequency random texture roughens each field, so borders are irregular. Each component's
threshold is chosen on the output grid by bisection so that its 26-connected region has the
requested number of voxels; components are kept 2 voxels apart so they stay separate lesions.
The patterns map onto the DeepISLES stroke-pattern rules (ISLA_SPEC §8): ``single`` and ``lacunar``
give one lesion (single vessel infarct), ``scattered`` >= 3 lesions with the largest < 60% of the
total, ``mixed`` one territorial lesion (65-90% of the volume) with 1-5 emboli (mixed).

Territories are coarse boxes in MNI space around where each artery's cortical branches end,
not an atlas; they are good enough to place plausible shapes, not to label territories.

Example:
    >>> import numpy as np
    >>> from isla_nnunet.simulation import lesions
    >>> spec = lesions.sample_lesion_spec(np.random.default_rng(1), pattern="scattered", volume_ml=3.0)
    >>> spec.pattern, spec.volume_ml
    ('scattered', 3.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import cc3d
import numpy as np
from scipy import ndimage

from isla_nnunet.errors import ISLAError

PATTERNS = ("none", "lacunar", "single", "scattered", "mixed")
DEFAULT_PATTERN_WEIGHTS: dict[str, float] = {
    "none": 0.10,
    "lacunar": 0.15,
    "single": 0.35,
    "scattered": 0.25,
    "mixed": 0.15,
}
# Total lesion volume (ml) drawn log-uniformly per pattern. A lacune is at most ~15 mm across
# (~1.8 ml as a sphere); mixed stays >= 6 ml so the DeepISLES rules do not call it scattered.
VOLUME_RANGES_ML: dict[str, tuple[float, float]] = {
    "lacunar": (0.1, 1.8),
    "single": (2.0, 180.0),
    "scattered": (0.3, 25.0),
    "mixed": (6.0, 120.0),
}
# Median relative ADC drop inside the lesion mask (issue 3: 30-60%).
ADC_REDUCTION_RANGE = (0.30, 0.60)
# Relative b=0 rise in the lesion (T2 prolongation grows over the first hours/days).
T2_GAIN_RANGE = (0.05, 0.5)
CONNECTIVITY = 26


@dataclass(frozen=True)
class Territory:
    """A vascular territory in the right hemisphere (x > 0; mirrored for the left).

    ``root_mm`` is a deep point of the feeding artery, ``box_mm`` the ((x0, x1), (y0, y1), (z0, z1))
    region where its lesions are centred, ``weight`` its share of territorial infarcts.
    """

    root_mm: tuple[float, float, float] | None
    box_mm: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    weight: float


TERRITORIES: dict[str, Territory] = {
    "MCA": Territory((18.0, 2.0, -2.0), ((34.0, 70.0), (-75.0, 40.0), (-25.0, 55.0)), 0.60),
    "ACA": Territory((5.0, 20.0, 0.0), ((2.0, 18.0), (-45.0, 45.0), (25.0, 75.0)), 0.10),
    "PCA": Territory((10.0, -30.0, -6.0), ((4.0, 40.0), (-100.0, -62.0), (-15.0, 30.0)), 0.15),
    "cerebellar": Territory((8.0, -45.0, -35.0), ((8.0, 45.0), (-85.0, -45.0), (-55.0, -25.0)), 0.15),
    # Deep perforator territory (basal ganglia, internal capsule, thalamus): lacunes only.
    "deep": Territory(None, ((12.0, 30.0), (-28.0, 18.0), (-4.0, 18.0)), 0.0),
}


@dataclass(frozen=True)
class LesionSpec:
    """What to draw: pattern, total volume, side and territory, and the lesion's contrast.

    ``side`` is ``"left"``/``"right"`` for the main lesion (emboli may fall on both sides);
    ``adc_reduction`` is the median relative ADC drop inside the mask; ``t2_gain`` the b=0 rise.
    """

    pattern: str
    volume_ml: float = 0.0
    side: str = "right"
    territory: str | None = None
    adc_reduction: float = 0.45
    t2_gain: float = 0.1

    def __post_init__(self):
        if self.pattern not in PATTERNS:
            raise ISLAError(f"unknown lesion pattern {self.pattern!r}; use one of {', '.join(PATTERNS)}")
        if self.pattern == "none" and self.volume_ml != 0:
            raise ISLAError("a lesion-free case has volume 0; drop the volume or pick a lesion pattern")
        if self.pattern != "none" and not 0 < self.volume_ml <= 400:
            raise ISLAError(f"lesion volume must be in (0, 400] ml, got {self.volume_ml}")
        if self.side not in ("left", "right"):
            raise ISLAError(f"lesion side must be 'left' or 'right', got {self.side!r}")
        if self.territory is not None and self.territory not in TERRITORIES:
            raise ISLAError(f"unknown territory {self.territory!r}; use one of {', '.join(TERRITORIES)}")
        lacunes_only = self.territory is not None and TERRITORIES[self.territory].root_mm is None
        if self.pattern in ("single", "mixed") and lacunes_only:
            raise ISLAError(f"territory {self.territory!r} holds lacunes only; use pattern 'lacunar' there")
        if not 0 < self.adc_reduction < 0.9:
            raise ISLAError(f"ADC reduction must be in (0, 0.9), got {self.adc_reduction}")

    def to_dict(self) -> dict:
        return asdict(self)


def sample_lesion_spec(
    rng: np.random.Generator,
    pattern: str | None = None,
    volume_ml: float | None = None,
    pattern_weights: Mapping[str, float] | None = None,
) -> LesionSpec:
    """Draw a lesion specification; ``pattern`` and ``volume_ml`` fix those parts of it.

    A ``volume_ml`` without a ``pattern`` asks for a lesion, so the pattern is then drawn among the
    lesion patterns only.
    """
    weights = dict(pattern_weights or DEFAULT_PATTERN_WEIGHTS)
    if volume_ml is not None:
        weights.pop("none", None)
    unknown = set(weights) - set(PATTERNS)
    if unknown or not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
        raise ISLAError(f"pattern weights must be non-negative over {', '.join(PATTERNS)}; got {weights}")
    # Every field is drawn, in a fixed order, even when fixed by the caller: fixing one part of the
    # specification leaves the others as they were.
    names = list(weights)
    probabilities = np.array([weights[n] for n in names], dtype=float)
    drawn_pattern = names[rng.choice(len(names), p=probabilities / probabilities.sum())]
    pattern = pattern if pattern is not None else drawn_pattern
    low, high = VOLUME_RANGES_ML.get(pattern, (1.0, 1.0))
    drawn_volume = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    side = "left" if rng.random() < 0.5 else "right"
    names = [n for n, t in TERRITORIES.items() if t.weight > 0]
    probabilities = np.array([TERRITORIES[n].weight for n in names])
    territory = names[rng.choice(len(names), p=probabilities / probabilities.sum())]
    reduction = float(rng.uniform(*ADC_REDUCTION_RANGE))
    t2_gain = float(rng.uniform(*T2_GAIN_RANGE))
    if pattern == "none":
        return LesionSpec("none", 0.0, side, None, reduction, t2_gain)
    if pattern == "lacunar":
        territory = "deep"
    volume = float(volume_ml) if volume_ml is not None else round(drawn_volume, 3)
    return LesionSpec(pattern, volume, side, territory, reduction, t2_gain)


@dataclass(frozen=True)
class Lesions:
    """Lesions on the output grid.

    ``mask`` is the ground truth (bool); ``adc_reduction`` the relative ADC drop per voxel (smooth,
    reaching a little beyond the mask: partial volume); ``component_voxels`` the voxel count of
    each drawn component, main lesion first.
    """

    mask: np.ndarray
    adc_reduction: np.ndarray
    component_voxels: tuple[int, ...]
    spec: LesionSpec


def _texture(points: np.ndarray, rng: np.random.Generator, waves: int = 6) -> np.ndarray:
    # A sum of random plane waves with 12-40 mm wavelengths: smooth, cheap at scattered points, and
    # with a standard deviation of about 0.5.
    directions = rng.normal(size=(waves, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    wavenumbers = 2 * np.pi / rng.uniform(12.0, 40.0, waves)
    phases = rng.uniform(0, 2 * np.pi, waves)
    k = (directions * wavenumbers[:, None]).astype(np.float32)
    return np.cos(points @ k.T + phases.astype(np.float32)).sum(axis=1) / np.float32(np.sqrt(2.0 * waves))


def _wedge_score(points, root, seed, rng):
    axis = seed - root
    length = float(np.linalg.norm(axis))
    axis = axis / length
    rel = points - root.astype(np.float32)
    along = rel @ axis.astype(np.float32) / np.float32(length)
    perpendicular = np.linalg.norm(
        rel - (along * np.float32(length))[:, None] * axis.astype(np.float32), axis=1
    )
    near, far = rng.uniform(3.0, 6.0), rng.uniform(18.0, 30.0)
    radius = near + (far - near) * np.clip(along, 0.0, 1.0)
    # Highest at the cortical seed: small infarcts are cortical, larger ones reach back towards the
    # root (deep white matter, basal ganglia) as a wedge; little extends beyond the seed.
    behind = np.where(along < 1.0, 2.0 * (1.0 - along) ** 2, 8.0 * (along - 1.0) ** 2)
    return -((perpendicular / radius) ** 2) - behind + 0.6 * _texture(points, rng)


def _blob_score(points, centre, radius_mm, rng, roughness=0.15):
    scales = radius_mm * rng.uniform(0.75, 1.3, 3)
    d2 = (((points - centre.astype(np.float32)) / scales.astype(np.float32)) ** 2).sum(axis=1)
    return 1.0 - d2 + roughness * _texture(points, rng)


def _grow(voxels: np.ndarray, scores: np.ndarray, target: int) -> np.ndarray:
    """Indices (rows of ``voxels``) of a 26-connected region of ``target`` voxels with high scores.

    The connected component holding the best voxel among the ``r`` best voxels grows monotonically
    with ``r``; bisection finds the last ``r`` where it is smaller than ``target``. Adding one more
    voxel may merge a whole fragment, so the region then grows from the smaller component into the
    larger one ring by ring (geodesic dilation), taking the best-scoring voxels of the last ring:
    the result is connected and has exactly ``target`` voxels.
    """
    order = np.argsort(-scores, kind="stable")
    local = voxels[order] - voxels.min(axis=0)
    where = tuple(local.T)
    box = np.zeros(tuple(local.max(axis=0) + 1), dtype=bool)

    def component(rank):
        box[...] = False
        box[tuple(local[:rank].T)] = True
        labels = cc3d.connected_components(box, connectivity=CONNECTIVITY)
        return labels == labels[tuple(local[0])]

    rank_of = np.full(box.shape, -1, dtype=np.int64)
    rank_of[where] = np.arange(len(order))
    largest = component(len(order))
    if largest.sum() <= target:
        return order[rank_of[largest]]
    low, high = target, len(order)
    best = component(low)
    if best.sum() == target:
        return order[rank_of[best]]
    while high - low > 1:
        middle = (low + high) // 2
        if component(middle).sum() < target:
            low = middle
        else:
            high = middle
    grown, limit = component(low), component(high)
    score_of = np.full(box.shape, -np.inf, dtype=np.float32)
    score_of[where] = scores[order]
    ball = np.ones((3, 3, 3), dtype=bool)
    while (missing := target - int(grown.sum())) > 0:
        ring = np.flatnonzero(ndimage.binary_dilation(grown, ball) & limit & ~grown)
        if ring.size > missing:
            ring = ring[np.argsort(-score_of.flat[ring], kind="stable")[:missing]]
        grown.flat[ring] = True
    return order[rank_of[grown]]


def _pick(rng, points, box, count=1, spacing_mm=0.0, mirror=1.0):
    (x0, x1), (y0, y1), (z0, z1) = box
    x = points[:, 0] * mirror
    inside = np.flatnonzero(
        (x >= x0)
        & (x <= x1)
        & (points[:, 1] >= y0)
        & (points[:, 1] <= y1)
        & (points[:, 2] >= z0)
        & (points[:, 2] <= z1)
    )
    if inside.size == 0:
        # The box can fall outside a grid's field of view; any parenchyma on that side will do.
        inside = np.flatnonzero(x > 0)
    chosen: list[np.ndarray] = []
    for candidate in rng.permutation(inside)[: 50 * count]:
        point = points[candidate]
        if all(np.linalg.norm(point - other) >= spacing_mm for other in chosen):
            chosen.append(point)
            if len(chosen) == count:
                break
    return chosen


def _split_volume(rng, total, parts):
    while True:
        shares = rng.dirichlet(np.full(parts, 1.5))
        if shares.max() <= 0.55:
            return total * shares


def simulate_lesions(
    spec: LesionSpec,
    parenchyma: np.ndarray,
    voxel_to_mni: np.ndarray,
    spacing_xyz,
    rng: np.random.Generator,
) -> Lesions:
    """Draw ``spec`` on a grid.

    Args:
        spec: what to draw.
        parenchyma: GM + WM fraction per voxel of the output grid; lesions cover voxels >= 0.5.
        voxel_to_mni: 4x4 map from output voxel indices to template (MNI) mm.
        spacing_xyz: output voxel spacing in mm.
        rng: generator for positions, shapes and textures.
    """
    shape = parenchyma.shape
    mask = np.zeros(shape, dtype=bool)
    if spec.pattern == "none":
        return Lesions(mask, np.zeros(shape, dtype=np.float32), (), spec)
    voxel_volume_ml = float(np.prod(spacing_xyz)) / 1000.0
    voxels = np.argwhere(parenchyma >= 0.5)
    points = (voxels @ voxel_to_mni[:3, :3].T + voxel_to_mni[:3, 3]).astype(np.float32)
    mirror = 1.0 if spec.side == "right" else -1.0
    territory = TERRITORIES[spec.territory or "MCA"]

    # (kind, volume_ml, hemisphere sign or None, root, seed)
    components: list[tuple] = []
    main_share = {"single": 1.0, "lacunar": 1.0, "scattered": 0.0}.get(spec.pattern, rng.uniform(0.65, 0.9))
    if spec.pattern == "lacunar":
        centres = _pick(rng, points, territory.box_mm, mirror=mirror)
        components += [("blob", spec.volume_ml, mirror, None, centre) for centre in centres]
    elif spec.pattern in ("single", "mixed"):
        root = np.array(territory.root_mm) * np.array([mirror, 1.0, 1.0])
        seeds = _pick(rng, points, territory.box_mm, count=8, mirror=mirror)
        if seeds:
            # The farthest of a few candidates from the root: a cortical, not a deep, seed.
            seed = max(seeds, key=lambda p: float(np.linalg.norm(p - root)))
            components.append(("wedge", spec.volume_ml * main_share, mirror, root, seed))
    if spec.pattern in ("scattered", "mixed"):
        emboli_ml = spec.volume_ml * (1.0 - main_share)
        smallest_ml = 6 * voxel_volume_ml
        wanted = int(rng.integers(3, 13)) if spec.pattern == "scattered" else int(rng.integers(2, 6))
        count = max(min(wanted, int(emboli_ml / smallest_ml)), 3 if spec.pattern == "scattered" else 1)
        shower = rng.random() < 0.6
        names = [n for n, t in TERRITORIES.items() if t.root_mm is not None]
        centres = []
        for _ in range(count):
            name = spec.territory if shower else names[rng.integers(len(names))]
            side = mirror if shower else rng.choice([-1.0, 1.0])
            centres += _pick(rng, points, TERRITORIES[name or "MCA"].box_mm, spacing_mm=12.0, mirror=side)
        volumes = (
            _split_volume(rng, emboli_ml, len(centres)) if len(centres) > 1 else [emboli_ml] * len(centres)
        )
        components += [("blob", v, None, None, c) for v, c in zip(volumes, centres, strict=True)]
    if not components:
        raise ISLAError(f"no parenchyma found for a {spec.pattern} lesion; check the grid and pose")

    forbidden = np.zeros(shape, dtype=bool)
    severity = np.zeros(shape, dtype=np.float32)
    drawn = []
    for kind, volume_ml, hemisphere, root, seed in components:
        target = max(1, int(round(volume_ml / voxel_volume_ml)))
        free = ~forbidden[tuple(voxels.T)]
        if hemisphere is not None:
            free &= points[:, 0] * hemisphere > 1.0
        if kind == "blob":
            radius = (3.0 * volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
            free &= np.linalg.norm(points - seed, axis=1) <= 3.0 * radius + 10.0
        rows = np.flatnonzero(free)
        if rows.size == 0:
            continue
        if kind == "wedge":
            scores = _wedge_score(points[rows], root, seed, rng)
        else:
            scores = _blob_score(points[rows], seed, radius, rng)
        chosen = rows[_grow(voxels[rows], scores, target)]
        chosen_scores = scores[np.searchsorted(rows, chosen)]
        span = float(chosen_scores.max() - chosen_scores.min()) or 1.0
        index = tuple(voxels[chosen].T)
        mask[index] = True
        # The core (highest score) is hit hardest; the rim less.
        core = (chosen_scores - chosen_scores.min()) / span
        severity[index] = (0.8 + 0.2 * core) * (1.0 + 0.3 * _texture(points[chosen], rng))
        forbidden[index] = True
        drawn.append(len(chosen))
        low = voxels[chosen].min(axis=0)
        high = voxels[chosen].max(axis=0) + 1
        region = tuple(slice(max(a - 2, 0), b + 2) for a, b in zip(low, high, strict=True))
        forbidden[region] |= ndimage.binary_dilation(mask[region], np.ones((3, 3, 3), bool), iterations=2)

    # Partial volume: the reduction fades over ~1 mm across the border, then is scaled so that its
    # median inside the mask is the requested one.
    sigma = [0.85 / s for s in spacing_xyz]
    reduction = ndimage.gaussian_filter(severity, sigma)
    median = float(np.median(reduction[mask])) if mask.any() else 1.0
    reduction = np.clip(reduction * np.float32(spec.adc_reduction / median), 0.0, 0.85).astype(np.float32)
    return Lesions(mask, reduction, tuple(drawn), spec)
