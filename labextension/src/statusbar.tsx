import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { PRODUCT_NAME, statusBarText, statusBarTitle } from './helpers/texts';
import { muxIcon } from './icon';
import type { MuxModel } from './model';
import { TransContext, useModel, useTrans } from './panel/common';

function Status(props: { model: MuxModel; onClick: () => void }): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  const active = model.active;
  const text = model.error ? trans.__('%1: unavailable', PRODUCT_NAME) : statusBarText(active, trans);
  const title = model.error ? `${PRODUCT_NAME}: ${model.error}` : statusBarTitle(active, trans);
  return (
    <button
      type="button"
      className={`jp-mux-statusbar${active?.problem ? ' jp-mux-statusbar-problem' : ''}`}
      title={title}
      aria-label={trans.__('%1 Switch workspace', title)}
      onClick={props.onClick}
    >
      <muxIcon.react tag="span" className="jp-mux-icon" />
      <span className="jp-mux-statusbar-text">{text}</span>
    </button>
  );
}

/** The status bar item: "workspace → provider/model"; a click opens the switcher. */
export class MuxStatus extends ReactWidget {
  constructor(
    private readonly _model: MuxModel,
    private readonly _trans: TranslationBundle,
    private readonly _onClick: () => void
  ) {
    super();
    this.addClass('jp-mux-statusbar-item');
  }

  render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <Status model={this._model} onClick={this._onClick} />
      </TransContext.Provider>
    );
  }
}
