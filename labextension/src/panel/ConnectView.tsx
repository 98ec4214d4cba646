import { Clipboard } from '@jupyterlab/apputils';
import { Button, copyIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { snippets } from '../utils';

function CopyButton(props: { text: string; label: string }): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const t = window.setTimeout(() => setCopied(false), 1500);
    return () => window.clearTimeout(t);
  }, [copied]);
  return (
    <Button
      small
      minimal
      aria-label={props.label}
      title={props.label}
      onClick={() => {
        Clipboard.copyToSystem(props.text);
        setCopied(true);
      }}
    >
      <copyIcon.react tag="span" className="jp-mux-icon" />
      {copied ? 'Copied' : 'Copy'}
    </Button>
  );
}

export function ConnectView(props: { url: string }): JSX.Element {
  const { url } = props;
  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-connect-title">
      <h2 id="jp-mux-connect-title">Connect</h2>
      <p className="jp-mux-hint">
        One OpenAI-compatible URL for every client; use your Jupyter token as the API key. The
        model name is a placeholder: the active workspace decides.
      </p>
      <div className="jp-mux-url-row">
        <input
          className="jp-mux-url"
          readOnly
          aria-label="Mux URL"
          value={url}
          onFocus={e => e.currentTarget.select()}
        />
        <CopyButton text={url} label="Copy mux URL" />
      </div>
      {snippets(url).map(s => (
        <div key={s.id} className="jp-mux-snippet" data-snippet={s.id}>
          <div className="jp-mux-snippet-head">
            <span>{s.title}</span>
            <CopyButton text={s.code} label={`Copy ${s.title} snippet`} />
          </div>
          <pre aria-label={`${s.title} snippet`}>
            <code>{s.code}</code>
          </pre>
        </div>
      ))}
    </section>
  );
}
