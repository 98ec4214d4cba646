import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { PRODUCT_NAME } from '../helpers/texts';
import { muxIcon } from '../icon';
import type { MuxModel } from '../model';
import {
  EditorContext,
  MeContext,
  TransContext,
  useEditorState,
  useModel,
  useTrans
} from './common';
import { SECTIONS } from './sections';

function MainView(props: {
  model: MuxModel;
  url: string;
  section: string;
  onSection: (id: string) => void;
}): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  const [editor, onKeyDown] = useEditorState();
  // Under a Hub service, what the admin's policy allows (asked once; a plain server says 404).
  React.useEffect(() => void model.refreshMe(), [model]);
  const section = SECTIONS.find(s => s.id === props.section) ?? SECTIONS[0];
  return (
    <MeContext.Provider value={model.me}>
      <EditorContext.Provider value={editor}>
        <div className="jp-mux-main-body" onKeyDown={onKeyDown}>
          <header className="jp-mux-main-header">
            <h1>{PRODUCT_NAME}</h1>
            <nav role="tablist" aria-label={trans.__('%1 sections', PRODUCT_NAME)}>
              {SECTIONS.map(s => (
                <button
                  key={s.id}
                  type="button"
                  role="tab"
                  id={`jp-mux-tab-${s.id}`}
                  aria-selected={s.id === section.id}
                  aria-controls="jp-mux-tabpanel"
                  className={`jp-mux-tab${s.id === section.id ? ' jp-mod-current' : ''}`}
                  onClick={() => {
                    editor.open(null);
                    props.onSection(s.id);
                  }}
                >
                  {s.title(trans)}
                </button>
              ))}
            </nav>
          </header>
          {model.error && (
            <div className="jp-mux-error" role="alert">
              {trans.__('The mux API is not answering: %1', model.error)}
            </div>
          )}
          <div
            id="jp-mux-tabpanel"
            role="tabpanel"
            aria-labelledby={`jp-mux-tab-${section.id}`}
            className="jp-mux-tabpanel"
          >
            {section.render({ model, url: props.url })}
          </div>
        </div>
      </EditorContext.Provider>
    </MeContext.Provider>
  );
}

/** The main-area Model Mux view: workspaces and their rules, providers, usage, connect. */
export class MuxView extends ReactWidget {
  constructor(
    private readonly _model: MuxModel,
    private readonly _url: string,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.id = 'jupyter-mux-main';
    this.addClass('jp-mux-main');
    this.title.icon = muxIcon;
    this.title.label = PRODUCT_NAME;
    this.title.caption = _trans.__('Workspaces, providers, usage, keys and the mux URL');
    this.title.closable = true;
  }

  get section(): string {
    return this._section;
  }

  /** Show a section ("workspaces", "providers", "usage", "keys", "connect"). */
  set section(id: string) {
    if (id !== this._section && SECTIONS.some(s => s.id === id)) {
      this._section = id;
      this.update();
    }
  }

  render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <MainView
          model={this._model}
          url={this._url}
          section={this._section}
          onSection={id => (this.section = id)}
        />
      </TransContext.Provider>
    );
  }

  private _section = SECTIONS[0].id;
}
