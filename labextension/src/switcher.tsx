import { Dialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { InputGroup, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { targetText } from './helpers/targets';
import { PRODUCT_NAME } from './helpers/texts';
import type { MuxModel } from './model';
import {
  ErrorText,
  messageOf,
  SharedBadge,
  TransContext,
  useModel,
  useTrans
} from './panel/common';

function Switcher(props: { model: MuxModel; onDone: () => void }): JSX.Element {
  const trans = useTrans();
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
      setError(messageOf(e));
    }
  };
  return (
    <div className="jp-mux-switcher">
      <InputGroup
        autoFocus
        type="search"
        aria-label={trans.__('Filter workspaces')}
        placeholder={trans.__('Filter workspaces…')}
        value={filter}
        onChange={e => setFilter(e.currentTarget.value)}
        onKeyDown={e => {
          if (e.key === 'Enter' && shown.length) {
            e.preventDefault();
            void choose(shown[0].name);
          }
        }}
      />
      <ul className="jp-mux-switch-list" aria-label={trans.__('Workspaces to switch to')}>
        {shown.map(w => (
          <li
            key={w.name}
            className={w.is_active ? 'jp-mux-active' : undefined}
            aria-current={w.is_active ? 'true' : undefined}
          >
            <button
              type="button"
              className="jp-mux-switch"
              aria-label={trans.__('Switch to workspace %1', w.name)}
              aria-current={w.is_active ? 'true' : undefined}
              onClick={() => void choose(w.name)}
            >
              <span
                className={`jp-mux-dot jp-mux-dot-${w.problem ? 'error' : 'ok'}`}
                aria-hidden="true"
              />
              <span className="jp-mux-switch-text">
                <span className="jp-mux-switch-name">
                  <span className="jp-mux-name">{w.name}</span>
                  {w.shared && <SharedBadge />}
                </span>
                <span className="jp-mux-model-text">{targetText(w.preferred, trans)}</span>
              </span>
            </button>
            {w.problem && <div className="jp-mux-warning">{w.problem}</div>}
          </li>
        ))}
        {!shown.length && <li className="jp-mux-hint">{trans.__('No workspace matches.')}</li>}
      </ul>
      <ErrorText>{error}</ErrorText>
    </div>
  );
}

/** A quick switcher dialog: pick a workspace to make it active, or open the main view. */
export async function showSwitcher(
  model: MuxModel,
  trans: TranslationBundle,
  openView: () => void
): Promise<void> {
  void model.refresh();
  let dialog: Dialog<unknown> | null = null;
  const body = ReactWidget.create(
    <TransContext.Provider value={trans}>
      <Switcher model={model} onDone={() => dialog?.resolve(0)} />
    </TransContext.Provider>
  );
  const open = trans.__('Open %1', PRODUCT_NAME);
  dialog = new Dialog({
    title: trans.__('Switch workspace'),
    body,
    buttons: [
      Dialog.cancelButton({ label: open, ariaLabel: open }),
      Dialog.cancelButton({ label: trans.__('Close') })
    ],
    focusNodeSelector: 'input'
  });
  dialog.addClass('jp-mux-switcher-dialog');
  const result = await dialog.launch();
  if (result.button.label === open) {
    openView();
  }
}
