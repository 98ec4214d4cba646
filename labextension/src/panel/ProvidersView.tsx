import * as React from 'react';

import { modelAllowed } from '../helpers/policy';
import {
  deleteProviderMessage,
  modelDeniedText,
  providerLockReason,
  providerStatusText,
  providerTypeLabel
} from '../helpers/texts';
import type { MuxModel } from '../model';
import type { IProvider } from '../types';
import {
  confirm,
  ErrorText,
  MeContext,
  messageOf,
  MuxButton,
  useEditor,
  useModel,
  useTrans
} from './common';
import { ProviderForm } from './ProviderForm';

const SHOWN_MODELS = 8;
const LOCK_ID = 'jp-mux-providers-locked';

/**
 * The props of a control that would add, change or refresh a provider: disabled, saying
 * why (`locked`, from `providerLockReason`), when the Hub's admin does not let this user
 * (the server would answer 403).
 */
function lockProps(locked: string | null): object {
  return locked ? { disabled: true, title: locked, 'aria-describedby': LOCK_ID } : {};
}

/** The providers: cards with their models, add, edit, refresh, delete. */
export function ProvidersView(props: { model: MuxModel }): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  const [adding, toggleAdding, closeAdding] = useEditor('provider:add');
  const [notice, setNotice] = React.useState<{ text: string; ok: boolean } | null>(null);
  const me = React.useContext(MeContext);
  const locked = providerLockReason(me, trans);
  const lock = lockProps(locked);

  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-providers-title">
      <div className="jp-mux-section-head">
        <h2 id="jp-mux-providers-title">{trans.__('Providers')}</h2>
        <MuxButton
          kind="accept"
          aria-expanded={adding}
          onClick={() => {
            setNotice(null);
            toggleAdding();
          }}
          {...lock}
        >
          {trans.__('Add provider…')}
        </MuxButton>
      </div>
      <p className="jp-mux-hint">
        {trans.__('Where models come from: local servers (llama.cpp, Ollama, vLLM…) or hosted APIs.')}
      </p>
      {locked && (
        <p id={LOCK_ID} className="jp-mux-hint">
          {locked}
        </p>
      )}
      {adding && !locked && (
        <ProviderForm
          model={model}
          onDone={p => {
            setNotice({
              ok: p.status === 'ok',
              text:
                p.status === 'ok'
                  ? trans._n(
                      'Added "%2" with %1 model.',
                      'Added "%2" with %1 models.',
                      p.models.length,
                      p.name
                    )
                  : trans.__('Added "%1"; it cannot be reached yet.', p.name)
            });
            closeAdding();
          }}
          onCancel={closeAdding}
        />
      )}
      {notice && (
        <div className={notice.ok ? 'jp-mux-notice' : 'jp-mux-warning'} role="status">
          {notice.text}
        </div>
      )}
      <ul className="jp-mux-cards" aria-label={trans.__('Providers')}>
        {model.providers.map(p => (
          <ProviderCard key={p.name} model={model} provider={p} />
        ))}
      </ul>
      {!model.providers.length && model.loaded && (
        <p className="jp-mux-hint">{trans.__('No providers yet.')}</p>
      )}
    </section>
  );
}

function ProviderCard(props: { model: MuxModel; provider: IProvider }): JSX.Element {
  const trans = useTrans();
  const { model, provider: p } = props;
  const me = React.useContext(MeContext);
  const lock = lockProps(providerLockReason(me, trans));
  const [editing, toggleEditing, closeEditing] = useEditor(`provider:edit:${p.name}`);
  const [showAll, setShowAll] = React.useState(false);
  const [error, setError] = React.useState('');
  const refreshing = model.isRefreshing(p.name);
  const models = showAll ? p.models : p.models.slice(0, SHOWN_MODELS);

  const refresh = async () => {
    try {
      const result = await model.refreshModels(p.name);
      // The card's status line shows the reason; say only that this refresh failed.
      setError(
        result.status === 'error' ? trans.__('Refresh failed: the last model list is kept.') : ''
      );
    } catch (e) {
      setError(trans.__('Refresh failed: %1', messageOf(e)));
    }
  };

  const remove = async () => {
    if (
      await confirm(
        trans,
        trans.__('Delete provider'),
        deleteProviderMessage(p, trans),
        trans.__('Delete')
      )
    ) {
      try {
        await model.deleteProvider(p.name);
      } catch (e) {
        setError(messageOf(e));
      }
    }
  };

  return (
    <li
      className={`jp-mux-card${editing ? ' jp-mux-card-wide' : ''}`}
      data-provider={p.name}
    >
      <div className="jp-mux-card-head">
        <span className={`jp-mux-dot jp-mux-dot-${p.status}`} aria-hidden="true" />
        <span className="jp-mux-name">{p.name}</span>
        <span className="jp-mux-type">{providerTypeLabel(model.providerTypes, p.type)}</span>
        {p.predefined && (
          <span
            className="jp-mux-badge"
            title={trans.__('Defined in the server configuration: it cannot be changed here.')}
          >
            {trans.__('read-only')}
          </span>
        )}
      </div>
      <div className="jp-mux-endpoint">{p.endpoint}</div>
      {p.description && <div className="jp-mux-hint">{p.description}</div>}
      <div
        className={p.status === 'ok' ? 'jp-mux-status' : 'jp-mux-error'}
        role={p.status === 'ok' ? undefined : 'alert'}
      >
        {providerStatusText(p, trans)}
      </div>
      {p.models.length > 0 && (
        <ul className="jp-mux-models" aria-label={trans.__('Models of %1', p.name)}>
          {models.map(m =>
            modelAllowed(me, { provider: p.name, model: m }) ? (
              <li key={m}>{m}</li>
            ) : (
              <li
                key={m}
                className="jp-mux-model-denied"
                title={modelDeniedText(trans)}
                aria-label={`${m} (${modelDeniedText(trans)})`}
              >
                {m}
              </li>
            )
          )}
          {p.models.length > SHOWN_MODELS && (
            <li>
              <MuxButton kind="plain" onClick={() => setShowAll(!showAll)}>
                {showAll
                  ? trans.__('Show fewer')
                  : trans.__('Show all %1', p.models.length)}
              </MuxButton>
            </li>
          )}
        </ul>
      )}
      {p.used_by.length > 0 && (
        <div className="jp-mux-hint">{trans.__('Used by: %1', p.used_by.join(', '))}</div>
      )}
      <div className="jp-mux-actions">
        <MuxButton
          aria-label={trans.__('Refresh models of %1', p.name)}
          aria-busy={refreshing}
          disabled={refreshing}
          onClick={refresh}
          {...lock}
        >
          {refreshing ? trans.__('Refreshing…') : trans.__('Refresh models')}
        </MuxButton>
        {!p.predefined && (
          <>
            <MuxButton
              aria-label={trans.__('Edit provider %1', p.name)}
              aria-expanded={editing}
              onClick={toggleEditing}
              {...lock}
            >
              {trans.__('Edit')}
            </MuxButton>
            <MuxButton
              kind="warn"
              aria-label={trans.__('Delete provider %1', p.name)}
              onClick={remove}
              {...lock}
            >
              {trans.__('Delete')}
            </MuxButton>
          </>
        )}
      </div>
      <ErrorText>{error}</ErrorText>
      {editing && !p.predefined && (
        <ProviderForm model={model} provider={p} onDone={closeEditing} onCancel={closeEditing} />
      )}
    </li>
  );
}
