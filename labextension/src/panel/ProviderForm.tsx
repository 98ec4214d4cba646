import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import { nameProblem } from '../helpers/names';
import { hostChanged } from '../helpers/urls';
import type { MuxModel } from '../model';
import type {
  AuthType,
  IProvider,
  IProviderCreate,
  IProviderType,
  IProviderUpdate
} from '../types';
import { ErrorText, messageOf, MuxButton, useTrans } from './common';

export interface IProviderFormValues {
  name: string;
  type: string;
  endpoint: string;
  description: string;
  auth_type: AuthType;
  api_key: string;
}

function initialValues(types: IProviderType[], p?: IProvider): IProviderFormValues {
  if (p) {
    return {
      name: p.name,
      type: p.type,
      endpoint: p.endpoint,
      description: p.description,
      auth_type: p.auth_type,
      api_key: ''
    };
  }
  const t = types[0];
  return {
    name: '',
    type: t?.type ?? '',
    endpoint: t?.default_endpoint ?? '',
    description: '',
    auth_type: t?.default_auth ?? 'none',
    api_key: ''
  };
}

function createBody(v: IProviderFormValues): IProviderCreate {
  return {
    name: v.name,
    type: v.type as IProviderCreate['type'],
    endpoint: v.endpoint.trim() || null,
    description: v.description,
    auth_type: v.auth_type,
    api_key: v.auth_type === 'api_key' && v.api_key ? v.api_key : null
  };
}

function updateBody(p: IProvider, v: IProviderFormValues): IProviderUpdate {
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
  return body;
}

/**
 * Whether saving these values should be tried first: always for a new provider; for an
 * edit, when how to reach it changes and the probe can use the same key the save would
 * (a stored key stays on the server, so a probe without it would fail for no reason).
 */
function shouldProbe(p: IProvider | undefined, v: IProviderFormValues): boolean {
  if (!p) {
    return true;
  }
  const endpoint = v.endpoint.trim();
  const connection = endpoint !== p.endpoint || v.auth_type !== p.auth_type || !!v.api_key;
  const keyStaysOnServer =
    v.auth_type === 'api_key' && !v.api_key && p.has_api_key && !hostChanged(p.endpoint, endpoint);
  return connection && !keyStaysOnServer;
}

let counter = 0;

/**
 * Add (or edit) a provider. The settings are tried before saving: an unreachable provider
 * keeps the form open with the reason and a "Save anyway". Editing leaves the type fixed;
 * a blank key keeps the stored one.
 */
