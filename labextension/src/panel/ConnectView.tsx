import { Clipboard } from '@jupyterlab/apputils';
import * as React from 'react';

import { baseUrls, snippets, tokenKey } from '../helpers/snippets';
import { MuxButton, useTrans } from './common';

function CopyButton(props: { text: string; label: string }): JSX.Element {
  const trans = useTrans();
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const t = window.setTimeout(() => setCopied(false), 1500);
    return () => window.clearTimeout(t);
  }, [copied]);
  return (
    <MuxButton
      aria-label={props.label}
      title={props.label}
      onClick={() => {
        Clipboard.copyToSystem(props.text);
        setCopied(true);
      }}
    >
      {copied ? trans.__('Copied') : trans.__('Copy')}
    </MuxButton>
  );
}

/** The mux URL and a ready-to-paste snippet per client dialect. */
export function ConnectView(props: { url: string }): JSX.Element {
  const trans = useTrans();
  const { url } = props;
  // The one place the snippets' key comes from (a scoped mux key will replace the token).
  const key = tokenKey(trans);
  const { pinned } = baseUrls(url);
  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-connect-title">
      <div className="jp-mux-section-head">
        <h2 id="jp-mux-connect-title">{trans.__('Connect')}</h2>
      </div>
      <p className="jp-mux-hint">
        {trans.__(
          'One endpoint for every client dialect: OpenAI clients use this URL, Anthropic clients the same without /v1. The model name is a placeholder: the active workspace decides.'
        )}{' '}
        {key.description}
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
