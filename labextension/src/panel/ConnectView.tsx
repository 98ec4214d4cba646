import { Clipboard } from '@jupyterlab/apputils';
import * as React from 'react';

import { snippets } from '../helpers/snippets';
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

/** The mux URL and ready-to-paste client snippets. */
export function ConnectView(props: { url: string }): JSX.Element {
  const trans = useTrans();
  const { url } = props;
  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-connect-title">
      <div className="jp-mux-section-head">
        <h2 id="jp-mux-connect-title">{trans.__('Connect')}</h2>
      </div>
      <p className="jp-mux-hint">
        {trans.__(
          'One OpenAI-compatible URL for every client; use your Jupyter token as the API key. The model name is a placeholder: the active workspace decides.'
        )}
      </p>
      <div className="jp-mux-url-row">
        <code className="jp-mux-url" aria-label={trans.__('Mux URL')}>
          {url}
        </code>
        <CopyButton text={url} label={trans.__('Copy mux URL')} />
      </div>
      <div className="jp-mux-snippets">
        {snippets(url, trans).map(s => (
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