export function ProviderForm(props: {
  model: MuxModel;
  provider?: IProvider;
  onDone: (saved: IProvider) => void;
  onCancel: () => void;
}): JSX.Element {
  const trans = useTrans();
  const { model, provider } = props;
  const types = model.providerTypes;
  const editing = !!provider;
  const [values, setValues] = React.useState(() => initialValues(types, provider));
  const [error, setError] = React.useState('');
  const [unreachable, setUnreachable] = React.useState(false);
  const [busy, setBusy] = React.useState<'' | 'probing' | 'saving'>('');
  const [id] = React.useState(() => `jp-mux-form-${++counter}`);
  const type = types.find(t => t.type === values.type);

  // The types arrive with the first poll: fill the defaults once they do.
  React.useEffect(() => {
    if (!editing && !values.type && types.length) {
      setValues(initialValues(types));
    }
  }, [types.length]);

  const set = (patch: Partial<IProviderFormValues>) => {
    setValues(v => ({ ...v, ...patch }));
    setUnreachable(false);
  };

  const chooseType = (name: string) => {
    const t = types.find(x => x.type === name);
    const previous = types.find(x => x.type === values.type);
    // Replace the endpoint only if it is still the previous type's default (or empty).
    const keepEndpoint = values.endpoint && values.endpoint !== previous?.default_endpoint;
    set({
      type: name,
      endpoint: keepEndpoint ? values.endpoint : (t?.default_endpoint ?? ''),
      auth_type: t?.default_auth ?? 'none'
    });
  };

  const save = async (v: IProviderFormValues) => {
    setBusy('saving');
    try {
      const saved = provider
        ? await model.updateProvider(provider.name, updateBody(provider, v))
        : await model.createProvider(createBody(v));
      setBusy('');
      props.onDone(saved);
    } catch (e) {
      setError(messageOf(e));
      setBusy('');
    }
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const v = { ...values, name: values.name.trim() };
    const problem = nameProblem(v.name, trans);
    if (problem) {
      setError(trans.__('Name: %1', problem));
      return;
    }
    setError('');
    if (shouldProbe(provider, v)) {
      setBusy('probing');
      try {
        const probe = await model.probeProvider(createBody(v));
        if (!probe.ok) {
          setError(trans.__('Cannot reach this provider: %1', probe.error ?? ''));
          setUnreachable(true);
          setBusy('');
          return;
        }
      } catch (e) {
        setError(messageOf(e));
        setBusy('');
        return;
      }
    }
    await save(v);
  };

  const authTypes: AuthType[] = type?.auth_types ?? ['none', 'api_key'];
  const title = editing
    ? trans.__('Edit provider %1', provider!.name)
    : trans.__('Add provider');
  const movingHost =
    editing &&
    provider!.has_api_key &&
    !values.api_key &&
    hostChanged(provider!.endpoint, values.endpoint);
  const disabled = busy !== '';

  return (
    <form className="jp-mux-form" aria-label={title} onSubmit={submit}>
      <h3 className="jp-mux-form-title">{title}</h3>
      <div className="jp-mux-form-grid">
        <label htmlFor={`${id}-name`}>{trans.__('Display name')}</label>
        <InputGroup
          id={`${id}-name`}
          value={values.name}
          placeholder={trans.__('e.g. local-llama')}
          disabled={disabled}
          autoFocus
          onChange={e => set({ name: e.currentTarget.value })}
        />
        <label htmlFor={`${id}-type`}>{trans.__('Type')}</label>
        <HTMLSelect
          id={`${id}-type`}
          value={values.type}
          disabled={disabled || editing}
          onChange={e => chooseType(e.currentTarget.value)}
          options={types.map(t => ({ value: t.type, label: t.label }))}
        />
        <label htmlFor={`${id}-endpoint`}>{trans.__('Endpoint')}</label>
        <div>
          <InputGroup
            id={`${id}-endpoint`}
            value={values.endpoint}
            placeholder={type?.default_endpoint ?? 'http://localhost:8080/v1'}
            disabled={disabled}
            onChange={e => set({ endpoint: e.currentTarget.value })}
          />
          {editing && provider!.has_api_key && (
            <div className={movingHost ? 'jp-mux-warning' : 'jp-mux-hint'} role="note">
              {movingHost
                ? trans.__(
                    'This endpoint is on another host: saving drops the stored API key unless you enter a new key below.'
                  )
                : trans.__(
                    'Changing the endpoint\'s host drops the stored API key unless you enter a new key.'
                  )}
            </div>
          )}
        </div>
        <label htmlFor={`${id}-description`}>{trans.__('Description')}</label>
        <InputGroup
          id={`${id}-description`}
          value={values.description}
          disabled={disabled}
          onChange={e => set({ description: e.currentTarget.value })}
        />
        {authTypes.length > 1 && (
          <>
            <label htmlFor={`${id}-auth`}>{trans.__('Authentication')}</label>
            <HTMLSelect
              id={`${id}-auth`}
              value={values.auth_type}
              disabled={disabled}
              onChange={e => set({ auth_type: e.currentTarget.value as AuthType })}
              options={authTypes.map(a => ({
                value: a,
                label: a === 'api_key' ? trans.__('API key') : trans.__('None')
              }))}
            />
          </>
        )}
        {values.auth_type === 'api_key' && (
          <>
            <label htmlFor={`${id}-key`}>{trans.__('API key')}</label>
            <InputGroup
              id={`${id}-key`}
              type="password"
              autoComplete="off"
              value={values.api_key}
              placeholder={
                editing && provider!.has_api_key
                  ? trans.__('Leave blank to keep the stored key')
                  : ''
              }
              disabled={disabled}
              onChange={e => set({ api_key: e.currentTarget.value })}
            />
          </>
        )}
      </div>
      <ErrorText>{error}</ErrorText>
      {busy && (
        <div className="jp-mux-hint" role="status">
          {busy === 'probing'
            ? trans.__('Connecting and discovering models…')
            : trans.__('Saving…')}
        </div>
      )}
      <div className="jp-mux-actions">
        <MuxButton kind="accept" type="submit" disabled={disabled || !values.type}>
          {editing ? trans.__('Save') : trans.__('Add provider')}
        </MuxButton>
        {unreachable && (
          <MuxButton
            kind="warn"
            disabled={disabled}
            onClick={() => void save({ ...values, name: values.name.trim() })}
          >
            {trans.__('Save anyway')}
          </MuxButton>
        )}
        <MuxButton kind="reject" disabled={disabled} onClick={props.onCancel}>
          {trans.__('Cancel')}
        </MuxButton>
      </div>
    </form>
  );
}
