import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { muxIcon } from '../icon';
import type { MuxModel } from '../model';
import { useModel } from './common';
import { ConnectView } from './ConnectView';
import { ProvidersView } from './ProvidersView';
import { UsageView } from './UsageView';
import { WorkspacesView } from './WorkspacesView';

function Panel(props: { model: MuxModel; url: string }): JSX.Element {
  const { model } = props;
  useModel(model);
  return (
    <div className="jp-mux-panel-body">
      <header className="jp-mux-header">
        <h1>Model mux</h1>
      </header>
      {model.error && (
        <div className="jp-mux-error" role="alert">
          The mux API is not answering: {model.error}
        </div>
      )}
      {!model.loaded && <div className="jp-mux-hint">Loading…</div>}
      <WorkspacesView model={model} />
      <ProvidersView model={model} />
      <UsageView />
      <ConnectView url={props.url} />
    </div>
  );
}

/** The left sidebar panel. */
export class MuxPanel extends ReactWidget {
  constructor(
    private readonly _model: MuxModel,
    private readonly _url: string
  ) {
    super();
    this.id = 'jupyter-mux-panel';
    this.addClass('jp-mux-panel');
    this.title.icon = muxIcon;
    this.title.caption = 'Model mux';
  }

  render(): JSX.Element {
    return <Panel model={this._model} url={this._url} />;
  }
}
