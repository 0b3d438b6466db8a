/**
 * A small bar chart drawn as SVG: a library would be most of the bundle for a few bars per day.
 * Colours come from the stylesheet (classes), so the strict CSP needs no inline style. The same
 * numbers are in a table for screen readers.
 */
export interface Series {
  name: string;
  className: string;
}

export interface BarChartProps {
  title: string;
  labels: string[];
  series: Series[];
  /** values[s][i]: series s at label i. */
  values: number[][];
}

const WIDTH = 400;
const HEIGHT = 170;
const PAD = { top: 10, right: 8, bottom: 28, left: 32 };

export function BarChart({ title, labels, series, values }: BarChartProps) {
  const max = Math.max(1, ...values.flat());
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(1, labels.length);
  const barWidth = Math.max(2, (slot * 0.8) / series.length);
  const y = (value: number) => PAD.top + plotHeight - (value / max) * plotHeight;
  const every = Math.ceil(labels.length / 7);
  const total = values.map((row) => row.reduce((sum, value) => sum + value, 0));
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}: ${series.map((s, index) => `${s.name} ${total[index]}`).join(', ')}`}>
        <line className="axis" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(0)} y2={y(0)} />
        <text className="tick" x={PAD.left - 4} y={y(max) + 4} textAnchor="end">
          {max}
        </text>
        <text className="tick" x={PAD.left - 4} y={y(0)} textAnchor="end">
          0
        </text>
        {labels.map((label, index) => (
          <g key={label}>
            {series.map((s, sIndex) => {
              const value = values[sIndex]?.[index] ?? 0;
              return (
                <rect key={s.name} className={s.className} x={PAD.left + index * slot + slot * 0.1 + sIndex * barWidth} y={y(value)} width={barWidth} height={Math.max(0, y(0) - y(value))}>
                  <title>{`${label} ${s.name}: ${value}`}</title>
                </rect>
              );
            })}
            {index % every === 0 && (
              <text className="tick" x={PAD.left + index * slot + slot / 2} y={HEIGHT - 8} textAnchor="middle">
                {label}
              </text>
            )}
          </g>
        ))}
      </svg>
      <ul className="legend">
        {series.map((s, index) => (
          <li key={s.name}>
            <span className={`swatch ${s.className}`} aria-hidden="true" /> {s.name} ({total[index]})
          </li>
        ))}
      </ul>
      <table className="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {series.map((s) => (
              <th scope="col" key={s.name}>
                {s.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {labels.map((label, index) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              {series.map((s, sIndex) => (
                <td key={s.name}>{values[sIndex]?.[index] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
