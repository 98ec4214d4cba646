import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import { sameData } from '../helpers/data';
import {
  canMoveRule,
  editableRules,
  insertRule,
  isCatchAll,
  moveRule,
  NewRuleKind,
  patternPlaceholder,
  removeRule,
  replaceRule,
  REQUEST_TYPES,
  requestTypeLabel,
  RULE_KINDS,
  ruleHints,
  ruleKindLabel,
  rulesListHints,
  ruleSummary
} from '../helpers/rules';
import {
  addTarget,
  parseTargetKey,
  removeTarget,
  targetKey,
  targetRole,
  targetText
} from '../helpers/targets';
import type { MuxModel } from '../model';
import type { IProvider, IRule, ITarget } from '../types';
import { ErrorText, messageOf, MuxButton, useTrans } from './common';
import { ModelOptions } from './ModelPicker';

/**
 * The routing rules of one workspace, in priority order: add, reorder (drag and drop or
 * the up/down buttons), delete, edit models; Save replaces the whole list on the server.
 * With `readOnly` (why the workspace cannot be changed) they are only shown.
 */
export function RulesEditor(props: {
  model: MuxModel;
  workspace: string;
  readOnly?: string | null;
  onClose: () => void;
}): JSX.Element {
  const trans = useTrans();
  const { model, workspace, readOnly } = props;
  const [saved, setSaved] = React.useState<IRule[] | null>(null);
  const [rules, setRules] = React.useState<IRule[]>([]);
  const [error, setError] = React.useState('');
  const [notice, setNotice] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [dragFrom, setDragFrom] = React.useState<number | null>(null);
  const [dropAt, setDropAt] = React.useState<number | null>(null);

  React.useEffect(() => {
    let live = true;
    setBusy(true);
    model
      .getRules(workspace)
      .then(list => {
        if (live) {
          setSaved(list);
          setRules(list);
          setError('');
        }
      })
      .catch(e => live && setError(messageOf(e)))
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
  }, [model, workspace]);

  const edit = (next: IRule[]) => {
    setRules(next);
    setNotice('');
    setError('');
  };

  const save = async () => {
    setBusy(true);
    try {
      const list = await model.saveRules(workspace, rules);
      setSaved(list);
      setRules(list);
      setError('');
      setNotice(trans.__('Rules saved.'));
    } catch (e) {
      setError(messageOf(e));
      setNotice('');
    } finally {
      setBusy(false);
    }
  };

  const dirty = saved !== null && !sameData(editableRules(saved), editableRules(rules));
  const locked = busy || !!readOnly;
  const listHints = rulesListHints(rules, trans);
  const titleId = `jp-mux-rules-title-${workspace}`;

  const onDrop = (index: number) => {
    if (dragFrom !== null) {
      edit(moveRule(rules, dragFrom, index));
    }
    setDragFrom(null);
    setDropAt(null);
  };

  return (
    <section
      className="jp-mux-editor jp-mux-rules"
      aria-labelledby={titleId}
      data-rules-workspace={workspace}
    >
      <h3 id={titleId}>{trans.__('Rules of %1', workspace)}</h3>
      <p className="jp-mux-hint">
        {readOnly ||
          trans.__(
            'The first matching rule routes a request; its first model answers and the others are fallbacks. Drag rules or use the arrows to reorder; "Everything else" stays last.'
          )}
      </p>
      {saved === null && busy && <div className="jp-mux-hint">{trans.__('Loading rules…')}</div>}
      <ol className="jp-mux-rule-list" aria-label={trans.__('Rules of workspace %1', workspace)}>
        {rules.map((rule, i) => {
          const pinned = isCatchAll(rule);
          const classes = ['jp-mux-rule'];
          if (dragFrom === i) {
            classes.push('jp-mux-dragging');
          }
          if (dropAt === i && dragFrom !== null && dragFrom !== i) {
            classes.push('jp-mux-drop-target');
          }
          return (
            <li
              key={i}
              className={classes.join(' ')}
              data-rule-index={i}
              data-rule-kind={rule.kind}
              draggable={!pinned && !locked}
              aria-label={trans.__('Rule %1: %2', i + 1, ruleSummary(rule, trans))}
              onDragStart={event => {
                if (pinned) {
                  event.preventDefault();
                  return;
                }
                event.dataTransfer.effectAllowed = 'move';
                event.dataTransfer.setData('text/plain', String(i));
                setDragFrom(i);
              }}
              onDragOver={event => {
                if (dragFrom === null || pinned) {
                  return;
                }
                event.preventDefault();
                event.dataTransfer.dropEffect = 'move';
                setDropAt(i);
              }}
              onDragLeave={() => setDropAt(d => (d === i ? null : d))}
              onDrop={event => {
                event.preventDefault();
                if (!pinned) {
                  onDrop(i);
                }
              }}
              onDragEnd={() => {
                setDragFrom(null);
                setDropAt(null);
              }}
            >
              <RuleRow
                rule={rule}
                index={i}
                rules={rules}
                providers={model.providers}
                disabled={locked}
                onChange={r => edit(replaceRule(rules, i, r))}
                onMove={delta => edit(moveRule(rules, i, i + delta))}
                onDelete={() => edit(removeRule(rules, i))}
              />
            </li>
          );
        })}
      </ol>
      {listHints.map(h => (
        <div key={h} className="jp-mux-warning">
          {h}
        </div>
      ))}
      {!readOnly && (
        <NewRuleForm
          workspace={workspace}
          providers={model.providers}
          disabled={busy || saved === null}
          onAdd={rule => edit(insertRule(rules, rule))}
        />
      )}
      <ErrorText>{error}</ErrorText>
      {notice && (
        <div className="jp-mux-notice" role="status">
          {notice}
        </div>
      )}
      <div className="jp-mux-actions">
        {!readOnly && (
          <>
            <MuxButton
              kind="accept"
              aria-label={trans.__('Save rules of workspace %1', workspace)}
              disabled={busy || !dirty}
              onClick={save}
            >
              {trans.__('Save rules')}
            </MuxButton>
            <MuxButton
              aria-label={trans.__('Discard rule changes of workspace %1', workspace)}
              disabled={busy || !dirty}
              onClick={() => saved && edit(saved)}
            >
              {trans.__('Discard changes')}
            </MuxButton>
          </>
        )}
        <MuxButton onClick={props.onClose}>{trans.__('Close')}</MuxButton>
        {dirty && <span className="jp-mux-hint">{trans.__('Unsaved changes')}</span>}
      </div>
    </section>
  );
}

