import { InputDialog } from '@jupyterlab/apputils';
import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import { nameProblem } from '../helpers/names';
import { parseTargetKey, targetText } from '../helpers/targets';
import { workspaceLockReason } from '../helpers/texts';
import type { MuxModel } from '../model';
import type { ITarget, IWorkspace } from '../types';
import {
  confirm,
  ErrorText,
  messageOf,
  MuxButton,
  SharedBadge,
  useEditor,
  useModel,
  useTrans
} from './common';
import { ModelOptions, ModelPicker } from './ModelPicker';
import { RulesEditor } from './RulesEditor';

/**
 * The workspaces: create (with a model), activate, pick a model, edit rules, rename, delete.
 * One the Hub's admin shares is marked, and only activated here: its rules are shown
 * read-only and every control that would change it is disabled, with the reason.
 */
export function WorkspacesView(props: { model: MuxModel }): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-workspaces-title">
      <div className="jp-mux-section-head">
        <h2 id="jp-mux-workspaces-title">{trans.__('Workspaces')}</h2>
      </div>
      <p className="jp-mux-hint">
        {trans.__(
          'The active workspace answers every request to the mux URL; its rules pick the model.'
        )}
      </p>
      <NewWorkspaceForm model={model} />
      <ul className="jp-mux-cards" aria-label={trans.__('Workspaces')}>
        {model.workspaces.map(ws => (
          <WorkspaceCard key={ws.name} model={model} workspace={ws} />
        ))}
      </ul>
    </section>
  );
}

function NewWorkspaceForm(props: { model: MuxModel }): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  const [name, setName] = React.useState('');
  const [target, setTarget] = React.useState('');
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);

  const create = async (event: React.FormEvent) => {
    event.preventDefault();
    const problem = nameProblem(name.trim(), trans);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    try {
      await model.createWorkspace({ name: name.trim(), preferred: parseTargetKey(target) });
      setName('');
      setTarget('');
      setError('');
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="jp-mux-form jp-mux-new-workspace"
      aria-label={trans.__('New workspace')}
      onSubmit={create}
    >
      <div className="jp-mux-inline-form">
        <InputGroup
          aria-label={trans.__('New workspace name')}
          placeholder={trans.__('New workspace name')}
          value={name}
          disabled={busy}
          onChange={e => setName(e.currentTarget.value)}
        />
        <HTMLSelect
          aria-label={trans.__('Model of the new workspace')}
          value={target}
          disabled={busy}
          onChange={e => setTarget(e.currentTarget.value)}
        >
          <option value="">{trans.__('No model yet')}</option>
          <ModelOptions providers={model.providers} />
        </HTMLSelect>
        <MuxButton kind="accept" type="submit" disabled={busy || !name.trim()}>
          {trans.__('Create workspace')}
        </MuxButton>
      </div>
      <ErrorText>{error}</ErrorText>
    </form>
  );
}

