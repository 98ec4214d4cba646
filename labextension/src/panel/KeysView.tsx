import * as React from 'react';

import {
  budgetText,
  expiryText,
  formatWhen,
  isExpired,
  isOverBudget,
  lastUsedText,
  prefixText,
  revokeKeyMessage,
  workspaceText
} from '../helpers/keys';
import type { MuxModel } from '../model';
import type { IKey, IKeyCreated } from '../types';
import {
  confirm,
  CopyButton,
  ErrorText,
  messageOf,
  MuxButton,
  useEditor,
  useModel,
  useTrans
} from './common';
import { KeyForm } from './KeyForm';

/**
 * The secret of a key just made, shown this once: it lives in this view's state only, so
 * it is gone once dismissed, when another key is made or when the tab closes.
 */
export function SecretBox(props: { created: IKeyCreated; onDone?: () => void }): JSX.Element {
  const trans = useTrans();
  const { created } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, [created.id]);
  return (
    <div
      ref={ref}
      className="jp-mux-secret"
      role="region"
      aria-label={trans.__('Secret of the new key %1', created.name)}
    >
      <div className="jp-mux-warning" role="status">
        {trans.__(
          'Key "%1" created. Copy its secret now: you will not see it again. The list shows only its start (%2).',
          created.name,
          prefixText(created)
        )}
      </div>
      <div className="jp-mux-url-row">
        <code className="jp-mux-url jp-mux-secret-value" aria-label={trans.__('Secret')}>
          {created.secret}
        </code>
        <CopyButton text={created.secret} label={trans.__('Copy the secret of %1', created.name)} />
        {props.onDone && (
          <MuxButton onClick={props.onDone}>{trans.__('I have copied it')}</MuxButton>
        )}
      </div>
    </div>
  );
}

/** Scoped mux keys: list, create (the secret shown once), revoke. */
export function KeysView(props: { model: MuxModel }): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  React.useEffect(() => model.watchKeys(), [model]);
  const [creating, toggleCreating, closeCreating] = useEditor('key:create');
  const [created, setCreated] = React.useState<IKeyCreated | null>(null);
  const keys = model.keys;
  const now = new Date();

  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-keys-title">
      <div className="jp-mux-section-head">
        <h2 id="jp-mux-keys-title">{trans.__('Keys')}</h2>
        <MuxButton
          kind="accept"
          aria-expanded={creating}
          onClick={() => {
            setCreated(null); // a new key is coming: the last secret goes
            toggleCreating();
          }}
        >
          {trans.__('Create key…')}
        </MuxButton>
      </div>
      <p className="jp-mux-hint">
        {trans.__(
          'Give each client (an SDK, Claude Code, an editor) its own mux key instead of your Jupyter token: a mux key reaches the models and nothing else on this server. Pin it to a workspace, let it expire or give it a budget, and revoke it when it is no longer needed.'
        )}
      </p>
      {creating && (
        <KeyForm
          model={model}
          title={trans.__('Create a mux key')}
          onCreated={key => {
            setCreated(key);
            closeCreating();
          }}
          onCancel={closeCreating}
        />
      )}
      {created && <SecretBox created={created} onDone={() => setCreated(null)} />}
      <ErrorText>
        {model.keysError ? trans.__('The keys cannot be loaded: %1', model.keysError) : ''}
      </ErrorText>
      {keys === null && !model.keysError && (
        <div className="jp-mux-hint">{trans.__('Loading…')}</div>
      )}
      {keys !== null && keys.length > 0 && (
        <ul className="jp-mux-cards" aria-label={trans.__('Mux keys')}>
          {keys.map(k => (
            <KeyCard key={k.id} model={model} mux={k} now={now} />
          ))}
        </ul>
      )}
      {keys !== null && !keys.length && (
        <p className="jp-mux-hint">{trans.__('No keys yet.')}</p>
      )}
    </section>
  );
}

function KeyCard(props: { model: MuxModel; mux: IKey; now: Date }): JSX.Element {
  const trans = useTrans();
  const { model, mux: k, now } = props;
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const expired = isExpired(k, now);
  const spent = isOverBudget(k);

  const revoke = async () => {
    if (
      !(await confirm(trans, trans.__('Revoke key'), revokeKeyMessage(k, trans), trans.__('Revoke')))
    ) {
      return;
    }
    setBusy(true);
    try {
      await model.revokeKey(k.id);
    } catch (e) {
      setError(trans.__('The key was not revoked: %1', messageOf(e)));
      setBusy(false);
    }
  };

  return (
    <li className="jp-mux-card" data-key-id={k.id} data-key-prefix={k.prefix}>
      <div className="jp-mux-card-head">
        <span className="jp-mux-name">{k.name}</span>
        <code className="jp-mux-key-prefix" aria-label={trans.__('Key prefix')}>
          {prefixText(k)}
        </code>
        {expired && <span className="jp-mux-badge jp-mux-badge-error">{trans.__('expired')}</span>}
        {spent && (
          <span className="jp-mux-badge jp-mux-badge-error">{trans.__('budget used up')}</span>
        )}
      </div>
      <dl className="jp-mux-key-facts">
        <dt>{trans.__('Workspace')}</dt>
        <dd>{workspaceText(k, trans)}</dd>
        <dt>{trans.__('Expiry')}</dt>
        <dd>{expiryText(k, now, trans)}</dd>
        <dt>{trans.__('Spend')}</dt>
        <dd>{budgetText(k, trans)}</dd>
        <dt>{trans.__('Use')}</dt>
        <dd>{lastUsedText(k, trans)}</dd>
        <dt>{trans.__('Created')}</dt>
        <dd>{formatWhen(k.created_at)}</dd>
      </dl>
      <div className="jp-mux-actions">
        <MuxButton
          kind="warn"
          aria-label={trans.__('Revoke key %1', k.name)}
          disabled={busy}
          onClick={revoke}
        >
          {trans.__('Revoke')}
        </MuxButton>
      </div>
      <ErrorText>{error}</ErrorText>
    </li>
  );
}