function RuleRow(props: {
  rule: IRule;
  index: number;
  rules: IRule[];
  providers: IProvider[];
  disabled: boolean;
  onChange: (rule: IRule) => void;
  onMove: (delta: number) => void;
  onDelete: () => void;
}): JSX.Element {
  const trans = useTrans();
  const { rule, index: i, rules } = props;
  const pinned = isCatchAll(rule);
  const name = trans.__('rule %1', i + 1);
  const hints = ruleHints(rule, trans);
  return (
    <>
      <div className="jp-mux-rule-head">
        {!pinned && (
          <span className="jp-mux-drag-handle" title={trans.__('Drag to reorder')} aria-hidden="true">
            ⠿
          </span>
        )}
        <span className="jp-mux-rule-number">{i + 1}.</span>
        <span className="jp-mux-rule-summary">{ruleSummary(rule, trans)}</span>
        {pinned && <span className="jp-mux-hint">{trans.__('(always last)')}</span>}
        {rule.ok === false && (
          <span className="jp-mux-badge jp-mux-badge-error">{trans.__('problem')}</span>
        )}
        {!pinned && (
          <span className="jp-mux-rule-buttons">
            <MuxButton
              kind="plain"
              aria-label={trans.__('Move %1 up', name)}
              title={trans.__('Move up')}
              disabled={props.disabled || !canMoveRule(rules, i, -1)}
              onClick={() => props.onMove(-1)}
            >
              ↑
            </MuxButton>
            <MuxButton
              kind="plain"
              aria-label={trans.__('Move %1 down', name)}
              title={trans.__('Move down')}
              disabled={props.disabled || !canMoveRule(rules, i, 1)}
              onClick={() => props.onMove(1)}
            >
              ↓
            </MuxButton>
            <MuxButton
              kind="plain"
              className="jp-mux-danger"
              aria-label={trans.__('Delete %1', name)}
              title={trans.__('Delete rule')}
              disabled={props.disabled}
              onClick={props.onDelete}
            >
              ✕
            </MuxButton>
          </span>
        )}
      </div>
      {rule.ok === false && rule.problem && (
        <div className="jp-mux-warning" role="status">
          {rule.problem}
        </div>
      )}
      <TargetList
        targets={rule.targets}
        providers={props.providers}
        label={name}
        disabled={props.disabled}
        onChange={targets => props.onChange({ ...rule, targets, ok: undefined, problem: null })}
      />
      {hints.map(h => (
        <div key={h} className="jp-mux-hint jp-mux-rule-hint">
          {h}
        </div>
      ))}
    </>
  );
}

