import { InputDialog } from '@jupyterlab/apputils';
import { Button, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { MuxModel } from '../model';
import type { ITarget, IWorkspace } from '../types';
import { deleteWorkspaceBlocker, nameProblem, targetText } from '../utils';
import { confirm, ErrorText, inform, messageOf, useModel } from './common';
import { ModelPicker } from './ModelPicker';
import { RulesEditor } from './RulesEditor';

export function WorkspacesView(props: { model: MuxModel }): JSX.Element {
  const { model } = props;
  useModel(model);
  const [name, setName] = React.useState('');
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);

  const create = async (event: React.FormEvent) => {
    event.preventDefault();
    const problem = nameProblem(name.trim());
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    try {
      await model.createWorkspace({ name: name.trim() });
      setName('');
      setError('');
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-workspaces-title">
      <h2 id="jp-mux-workspaces-title">Workspaces</h2>
      <p className="jp-mux-hint">
        The active workspace answers every request to the mux URL with its model.
      </p>
      <ul className="jp-mux-list" aria-label="Workspaces">
        {model.workspaces.map(ws => (
          <WorkspaceItem key={ws.name} model={model} workspace={ws} />
        ))}
      </ul>
      <form className="jp-mux-inline-form" onSubmit={create}>
        <InputGroup
          aria-label="New workspace name"
          placeholder="New workspace name"
          value={name}
          disabled={busy}
          onChange={e => setName(e.currentTarget.value)}
        />
        <Button type="submit" aria-label="Create workspace" disabled={busy || !name.trim()}>
          Create
        </Button>
      </form>
      <ErrorText>{error}</ErrorText>
    </section>
  );
}

function WorkspaceItem(props: { model: MuxModel; workspace: IWorkspace }): JSX.Element {
  const { model, workspace: ws } = props;
  const [picking, setPicking] = React.useState(false);
  const [rulesOpen, setRulesOpen] = React.useState(false);
  const [error, setError] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const blocker = deleteWorkspaceBlocker(ws);
  const showPicker = picking || !ws.preferred_ok;

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
      setPicking(false);
    });

  const rename = async () => {
    const result = await InputDialog.getText({
      title: `Rename workspace "${ws.name}"`,
      label: 'New name',
      text: ws.name,
      okLabel: 'Rename'
    });
    const value = result.value?.trim();
    if (!result.button.accept || !value || value === ws.name) {
      return;
    }
    const problem = nameProblem(value);
    if (problem) {
      setError(problem);
      return;
    }
    await run(() => model.updateWorkspace(ws.name, { name: value }));
  };

  const remove = async () => {
    if (blocker) {
      await inform('Cannot delete', blocker);
      return;
    }
    if (
      await confirm(
        'Delete workspace',
        `Delete workspace "${ws.name}"? Requests pinned to it will fail.`,
        'Delete'
      )
    ) {
      await run(() => model.deleteWorkspace(ws.name));
    }
  };

  return (
    <li
      className={`jp-mux-item${ws.is_active ? ' jp-mux-active' : ''}`}
      data-workspace={ws.name}
      aria-current={ws.is_active ? 'true' : undefined}
    >
      <div className="jp-mux-item-head">
        <span className="jp-mux-name">{ws.name}</span>
        {ws.is_active && <span className="jp-mux-badge jp-mux-badge-ok">active</span>}
      </div>
      <div className="jp-mux-item-detail">
        <span className="jp-mux-model-text">{targetText(ws.preferred)}</span>
      </div>
      {ws.description && <div className="jp-mux-hint">{ws.description}</div>}
      {ws.problem && (
        <div className="jp-mux-warning" role="status">
          {ws.problem}
          {ws.preferred && ' Fix: pick another model below.'}
        </div>
      )}
      <div className="jp-mux-actions">
        <Button
          small
          aria-label={`Activate workspace ${ws.name}`}
          disabled={busy || ws.is_active}
          onClick={() => run(() => model.activate(ws.name))}
        >
          {ws.is_active ? 'Active' : 'Activate'}
        </Button>
        {ws.preferred_ok && (
          <Button
            small
            minimal
            aria-label={`Change model of workspace ${ws.name}`}
            aria-expanded={picking}
            disabled={busy}
            onClick={() => setPicking(!picking)}
          >
            Model…
          </Button>
        )}
        <Button
          small
          minimal
          aria-label={`Rules of workspace ${ws.name}`}
          aria-expanded={rulesOpen}
          disabled={busy}
          onClick={() => setRulesOpen(!rulesOpen)}
        >
          Rules…
        </Button>
        <Button
          small
          minimal
          aria-label={`Rename workspace ${ws.name}`}
          disabled={busy}
          onClick={rename}
        >
          Rename
        </Button>
        <Button
          small
          minimal
          className="jp-mux-danger"
          aria-label={`Delete workspace ${ws.name}`}
          aria-disabled={blocker ? 'true' : undefined}
          title={blocker ?? `Delete workspace ${ws.name}`}
          disabled={busy || !!blocker}
          onClick={remove}
        >
          Delete
        </Button>
      </div>
      {blocker && <div className="jp-mux-hint">{blocker}</div>}
      {showPicker && (
        <ModelPicker
          providers={model.providers}
          value={ws.preferred}
          label={`Model for workspace ${ws.name}`}
          disabled={busy}
          onPick={pick}
        />
      )}
      {rulesOpen && (
        <RulesEditor model={model} workspace={ws.name} onClose={() => setRulesOpen(false)} />
      )}
      <ErrorText>{error}</ErrorText>
    </li>
  );
}
