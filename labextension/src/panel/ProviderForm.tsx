import { Button, HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { AuthType, IProvider, IProviderType } from '../types';
import { nameProblem } from '../utils';
import { ErrorText, messageOf } from './common';

export interface IProviderFormValues {
  name: string;
  type: string;
  endpoint: string;
  description: string;
  auth_type: AuthType;
  api_key: string;
}

export interface IProviderFormProps {
  types: IProviderType[];
  /** The provider being edited; absent to add a new one. */
  provider?: IProvider;
  onSubmit: (values: IProviderFormValues) => Promise<unknown>;
  onCancel?: () => void;
}

function initialValues(props: IProviderFormProps): IProviderFormValues {
  const p = props.provider;
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
  const t = props.types[0];
  return {
    name: '',
    type: t?.type ?? '',
    endpoint: t?.default_endpoint ?? '',
    description: '',
    auth_type: t?.default_auth ?? 'none',
    api_key: ''
  };
}

let counter = 0;

/** Add (or edit) a provider. Editing leaves the type fixed; a blank key keeps the stored one. */
export function ProviderForm(props: IProviderFormProps): JSX.Element {
  const editing = !!props.provider;
  const [values, setValues] = React.useState<IProviderFormValues>(() => initialValues(props));
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [id] = React.useState(() => `jp-mux-form-${++counter}`);
  const type = props.types.find(t => t.type === values.type);

  // The types arrive with the first poll: fill the defaults once they do.
  React.useEffect(() => {
    if (!editing && !values.type && props.types.length) {
      setValues(initialValues(props));
    }
  }, [props.types.length]);

  const set = (patch: Partial<IProviderFormValues>) => setValues(v => ({ ...v, ...patch }));

  const chooseType = (name: string) => {
    const t = props.types.find(x => x.type === name);
    const previous = props.types.find(x => x.type === values.type);
    // Replace the endpoint only if it is still the previous type's default (or empty).
    const keepEndpoint = values.endpoint && values.endpoint !== previous?.default_endpoint;
    set({
      type: name,
      endpoint: keepEndpoint ? values.endpoint : (t?.default_endpoint ?? ''),
      auth_type: t?.default_auth ?? 'none'
    });
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const problem = nameProblem(values.name.trim());
    if (problem) {
      setError(`Name: ${problem}`);
      return;
    }
    setBusy(true);
    try {
      await props.onSubmit({ ...values, name: values.name.trim() });
      setError('');
      if (!editing) {
        setValues(initialValues(props));
      }
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const authTypes: AuthType[] = type?.auth_types ?? ['none', 'api_key'];
  const title = editing ? `Edit provider ${props.provider!.name}` : 'Add provider';

  return (
    <form className="jp-mux-form" aria-label={title} onSubmit={submit}>
      <label htmlFor={`${id}-name`}>Display name</label>
      <InputGroup
        id={`${id}-name`}
        value={values.name}
        placeholder="e.g. local-llama"
        disabled={busy}
        onChange={e => set({ name: e.currentTarget.value })}
      />
      <label htmlFor={`${id}-type`}>Type</label>
      <HTMLSelect
        id={`${id}-type`}
        value={values.type}
        disabled={busy || editing}
        onChange={e => chooseType(e.currentTarget.value)}
        options={props.types.map(t => ({ value: t.type, label: t.label }))}
      />
      <label htmlFor={`${id}-endpoint`}>Endpoint</label>
      <InputGroup
        id={`${id}-endpoint`}
        value={values.endpoint}
        placeholder={type?.default_endpoint ?? 'http://localhost:8080/v1'}
        disabled={busy}
        onChange={e => set({ endpoint: e.currentTarget.value })}
      />
      <label htmlFor={`${id}-description`}>Description</label>
      <InputGroup
        id={`${id}-description`}
        value={values.description}
        disabled={busy}
        onChange={e => set({ description: e.currentTarget.value })}
      />
      {authTypes.length > 1 && (
        <>
          <label htmlFor={`${id}-auth`}>Authentication</label>
          <HTMLSelect
            id={`${id}-auth`}
            value={values.auth_type}
            disabled={busy}
            onChange={e => set({ auth_type: e.currentTarget.value as AuthType })}
            options={authTypes.map(a => ({
              value: a,
              label: a === 'api_key' ? 'API key' : 'None'
            }))}
          />
        </>
      )}
      {values.auth_type === 'api_key' && (
        <>
          <label htmlFor={`${id}-key`}>API key</label>
          <InputGroup
            id={`${id}-key`}
            type="password"
            autoComplete="off"
            value={values.api_key}
            placeholder={
              editing && props.provider!.has_api_key ? 'Leave blank to keep the stored key' : ''
            }
            disabled={busy}
            onChange={e => set({ api_key: e.currentTarget.value })}
          />
        </>
      )}
      <div className="jp-mux-actions">
        <Button type="submit" disabled={busy || !values.type}>
          {busy ? (editing ? 'Saving…' : 'Adding…') : editing ? 'Save' : 'Add provider'}
        </Button>
        {props.onCancel && (
          <Button type="button" minimal disabled={busy} onClick={props.onCancel}>
            Cancel
          </Button>
        )}
      </div>
      {busy && (
        <div className="jp-mux-hint" role="status">
          Connecting and discovering models…
        </div>
      )}
      <ErrorText>{error}</ErrorText>
    </form>
  );
}
