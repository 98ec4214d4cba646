import { Dialog } from '@jupyterlab/apputils';
import { InputGroup, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { MuxModel } from './model';
import { useModel } from './panel/common';
import { targetText } from './utils';

function Switcher(props: { model: MuxModel; onDone: () => void }): JSX.Element {
  const { model } = props;
  useModel(model);
  const [filter, setFilter] = React.useState('');
  const [error, setError] = React.useState('');
  const shown = model.workspaces.filter(w =>
    w.name.toLowerCase().includes(filter.trim().toLowerCase())
  );
  const choose = async (name: string) => {
    try {
      await model.activate(name);
      props.onDone();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="jp-mux-switcher">
      <InputGroup
        autoFocus
        type="search"
        aria-label="Filter workspaces"
        placeholder="Filter workspaces…"
        value={filter}
        onChange={e => setFilter(e.currentTarget.value)}
        onKeyDown={e => {
          if (e.key === 'Enter' && shown.length) {
            e.preventDefault();
            void choose(shown[0].name);
          }
        }}
      />
      <ul className="jp-mux-switcher-list" aria-label="Workspaces to switch to">
        {shown.map(w => (
          <li key={w.name}>
            <button
              className={`jp-mux-switcher-item${w.is_active ? ' jp-mux-active' : ''}`}
              aria-label={`Switch to workspace ${w.name}`}
              aria-current={w.is_active ? 'true' : undefined}
              onClick={() => void choose(w.name)}
            >
              <span className="jp-mux-name">{w.name}</span>
              <span className="jp-mux-model-text">{targetText(w.preferred)}</span>
              {w.is_active && <span className="jp-mux-badge jp-mux-badge-ok">active</span>}
              {w.problem && <span className="jp-mux-warning">{w.problem}</span>}
            </button>
          </li>
        ))}
        {!shown.length && <li className="jp-mux-hint">No workspace matches.</li>}
      </ul>
      {error && (
        <div className="jp-mux-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

/** A quick switcher dialog: pick a workspace to make it active. */
export async function showSwitcher(model: MuxModel): Promise<void> {
  void model.refresh();
  let dialog: Dialog<unknown> | null = null;
  const body = ReactWidget.create(
    <Switcher model={model} onDone={() => dialog?.resolve(0)} />
  );
  dialog = new Dialog({
    title: 'Switch workspace',
    body,
    buttons: [Dialog.cancelButton({ label: 'Close' })],
    focusNodeSelector: 'input'
  });
  dialog.addClass('jp-mux-switcher-dialog');
  await dialog.launch();
}
