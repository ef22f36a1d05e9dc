import { useEffect, useRef, useState } from 'preact/hooks';

// Strokes are drawn in a visible colour; the mask sent is white wherever anything is painted.
const STROKE_RGB = [242, 92, 84] as const;
const STROKE = `rgb(${STROKE_RGB.join(' ')})`;

/** Reads the painted mask: white = repaint, black = keep; undefined when nothing is painted. */
export type MaskReader = () => string | undefined;

interface Props {
  /** The init image the mask is painted over (a data URI or blob URL). */
  readonly image: string;
  /** Receives a reader of the current mask whenever the image changes. */
  readonly onReader: (read: MaskReader) => void;
}

/**
 * A canvas over the init image at the image's own size: strokes mark where the model should
 * paint. Brush size, erase, invert and clear; the mask is sent as a black-and-white PNG.
 */
export function MaskPainter({ image, onReader }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [brush, setBrush] = useState(24);
  const [erasing, setErasing] = useState(false);
  const painted = useRef(false);
  const drawing = useRef(false);

  // A new image starts a new, empty mask (setting the canvas size clears it).
  useEffect(() => {
    const img = new Image();
    img.onload = () => {
      const c = canvas.current;
      if (!c) return;
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      painted.current = false;
    };
    img.src = image;
  }, [image]);
  useEffect(() => {
    onReader(() => (painted.current && canvas.current ? maskPng(canvas.current) : undefined));
  }, [onReader]);

  const last = useRef<{ x: number; y: number } | undefined>(undefined);
  /** A round-capped segment from the previous pointer position, so fast strokes have no gaps. */
  const paint = (event: PointerEvent): void => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx || !drawing.current) return;
    const rect = c.getBoundingClientRect();
    const scale = c.width / rect.width;
    const point = { x: (event.clientX - rect.left) * scale, y: (event.clientY - rect.top) * scale };
    const from = last.current ?? point;
    ctx.globalCompositeOperation = erasing ? 'destination-out' : 'source-over';
    ctx.strokeStyle = STROKE;
    ctx.lineWidth = brush * scale;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(point.x, point.y);
    ctx.stroke();
    last.current = point;
    painted.current = true;
  };
  const invert = (): void => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    const pixels = ctx.getImageData(0, 0, c.width, c.height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      pixels.data.set([...STROKE_RGB, 255 - (pixels.data[i + 3] ?? 0)], i);
    }
    ctx.putImageData(pixels, 0, 0);
    painted.current = true;
  };
  const clear = (): void => {
    const c = canvas.current;
    c?.getContext('2d')?.clearRect(0, 0, c.width, c.height);
    painted.current = false;
  };

  return (
    <div class="mask-painter">
      <div class="mask-stage">
        <img src={image} alt="init image" />
        <canvas
          ref={canvas}
          aria-label="mask canvas"
          onPointerDown={(e) => {
            drawing.current = true;
            e.currentTarget.setPointerCapture(e.pointerId);
            paint(e);
          }}
          onPointerMove={paint}
          onPointerUp={() => {
            drawing.current = false;
            last.current = undefined;
          }}
        />
      </div>
      <div class="row">
        <label>
          Brush{' '}
          <input
            type="range"
            min={2}
            max={64}
            value={brush}
            onInput={(e) => setBrush(Number(e.currentTarget.value))}
          />
        </label>
        <label class="inline">
          <input
            type="checkbox"
            checked={erasing}
            onChange={(e) => setErasing(e.currentTarget.checked)}
          />{' '}
          Erase
        </label>
        <button type="button" onClick={invert}>
          Invert
        </button>
        <button type="button" onClick={clear}>
          Clear mask
        </button>
      </div>
    </div>
  );
}

/** The API's mask from the strokes: white (repaint) where painted, black (keep) elsewhere. */
function maskPng(strokes: HTMLCanvasElement): string {
  const out = document.createElement('canvas');
  out.width = strokes.width;
  out.height = strokes.height;
  const source = strokes.getContext('2d');
  const ctx = out.getContext('2d');
  if (!source || !ctx) return '';
  const pixels = source.getImageData(0, 0, strokes.width, strokes.height);
  for (let i = 0; i < pixels.data.length; i += 4) {
    const value = (pixels.data[i + 3] ?? 0) > 0 ? 255 : 0;
    pixels.data.set([value, value, value, 255], i);
  }
  ctx.putImageData(pixels, 0, 0);
  return out.toDataURL('image/png');
}
