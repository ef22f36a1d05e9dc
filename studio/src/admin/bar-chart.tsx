/** A labelled SVG bar chart; enough for a handful of days or models, no charting library needed. */
export function BarChart({
  title,
  bars,
  unit = '',
}: {
  readonly title: string;
  readonly bars: readonly { readonly label: string; readonly value: number }[];
  readonly unit?: string;
}) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const width = Math.max(240, bars.length * 36);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? (
        <p class="meta">no data yet</p>
      ) : (
        <svg viewBox={`0 0 ${width} 140`} role="img" aria-label={title}>
          {bars.map((b, i) => {
            // Bars up to 90 units tall under a 20-unit margin for their value labels.
            const h = (b.value / max) * 90;
            const slot = width / bars.length;
            const w = Math.min(48, slot - 8);
            const x = i * slot + (slot - w) / 2;
            return (
              <g key={b.label}>
                <rect x={x} y={110 - h} width={w} height={h} class="bar">
                  <title>
                    {b.label}: {b.value}
                    {unit}
                  </title>
                </rect>
                <text x={x + w / 2} y={104 - h} class="value">
                  {Number.isInteger(b.value) ? b.value : b.value.toFixed(2)}
                </text>
                <text x={x + w / 2} y={128} class="label">
                  {b.label.length > 8 ? b.label.slice(-5) : b.label}
                </text>
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}