function WorkspaceCard(props: { model: MuxModel; workspace: IWorkspace }): JSX.Element {
  const trans = useTrans();
  const { model, workspace: ws } = props;
  const [picking, togglePicking, closePicking] = useEditor(`model:${ws.name}`);
  const [rulesOpen, toggleRules, closeRules] = useEditor(`rules:${ws.name}`);
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const locked = workspaceLockReason(ws, trans);
  const lockId = `jp-mux-locked-${ws.name}`;
  // The controls that would change the workspace: disabled, and saying why, when locked.
  const change = locked
    ? { disabled: true, title: locked, 'aria-describedby': lockId }
    : { disabled: busy };

  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await action();
      setError('');
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const pick = (target: ITarget) =>
    run(async () => {
      await model.updateWorkspace(ws.name, { preferred: target });
      closePicking();
    });

  const rename = async () => {
    const result = await InputDialog.getText({
      title: trans.__('Rename workspace "%1"', ws.name),
      label: trans.__('New name'),
      text: ws.name,
      okLabel: trans.__('Rename'),
      cancelLabel: trans.__('Cancel')
    });
    const value = result.value?.trim();
    if (!result.button.accept || !value || value === ws.name) {
      return;
    }
    const problem = nameProblem(value, trans);
    if (problem) {
      setError(problem);
      return;
    }
    await run(() => model.updateWorkspace(ws.name, { name: value }));
  };

  const remove = async () => {
    if (
      await confirm(
        trans,
        trans.__('Delete workspace'),
        trans.__('Delete workspace "%1"? Requests pinned to it will fail.', ws.name),
        trans.__('Delete')
      )
    ) {
      await run(() => model.deleteWorkspace(ws.name));
    }
  };

  const classes = ['jp-mux-card'];
  if (ws.is_active) {
    classes.push('jp-mux-active');
  }
  if (rulesOpen || picking) {
    classes.push('jp-mux-card-wide');
  }

  return (
    <li
      className={classes.join(' ')}
      data-workspace={ws.name}
      aria-current={ws.is_active ? 'true' : undefined}
    >
      <div className="jp-mux-card-head">
        <span
          className={`jp-mux-dot jp-mux-dot-${ws.problem ? 'error' : 'ok'}`}
          aria-hidden="true"
        />
        <span className="jp-mux-name">{ws.name}</span>
        {ws.shared && <SharedBadge />}
        {ws.is_active && <span className="jp-mux-badge jp-mux-badge-active">{trans.__('active')}</span>}
      </div>
      <div className="jp-mux-model-text">{targetText(ws.preferred, trans)}</div>
      {ws.description && <div className="jp-mux-hint">{ws.description}</div>}
      {ws.problem && (
        <div className="jp-mux-warning" role="status">
          {ws.problem}
        </div>
      )}
      {locked && (
        <div id={lockId} className="jp-mux-hint">
          {locked}
        </div>
      )}
      <div className="jp-mux-actions">
        {!ws.is_active && (
          <MuxButton
            kind="accept"
            aria-label={trans.__('Activate workspace %1', ws.name)}
            disabled={busy}
            onClick={() => run(() => model.activate(ws.name))}
          >
            {trans.__('Activate')}
          </MuxButton>
        )}
        <MuxButton
          kind={ws.preferred_ok ? 'reject' : 'accept'}
          aria-label={trans.__('Change model of workspace %1', ws.name)}
          aria-expanded={picking}
          {...change}
          onClick={togglePicking}
        >
          {ws.preferred_ok ? trans.__('Change model…') : trans.__('Choose a model…')}
        </MuxButton>
        <MuxButton
          aria-label={trans.__('Rules of workspace %1', ws.name)}
          aria-expanded={rulesOpen}
          disabled={busy}
          onClick={toggleRules}
        >
          {trans.__('Rules…')}
        </MuxButton>
        <MuxButton
          aria-label={trans.__('Rename workspace %1', ws.name)}
          {...change}
          onClick={rename}
        >
          {trans.__('Rename…')}
        </MuxButton>
        {!ws.is_active && (
          <MuxButton
            kind="warn"
            aria-label={trans.__('Delete workspace %1', ws.name)}
            {...change}
            onClick={remove}
          >
            {trans.__('Delete')}
          </MuxButton>
        )}
      </div>
      <ErrorText>{error}</ErrorText>
      {picking && !locked && (
        <div className="jp-mux-editor">
          <ModelPicker
            providers={model.providers}
            value={ws.preferred}
            label={trans.__('Model for workspace %1', ws.name)}
            disabled={busy}
            onPick={pick}
          />
          <div className="jp-mux-actions">
            <MuxButton onClick={closePicking}>{trans.__('Close')}</MuxButton>
          </div>
        </div>
      )}
      {rulesOpen && (
        <RulesEditor model={model} workspace={ws.name} readOnly={locked} onClose={closeRules} />
      )}
    </li>
  );
}
