import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { muxIcon } from './icon';
import type { MuxModel } from './model';
import { useModel } from './panel/common';
import { statusBarText, statusBarTitle } from './utils';

function Status(props: { model: MuxModel; onClick: () => void }): JSX.Element {
  const { model } = props;
  useModel(model);
  const active = model.active;
  const text = model.error ? 'mux: unavailable' : statusBarText(active);
  const title = model.error ? `Model mux: ${model.error}` : statusBarTitle(active);
  return (
    <button
      className={`jp-mux-statusbar${active?.problem ? ' jp-mux-statusbar-problem' : ''}`}
      title={title}
      aria-label={`${title} Switch workspace`}
      onClick={props.onClick}
    >
      <muxIcon.react tag="span" className="jp-mux-icon" />
      <span className="jp-mux-statusbar-text">{text}</span>
    </button>
  );
}

/** The status bar item: "workspace -> provider/model"; a click opens the switcher. */
export class MuxStatus extends ReactWidget {
  constructor(
    private readonly _model: MuxModel,
    private readonly _onClick: () => void
  ) {
    super();
    this.addClass('jp-mux-statusbar-item');
  }

  render(): JSX.Element {
    return <Status model={this._model} onClick={this._onClick} />;
  }
}
