/**
 * A stacked bar chart over time (Chart.js on a canvas), coloured from JupyterLab's theme
 * variables and redrawn when the theme changes, so light and dark themes both read well.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip
} from 'chart.js';
import * as React from 'react';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

/** Series colours: the theme's brand, state and editor colours, distinct in both themes. */
const SERIES_VARIABLES = [
  '--jp-brand-color1',
  '--jp-warn-color1',
  '--jp-accent-color1',
  '--jp-error-color1',
  '--jp-mirror-editor-meta-color',
  '--jp-mirror-editor-string-color',
  '--jp-brand-color3',
  '--jp-warn-color3'
];

function cssVariable(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** A number that changes whenever JupyterLab switches theme. */
function useThemeVersion(): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    const observer = new MutationObserver(() => setVersion(v => v + 1));
    observer.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    return () => observer.disconnect();
  }, []);
  return version;
}

export interface IChartLine {
  label: string;
  values: number[];
}

export function UsageChart(props: {
  labels: string[];
  lines: IChartLine[];
  /** Accessible summary of what the chart shows. */
  label: string;
  formatValue: (value: number) => string;
}): JSX.Element {
  const canvas = React.useRef<HTMLCanvasElement>(null);
  const chart = React.useRef<Chart | null>(null);
  const colors = React.useRef<string[]>([]);
  const theme = useThemeVersion();
  const { labels, lines, formatValue } = props;

  React.useEffect(() => {
    if (!canvas.current) {
      return;
    }
    const text = cssVariable('--jp-ui-font-color1', '#333');
    const muted = cssVariable('--jp-ui-font-color2', '#777');
    const grid = cssVariable('--jp-border-color2', '#ddd');
    const font = cssVariable('--jp-ui-font-family', 'sans-serif');
    colors.current = SERIES_VARIABLES.map(v => cssVariable(v, '#888'));
    chart.current = new Chart(canvas.current, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        font: { family: font },
        color: text,
        plugins: {
          legend: { position: 'bottom', labels: { color: text, boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: item => `${item.dataset.label}: ${formatValue(item.parsed.y ?? 0)}`
            }
          }
        },
        scales: {
          x: {
            stacked: true,
            ticks: { color: muted, autoSkip: true, maxRotation: 0, autoSkipPadding: 12 },
            grid: { color: grid }
          },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { color: muted, callback: v => formatValue(Number(v)) },
            grid: { color: grid }
          }
        }
      }
    });
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [theme]);

  React.useEffect(() => {
    const c = chart.current;
    if (!c) {
      return;
    }
    c.data.labels = labels;
    c.data.datasets = lines.map((line, i) => ({
      label: line.label,
      data: line.values,
      backgroundColor: colors.current[i % colors.current.length],
      borderWidth: 0
    }));
    c.update();
  }, [labels, lines, theme]);

  return (
    <div className="jp-mux-chart">
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </div>
  );
}
