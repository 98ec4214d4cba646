import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { targetText } from '../helpers/targets';
import { PRODUCT_NAME } from '../helpers/texts';
import { muxIcon } from '../icon';
import type { MuxModel } from '../model';
import {
  ErrorText,
  messageOf,
  MuxButton,
  SharedBadge,
  TransContext,
  useModel,
  useTrans
} from './common';

function Sidebar(props: { model: MuxModel; onOpen: (section?: string) => void }): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState('');

  const activate = async (name: string) => {
    setBusy(name);
    try {
      await model.activate(name);
      setError('');
    } catch (e) {
      setError(trans.__('Cannot switch to %1: %2', name, messageOf(e)));
    } finally {
      setBusy('');
    }
  };

  return (
    <div className="jp-mux-panel-body">
      <header className="jp-mux-header">
        <h1>{PRODUCT_NAME}</h1>
      </header>
      {model.error && (
        <div className="jp-mux-error" role="alert">
          {trans.__('The mux API is not answering: %1', model.error)}
        </div>
      )}
      {!model.loaded && <div className="jp-mux-hint">{trans.__('Loading…')}</div>}
      <h2 className="jp-mux-sidebar-title">{trans.__('Workspaces')}</h2>
      <ul className="jp-mux-switch-list" aria-label={trans.__('Workspaces')}>
        {model.workspaces.map(ws => (
          <li
            key={ws.name}
            data-workspace={ws.name}
            aria-current={ws.is_active ? 'true' : undefined}
            className={ws.is_active ? 'jp-mux-active' : undefined}
          >
            <button
              type="button"
              className="jp-mux-switch"
              aria-label={
                ws.is_active
                  ? trans.__('Workspace %1 (active)', ws.name)
                  : trans.__('Switch to workspace %1', ws.name)
              }
              aria-pressed={ws.is_active}
              disabled={!!busy}
              onClick={() => !ws.is_active && void activate(ws.name)}
            >
              <span
                className={`jp-mux-dot jp-mux-dot-${ws.problem ? 'error' : 'ok'}`}
                aria-hidden="true"
              />
              <span className="jp-mux-switch-text">
                <span className="jp-mux-switch-name">
                  <span className="jp-mux-name">{ws.name}</span>
                  {ws.shared && <SharedBadge />}
                </span>
                <span className="jp-mux-model-text">{targetText(ws.preferred, trans)}</span>
              </span>
            </button>
            {ws.problem && <div className="jp-mux-warning">{ws.problem}</div>}
          </li>
        ))}
      </ul>
      <ErrorText>{error}</ErrorText>
      <div className="jp-mux-actions">
        <MuxButton kind="accept" onClick={() => props.onOpen()}>
          {trans.__('Open %1', PRODUCT_NAME)}
        </MuxButton>
      </div>
      <p className="jp-mux-hint">
        {trans.__('Providers, rules, usage and the mux URL are in the %1 view.', PRODUCT_NAME)}
      </p>
    </div>
  );
}

/** The left sidebar: the workspaces with their model, one click to switch. */
export class MuxSidebar extends ReactWidget {
  constructor(
    private readonly _model: MuxModel,
    private readonly _trans: TranslationBundle,
    private readonly _onOpen: (section?: string) => void
  ) {
    super();
    this.id = 'jupyter-mux-panel';
    this.addClass('jp-mux-panel');
    this.title.icon = muxIcon;
    this.title.caption = PRODUCT_NAME;
  }

  render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <Sidebar model={this._model} onOpen={this._onOpen} />
      </TransContext.Provider>
    );
  }
}
