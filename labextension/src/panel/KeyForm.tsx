import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  dayText,
  EMPTY_KEY_FORM,
  IKeyFormValues,
  keyCreateBody,
  keyFormProblems,
  KeyFormProblems
} from '../helpers/keys';
import type { MuxModel } from '../model';
import type { IKeyCreated } from '../types';
import { ErrorText, messageOf, MuxButton, useModel, useTrans } from './common';

let counter = 0;

/** A field's problem, under it; the field points at it (aria-describedby). */
function FieldProblem(props: { id: string; problem?: string }): JSX.Element | null {
  if (!props.problem) {
    return null;
  }
  return (
    <div id={props.id} className="jp-mux-error jp-mux-field-error">
      {props.problem}
    </div>
  );
}

/**
 * Create a mux key: a name, and optionally a workspace it is pinned to, the last day it
 * works and a budget in USD. Checked field by field before the server sees it; the server's
 * refusal stays in view under the form. `onCreated` gets the key with its secret.
 */
export function KeyForm(props: {
  model: MuxModel;
  title: string;
  initialName?: string;
  onCreated: (key: IKeyCreated) => void;
  onCancel: () => void;
}): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  const [values, setValues] = React.useState<IKeyFormValues>(() => ({
    ...EMPTY_KEY_FORM,
    name: props.initialName ?? ''
  }));
  const [problems, setProblems] = React.useState<KeyFormProblems>({});
  const [checked, setChecked] = React.useState(false);
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [id] = React.useState(() => `jp-mux-key-form-${++counter}`);
  const workspaces = model.workspaces.map(w => w.name);

  const check = (v: IKeyFormValues): KeyFormProblems =>
    keyFormProblems(v, trans, {
      now: new Date(),
      existing: (model.keys ?? []).map(k => k.name),
      workspaces
    });

  const set = (patch: Partial<IKeyFormValues>) => {
    const v = { ...values, ...patch };
    setValues(v);
    if (checked) {
      setProblems(check(v)); // once submitted, the messages follow the typing
    }
  };

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const found = check(values);
    setChecked(true);
    setProblems(found);
    setError('');
    if (Object.keys(found).length) {
      return;
    }
    setBusy(true);
    try {
      const created = await model.createKey(keyCreateBody(values));
      setBusy(false);
      props.onCreated(created);
    } catch (e) {
      setError(trans.__('The key was not created: %1', messageOf(e)));
      setBusy(false);
    }
  };

  const field = (name: keyof IKeyFormValues) => ({
    id: `${id}-${name}`,
    'aria-invalid': problems[name] ? true : undefined,
    'aria-describedby': problems[name]
      ? `${id}-${name}-problem`
      : name === 'name'
        ? undefined
        : `${id}-${name}-hint`
  });

  return (
    <form className="jp-mux-form" aria-label={props.title} onSubmit={submit} noValidate>
      <h3 className="jp-mux-form-title">{props.title}</h3>
      <div className="jp-mux-form-grid">
        <label htmlFor={`${id}-name`}>{trans.__('Key name')}</label>
        <div>
          <InputGroup
            {...field('name')}
            value={values.name}
            placeholder={trans.__('e.g. laptop-claude-code')}
            disabled={busy}
            autoFocus
            autoComplete="off"
            onChange={e => set({ name: e.currentTarget.value })}
          />
          <FieldProblem id={`${id}-name-problem`} problem={problems.name} />
        </div>
        <label htmlFor={`${id}-workspace`}>{trans.__('Workspace')}</label>
        <div>
          <HTMLSelect
            {...field('workspace')}
            value={values.workspace}
            disabled={busy}
            onChange={e => set({ workspace: e.currentTarget.value })}
          >
            <option value="">{trans.__('Any workspace')}</option>
            {values.workspace && !workspaces.includes(values.workspace) && (
              <option value={values.workspace}>{values.workspace}</option>
            )}
            {workspaces.map(w => (
              <option key={w} value={w}>
                {w}
              </option>
            ))}
          </HTMLSelect>
          <div id={`${id}-workspace-hint`} className="jp-mux-hint">
            {trans.__(
              'Any workspace: the key follows the active one. A pinned key always uses its workspace.'
            )}
          </div>
          <FieldProblem id={`${id}-workspace-problem`} problem={problems.workspace} />
        </div>
        <label htmlFor={`${id}-expires`}>{trans.__('Last day')}</label>
        <div>
          <InputGroup
            {...field('expires')}
            type="date"
            min={dayText(new Date())}
            value={values.expires}
            disabled={busy}
            onChange={e => set({ expires: e.currentTarget.value })}
          />
          <div id={`${id}-expires-hint`} className="jp-mux-hint">
            {trans.__('Optional: the key stops working after this day. Empty: it never expires.')}
          </div>
          <FieldProblem id={`${id}-expires-problem`} problem={problems.expires} />
        </div>
        <label htmlFor={`${id}-budget`}>{trans.__('Budget (USD)')}</label>
        <div>
          <InputGroup
            {...field('budget')}
            inputMode="decimal"
            value={values.budget}
            placeholder={trans.__('No limit')}
            disabled={busy}
            autoComplete="off"
            onChange={e => set({ budget: e.currentTarget.value })}
          />
          <div id={`${id}-budget-hint`} className="jp-mux-hint">
            {trans.__('Optional: the key stops working once its requests cost this much.')}
          </div>
          <FieldProblem id={`${id}-budget-problem`} problem={problems.budget} />
        </div>
      </div>
      {Object.keys(problems).length > 0 && (
        <ErrorText>{trans.__('Please correct the marked fields.')}</ErrorText>
      )}
      <ErrorText>{error}</ErrorText>
      {busy && (
        <div className="jp-mux-hint" role="status">
          {trans.__('Creating the key…')}
        </div>
      )}
      <div className="jp-mux-actions">
        <MuxButton kind="accept" type="submit" disabled={busy}>
          {trans.__('Create key')}
        </MuxButton>
        <MuxButton kind="reject" disabled={busy} onClick={props.onCancel}>
          {trans.__('Cancel')}
        </MuxButton>
      </div>
    </form>
  );
}
