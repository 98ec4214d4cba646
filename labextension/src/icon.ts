import { LabIcon } from '@jupyterlab/ui-components';

/** Three inputs merging into one output: the mux. */
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24" fill="none">
  <g class="jp-icon3" stroke="#616161" stroke-width="2" stroke-linecap="round">
    <path d="M3 5h4c3 0 4 7 7 7h7"/>
    <path d="M3 12h18"/>
    <path d="M3 19h4c3 0 4-7 7-7"/>
    <circle cx="19" cy="12" r="0.5"/>
  </g>
</svg>`;

export const muxIcon = new LabIcon({ name: 'jupyter-mux:mux', svgstr: svg });