/** Ordered models (primary, then fallbacks) with remove buttons and an "add" select. */
function TargetList(props: {
  targets: ITarget[];
  providers: IProvider[];
  /** e.g. "rule 2" or "new rule". */
  label: string;
  disabled: boolean;
  onChange: (targets: ITarget[]) => void;
}): JSX.Element {
  const trans = useTrans();
  return (
    <div className="jp-mux-targets">
      {props.targets.length > 0 && (
        <ol className="jp-mux-target-list" aria-label={trans.__('Models of %1', props.label)}>
          {props.targets.map((t, j) => (
            <li key={targetKey(t)} className="jp-mux-target">
              <span className="jp-mux-target-role">{targetRole(j, trans)}</span>{' '}
              <span className="jp-mux-model-text">{targetText(t, trans)}</span>
              <MuxButton
                kind="plain"
                aria-label={trans.__('Remove %1 from %2', targetText(t, trans), props.label)}
                title={trans.__('Remove')}
                disabled={props.disabled}
                onClick={() => props.onChange(removeTarget(props.targets, j))}
              >
                ✕
              </MuxButton>
            </li>
          ))}
        </ol>
      )}
      <HTMLSelect
        aria-label={trans.__('Add a model to %1', props.label)}
        value=""
        disabled={props.disabled}
        onChange={e => {
          const target = parseTargetKey(e.currentTarget.value);
          if (target) {
            props.onChange(addTarget(props.targets, target));
          }
        }}
      >
        <option value="">
          {props.targets.length ? trans.__('Add a fallback model…') : trans.__('Add a model…')}
        </option>
        <ModelOptions providers={props.providers} />
      </HTMLSelect>
    </div>
  );
}

function NewRuleForm(props: {
  workspace: string;
  providers: IProvider[];
  disabled: boolean;
  onAdd: (rule: IRule) => void;
}): JSX.Element {
  const trans = useTrans();
  const [kind, setKind] = React.useState<NewRuleKind>('model');
  const [pattern, setPattern] = React.useState('');
  const [targets, setTargets] = React.useState<ITarget[]>([]);
  const draft: IRule = { kind, pattern: pattern.trim(), targets };
  const hints = pattern || targets.length ? ruleHints(draft, trans) : [];
  const id = `jp-mux-new-rule-${props.workspace}`;

  const add = (event: React.FormEvent) => {
    event.preventDefault();
    props.onAdd(draft);
    setPattern(kind === 'request_type' ? REQUEST_TYPES[0] : '');
    setTargets([]);
  };

  return (
    <form
      className="jp-mux-form jp-mux-new-rule"
      aria-label={trans.__('New rule for workspace %1', props.workspace)}
      onSubmit={add}
    >
      <h4>{trans.__('Add a rule')}</h4>
      <div className="jp-mux-form-grid">
        <label htmlFor={`${id}-kind`}>{trans.__('Match on')}</label>
        <HTMLSelect
          id={`${id}-kind`}
          aria-label={trans.__('Rule kind')}
          value={kind}
          disabled={props.disabled}
          onChange={e => {
            const next = e.currentTarget.value as NewRuleKind;
            setKind(next);
            if (next === 'request_type') {
              setPattern(REQUEST_TYPES.includes(pattern) ? pattern : REQUEST_TYPES[0]);
            } else if (REQUEST_TYPES.includes(pattern)) {
              setPattern('');
            }
          }}
        >
          {RULE_KINDS.map(k => (
            <option key={k} value={k}>
              {ruleKindLabel(k, trans)}
            </option>
          ))}
        </HTMLSelect>
        <label htmlFor={`${id}-pattern`}>
          {kind === 'request_type' ? trans.__('Requests') : trans.__('Pattern')}
        </label>
        {kind === 'request_type' ? (
          <HTMLSelect
            id={`${id}-pattern`}
            aria-label={trans.__('Rule pattern')}
            value={pattern}
            disabled={props.disabled}
            onChange={e => setPattern(e.currentTarget.value)}
          >
            {REQUEST_TYPES.map(t => (
              <option key={t} value={t}>
                {requestTypeLabel(t, trans)}
              </option>
            ))}
          </HTMLSelect>
        ) : (
          <InputGroup
            id={`${id}-pattern`}
            aria-label={trans.__('Rule pattern')}
            placeholder={patternPlaceholder(kind, trans)}
            value={pattern}
            disabled={props.disabled}
            onChange={e => setPattern(e.currentTarget.value)}
          />
        )}
        <span className="jp-mux-label">{trans.__('Models')}</span>
        <TargetList
          targets={targets}
          providers={props.providers}
          label={trans.__('new rule')}
          disabled={props.disabled}
          onChange={setTargets}
        />
      </div>
      {hints.map(h => (
        <div key={h} className="jp-mux-hint jp-mux-rule-hint">
          {h}
        </div>
      ))}
      <div className="jp-mux-actions">
        <MuxButton type="submit" disabled={props.disabled}>
          {trans.__('Add rule')}
        </MuxButton>
      </div>
    </form>
  );
}
