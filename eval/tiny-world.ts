// The world of the bundled `tiny` model, as its training data draws it (scripts/tiny/data.py):
// the palette, shapes, a renderer for init images and the classifier the evaluation uses.

export const PALETTE = {
  red: [220, 30, 30],
  green: [30, 170, 50],
  blue: [30, 70, 230],
  yellow: [245, 215, 30],
  purple: [140, 50, 190],
  orange: [250, 140, 20],
  white: [245, 245, 245],
  black: [20, 20, 20],
} as const satisfies Record<string, readonly [number, number, number]>;

export type Colour = keyof typeof PALETTE;
export const COLOURS = Object.keys(PALETTE) as Colour[];
export const SHAPES = ['circle', 'square', 'triangle'] as const;
export type Shape = (typeof SHAPES)[number];

export interface Scene {
  readonly fg: Colour;
  readonly bg: Colour;
  readonly shape: Shape;
  /** Centre and half-extent in pixels. */
  readonly cx: number;
  readonly cy: number;
  readonly r: number;
}

/** Draws a scene as interleaved RGB bytes, `size × size`. */
export function renderScene(scene: Scene, size = 64): Uint8Array {
  const rgb = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = insideShape(scene, x + 0.5, y + 0.5);
      rgb.set(PALETTE[inside ? scene.fg : scene.bg], (y * size + x) * 3);
    }
  }
  return rgb;
}

function insideShape({ shape, cx, cy, r }: Scene, x: number, y: number): boolean {
  const dx = x - cx;
  const dy = y - cy;
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= r && Math.abs(dy) <= r;
    case 'triangle': {
      const t = (dy + r) / (2 * r);
      return t >= 0 && t <= 1 && Math.abs(dx) <= t * r;
    }
  }
}

export interface Classification {
  readonly fg: Colour | undefined;
  readonly bg: Colour;
  readonly shape: Shape | undefined;
  /** Share of the foreground's bounding box it fills: circle ≈ 0.785, square 1, triangle 0.5. */
  readonly fill: number;
}

function nearestColour(r: number, g: number, b: number): Colour {
  let best: Colour = 'black';
  let bestDistance = Infinity;
  for (const colour of COLOURS) {
    const [pr, pg, pb] = PALETTE[colour];
    const distance = (r - pr) ** 2 + (g - pg) ** 2 + (b - pb) ** 2;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = colour;
    }
  }
  return best;
}

/**
 * Background: the median of the four 4×4 corners. Foreground: the commonest palette colour among
 * pixels far from the background. Shape: how much of its bounding box the foreground fills.
 */
export function classify(
  rgb: Uint8Array,
  size = 64,
  region?: (x: number, y: number) => boolean,
): Classification {
  const corners: [number, number, number][] = [];
  for (const [x0, y0] of [
    [0, 0],
    [size - 4, 0],
    [0, size - 4],
    [size - 4, size - 4],
  ] as const) {
    for (let y = y0; y < y0 + 4; y++) {
      for (let x = x0; x < x0 + 4; x++) {
        const i = (y * size + x) * 3;
        corners.push([rgb[i] ?? 0, rgb[i + 1] ?? 0, rgb[i + 2] ?? 0]);
      }
    }
  }
  const median = (channel: number): number => {
    const values = corners.map((pixel) => pixel[channel] ?? 0).sort((a, b) => a - b);
    return ((values[values.length / 2 - 1] ?? 0) + (values[values.length / 2] ?? 0)) / 2;
  };
  const bg = nearestColour(median(0), median(1), median(2));
  const [br, bgG, bb] = PALETTE[bg];
  const labels: (Colour | undefined)[] = [];
  const counts = new Map<Colour, number>();
  for (let p = 0; p < size * size; p++) {
    const [r = 0, g = 0, b = 0] = rgb.subarray(p * 3, p * 3 + 3);
    const far = Math.sqrt((r - br) ** 2 + (g - bgG) ** 2 + (b - bb) ** 2) > 60;
    const label = nearestColour(r, g, b);
    const counted = far && label !== bg && (region?.(p % size, Math.floor(p / size)) ?? true);
    labels.push(counted ? label : undefined);
    if (counted) counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const top = ranked[0];
  if (!top || top[1] < 20) return { fg: undefined, bg, shape: undefined, fill: 0 };
  const fg = top[0];
  const rowCounts = new Array<number>(size).fill(0);
  const colCounts = new Array<number>(size).fill(0);
  labels.forEach((label, p) => {
    if (label !== fg) return;
    rowCounts[Math.floor(p / size)]! += 1;
    colCounts[p % size]! += 1;
  });
  const rows = rowCounts.flatMap((count, i) => (count >= 2 ? [i] : []));
  const cols = colCounts.flatMap((count, i) => (count >= 2 ? [i] : []));
  if (rows.length === 0 || cols.length === 0) return { fg, bg, shape: undefined, fill: 0 };
  const [y0, y1, x0, x1] = [rows[0]!, rows.at(-1)!, cols[0]!, cols.at(-1)!];
  let inBox = 0;
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++) if (labels[y * size + x] === fg) inBox += 1;
  const fill = inBox / ((y1 - y0 + 1) * (x1 - x0 + 1));
  const shape: Shape = fill > 0.9 ? 'square' : fill > 0.64 ? 'circle' : 'triangle';
  return { fg, bg, shape, fill };
}

export function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

/** The canonical prompt for a scene: "a red circle on a blue background". */
export function promptFor(fg: Colour, shape: Shape, bg: Colour): string {
  return `${article(fg)} ${fg} ${shape} on ${article(bg)} ${bg} background`;
}
