import * as React from 'react';

import { connectKeyName } from '../helpers/keys';
import { baseUrls, connectKey, snippets } from '../helpers/snippets';
import type { MuxModel } from '../model';
import type { IKeyCreated } from '../types';
import { CopyButton, MuxButton, useEditor, useModel, useTrans } from './common';
import { KeyForm } from './KeyForm';

/**
 * The mux URL and a ready-to-paste snippet per client dialect. The snippets carry a
 * placeholder for the key until "Create a key for this" makes a mux key: then they carry
 * its secret, held here only, so it is gone when this tab closes or the next key is made.
 */
export function ConnectView(props: { model: MuxModel; url: string }): JSX.Element {
  const trans = useTrans();
  const { model, url } = props;
  useModel(model);
  React.useEffect(() => model.watchKeys(), [model]);
  const [creating, toggleCreating, closeCreating] = useEditor('connect:key');
  const [created, setCreated] = React.useState<IKeyCreated | null>(null);
  // The one place the snippets' key comes from.
  const key = connectKey(created, model.keys, trans);
  const { pinned } = baseUrls(url);
  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-connect-title">
      <div className="jp-mux-section-head">
        <h2 id="jp-mux-connect-title">{trans.__('Connect')}</h2>
      </div>
      <p className="jp-mux-hint">
        {trans.__(
          'One endpoint for every client dialect: OpenAI clients use this URL, Anthropic clients the same without /v1. The model name is a placeholder: the active workspace decides.'
        )}
      </p>
      <div className="jp-mux-url-row">
        <code className="jp-mux-url" aria-label={trans.__('Mux URL')}>
          {url}
        </code>
        <CopyButton text={url} label={trans.__('Copy mux URL')} />
      </div>
      <p className="jp-mux-hint jp-mux-connect-pin">
        {trans.__(
          'To keep a client on one workspace, use %1 as its base URL or send the header X-Mux-Workspace. Settings for Claude Code, Codex, jupyter-ai, Continue and more: docs/connect.md.',
          pinned
        )}
      </p>
      <div className="jp-mux-actions jp-mux-connect-key">
        <span
          className={created ? 'jp-mux-warning' : 'jp-mux-hint'}
          role="status"
          aria-label={trans.__('API key of the snippets')}
        >
          {key.description}
        </span>
        <MuxButton
          kind="accept"
          aria-expanded={creating}
          onClick={() => {
            setCreated(null); // the next key replaces this one in the snippets
            toggleCreating();
          }}
        >
          {trans.__('Create a key for this')}
        </MuxButton>
      </div>
      {creating && (
        <KeyForm
          model={model}
          title={trans.__('Create a mux key for these snippets')}
          initialName={connectKeyName(new Date(), (model.keys ?? []).map(k => k.name))}
          onCreated={k => {
            setCreated(k);
            closeCreating();
          }}
          onCancel={closeCreating}
        />
      )}
      <div className="jp-mux-snippets">
        {snippets(url, key, trans).map(s => (
          <div key={s.id} className="jp-mux-snippet" data-snippet={s.id}>
            <div className="jp-mux-snippet-head">
              <span>{s.title}</span>
              <CopyButton text={s.code} label={trans.__('Copy %1 snippet', s.title)} />
            </div>
            <pre aria-label={trans.__('%1 snippet', s.title)}>
              <code>{s.code}</code>
            </pre>
          </div>
        ))}
      </div>
    </section>
  );
}
