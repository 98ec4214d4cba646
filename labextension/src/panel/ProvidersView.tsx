import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { MuxModel } from '../model';
import type { IProvider, IProviderUpdate } from '../types';
import { deleteProviderMessage, plural, providerStatusText } from '../utils';
import { confirm, ErrorText, messageOf, useModel } from './common';
import { IProviderFormValues, ProviderForm } from './ProviderForm';

const SHOWN_MODELS = 8;

export function ProvidersView(props: { model: MuxModel }): JSX.Element {
  const { model } = props;
  useModel(model);
  const [adding, setAdding] = React.useState(false);
  const [notice, setNotice] = React.useState<{ name: string; text: string } | null>(null);

  const add = async (v: IProviderFormValues) => {
    const p = await model.createProvider({
      name: v.name,
      type: v.type,
      endpoint: v.endpoint.trim() || null,
      description: v.description,
      auth_type: v.auth_type,
      api_key: v.auth_type === 'api_key' && v.api_key ? v.api_key : null
    });
    setNotice({
      name: p.name,
      text:
        p.status === 'ok'
          ? `Added "${p.name}" with ${plural(p.models.length, 'model')}.`
          : `Added "${p.name}", but it cannot be reached: ${p.error}`
    });
    setAdding(false);
  };

  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-providers-title">
      <h2 id="jp-mux-providers-title">Providers</h2>
      <ul className="jp-mux-list" aria-label="Providers">
        {model.providers.map(p => (
          <ProviderItem key={p.name} model={model} provider={p} />
        ))}
      </ul>
      {!model.providers.length && model.loaded && (
        <p className="jp-mux-hint">No providers yet.</p>
      )}
      {notice && model.providers.some(p => p.name === notice.name) && (
        <div className="jp-mux-hint" role="status">
          {notice.text}
        </div>
      )}
      {adding ? (
        <ProviderForm
          types={model.providerTypes}
          onSubmit={add}
          onCancel={() => setAdding(false)}
        />
      ) : (
        <Button
          aria-label="Add provider…"
          onClick={() => {
            setNotice(null);
            setAdding(true);
          }}
        >
          Add provider…
        </Button>
      )}
    </section>
  );
}

function ProviderItem(props: { model: MuxModel; provider: IProvider }): JSX.Element {
  const { model, provider: p } = props;
  const [editing, setEditing] = React.useState(false);
  const [showAll, setShowAll] = React.useState(false);
  const [error, setError] = React.useState('');
  const refreshing = model.isRefreshing(p.name);
  const models = showAll ? p.models : p.models.slice(0, SHOWN_MODELS);

  const refresh = async () => {
    try {
      const result = await model.refreshModels(p.name);
      // The provider's own line shows the reason; say only that this refresh failed.
      setError(result.status === 'error' ? 'Refresh failed: the last model list is kept.' : '');
    } catch (e) {
      setError(`Refresh failed: ${messageOf(e)}`);
    }
  };

  const remove = async () => {
    if (await confirm('Delete provider', deleteProviderMessage(p), 'Delete')) {
      try {
        await model.deleteProvider(p.name);
      } catch (e) {
        setError(messageOf(e));
      }
    }
  };

  const save = async (v: IProviderFormValues) => {
    const body: IProviderUpdate = {
      endpoint: v.endpoint.trim() || null,
      description: v.description,
      auth_type: v.auth_type
    };
    if (v.name !== p.name) {
      body.name = v.name;
    }
    if (v.auth_type === 'api_key' && v.api_key) {
      body.api_key = v.api_key;
    }
    await model.updateProvider(p.name, body);
    setEditing(false);
  };

  return (
    <li className="jp-mux-item" data-provider={p.name}>
      <div className="jp-mux-item-head">
        <span className="jp-mux-name">{p.name}</span>
        <span className="jp-mux-type">{p.type}</span>
        <span
          className={`jp-mux-badge ${p.status === 'ok' ? 'jp-mux-badge-ok' : 'jp-mux-badge-error'}`}
        >
          {p.status}
        </span>
        {p.predefined && (
          <span className="jp-mux-badge" title="Defined in the server configuration">
            read-only
          </span>
        )}
      </div>
      <div className="jp-mux-item-detail jp-mux-endpoint" title={p.endpoint}>
        {p.endpoint}
      </div>
      {p.description && <div className="jp-mux-hint">{p.description}</div>}
      <div
        className={p.status === 'ok' ? 'jp-mux-status' : 'jp-mux-error'}
        role={p.status === 'ok' ? undefined : 'alert'}
      >
        {providerStatusText(p)}
      </div>
      {p.used_by.length > 0 && (
        <div className="jp-mux-hint">Used by: {p.used_by.join(', ')}</div>
      )}
      {p.models.length > 0 && (
        <ul className="jp-mux-models" aria-label={`Models of ${p.name}`}>
          {models.map(m => (
            <li key={m}>{m}</li>
          ))}
          {p.models.length > SHOWN_MODELS && (
            <li>
              <Button
                small
                minimal
                aria-label={showAll ? 'Show fewer models' : `Show all ${p.models.length} models`}
                onClick={() => setShowAll(!showAll)}
              >
                {showAll ? 'fewer' : `+${p.models.length - SHOWN_MODELS} more`}
              </Button>
            </li>
          )}
        </ul>
      )}
      <div className="jp-mux-actions">
        <Button
          small
          aria-label={`Refresh models of ${p.name}`}
          aria-busy={refreshing}
          disabled={refreshing}
          onClick={refresh}
        >
          {refreshing ? 'Refreshing…' : 'Refresh models'}
        </Button>
        {refreshing && <span className="jp-mux-spinner" role="progressbar" aria-label="Refreshing" />}
        {p.predefined ? (
          <span className="jp-mux-hint">Predefined by the server: read-only.</span>
        ) : (
          <>
            <Button
              small
              minimal
              aria-label={`Edit provider ${p.name}`}
              aria-expanded={editing}
              onClick={() => setEditing(!editing)}
            >
              Edit
            </Button>
            <Button
              small
              minimal
              className="jp-mux-danger"
              aria-label={`Delete provider ${p.name}`}
              onClick={remove}
            >
              Delete
            </Button>
          </>
        )}
      </div>
      <ErrorText>{error}</ErrorText>
      {editing && !p.predefined && (
        <ProviderForm
          types={model.providerTypes}
          provider={p}
          onSubmit={save}
          onCancel={() => setEditing(false)}
        />
      )}
    </li>
  );
}
