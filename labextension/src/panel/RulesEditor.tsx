import { Button, HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import * as api from '../api';
import type { MuxModel } from '../model';
import type { IProvider, IRule, ITarget, RuleKind } from '../types';
import {
  addTarget,
  canMoveRule,
  groupModels,
  insertRule,
  isCatchAll,
  moveRule,
  parseTargetKey,
  removeRule,
  removeTarget,
  replaceRule,
  REQUEST_TYPES,
  RULE_KINDS,
  ruleHints,
  ruleKindLabel,
  rulePatternText,
  rulesListHints,
  sameData,
  targetKey,
  targetRole,
  targetText
} from '../utils';
import { ErrorText, messageOf } from './common';

/**
 * The routing rules of one workspace, in priority order: add, reorder (drag and drop or
 * the up/down buttons), delete, edit targets; Save replaces the whole list on the server.
 */
export function RulesEditor(props: {
  model: MuxModel;
  workspace: string;
  onClose: () => void;
}): JSX.Element {
  const { model, workspace } = props;
  const [saved, setSaved] = React.useState<IRule[] | null>(null);
  const [rules, setRules] = React.useState<IRule[]>([]);
  const [error, setError] = React.useState('');
  const [notice, setNotice] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [dragFrom, setDragFrom] = React.useState<number | null>(null);
  const [dropAt, setDropAt] = React.useState<number | null>(null);

  const load = React.useCallback(async () => {
    setBusy(true);
    try {
      const list = await api.getRules(workspace);
      setSaved(list);
      setRules(list);
      setError('');
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }, [workspace]);

  React.useEffect(() => {
    void load();
  }, [load]);

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
      setNotice('Rules saved.');
    } catch (e) {
      setError(messageOf(e));
      setNotice('');
    } finally {
      setBusy(false);
    }
  };

  const dirty = saved !== null && !sameData(strip(saved), strip(rules));
  const listHints = rulesListHints(rules);
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
      className="jp-mux-rules"
      aria-labelledby={titleId}
      data-rules-workspace={workspace}
    >
      <div className="jp-mux-rules-head">
        <h3 id={titleId}>Rules of {workspace}</h3>
        <Button
          small
          minimal
          aria-label={`Close rules of workspace ${workspace}`}
          onClick={props.onClose}
        >
          Close
        </Button>
      </div>
      <p className="jp-mux-hint">
        The first matching rule routes a request; its first target serves it and the others
        are fallbacks. Drag rules or use the arrows to reorder.
      </p>
      {saved === null && busy && <div className="jp-mux-hint">Loading rules…</div>}
      <ol className="jp-mux-rule-list" aria-label={`Rules of workspace ${workspace}`}>
        {rules.map((rule, i) => {
          const pinned = isCatchAll(rule);
          const classes = ['jp-mux-rule'];
          if (pinned) {
            classes.push('jp-mux-rule-pinned');
          }
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
              draggable={!pinned && !busy}
              aria-label={`Rule ${i + 1}: ${ruleKindLabel(rule.kind)} ${rulePatternText(rule)}`}
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
                disabled={busy}
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
      <NewRuleForm
        workspace={workspace}
        providers={model.providers}
        disabled={busy || saved === null}
        onAdd={rule => edit(insertRule(rules, rule))}
      />
      <div className="jp-mux-actions">
        <Button
          small
          aria-label={`Save rules of workspace ${workspace}`}
          disabled={busy || !dirty}
          onClick={save}
        >
          Save
        </Button>
        <Button
          small
          minimal
          aria-label={`Discard rule changes of workspace ${workspace}`}
          disabled={busy || !dirty}
          onClick={() => {
            if (saved) {
              edit(saved);
              setError('');
            }
          }}
        >
          Discard changes
        </Button>
        {dirty && <span className="jp-mux-hint">Unsaved changes</span>}
      </div>
      {notice && (
        <div className="jp-mux-hint" role="status">
          {notice}
        </div>
      )}
      <ErrorText>{error}</ErrorText>
    </section>
  );
}

/** The editable part of rules (what Save sends), for change detection. */
function strip(rules: IRule[]): unknown {
  return rules.map(r => [r.kind, r.pattern, r.targets.map(t => [t.provider, t.model])]);
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
  const { rule, index: i, rules } = props;
  const pinned = isCatchAll(rule);
  const name = `rule ${i + 1}`;
  const hints = ruleHints(rule);
  return (
    <>
      <div className="jp-mux-rule-head">
        {pinned ? (
          <span className="jp-mux-drag-handle jp-mux-pinned" title="Pinned last">
            ⊥
          </span>
        ) : (
          <span className="jp-mux-drag-handle" title="Drag to reorder" aria-hidden="true">
            ⠿
          </span>
        )}
        <span className="jp-mux-rule-number">{i + 1}.</span>
        <span className="jp-mux-badge jp-mux-rule-kind">{ruleKindLabel(rule.kind)}</span>
        <span className="jp-mux-model-text jp-mux-rule-pattern">{rulePatternText(rule)}</span>
        {rule.ok === false && (
          <span
            className="jp-mux-badge jp-mux-badge-error"
            title={rule.problem ?? 'This rule has a problem.'}
          >
            problem
          </span>
        )}
        <span className="jp-mux-rule-buttons">
          {!pinned && (
            <>
              <Button
                small
                minimal
                aria-label={`Move ${name} up`}
                title="Move up"
                disabled={props.disabled || !canMoveRule(rules, i, -1)}
                onClick={() => props.onMove(-1)}
              >
                ↑
              </Button>
              <Button
                small
                minimal
                aria-label={`Move ${name} down`}
                title="Move down"
                disabled={props.disabled || !canMoveRule(rules, i, 1)}
                onClick={() => props.onMove(1)}
              >
                ↓
              </Button>
              <Button
                small
                minimal
                className="jp-mux-danger"
                aria-label={`Delete ${name}`}
                title="Delete rule"
                disabled={props.disabled}
                onClick={props.onDelete}
              >
                ✕
              </Button>
            </>
          )}
        </span>
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

/** Ordered targets (primary, then fallbacks) with remove buttons and an "add" select. */
function TargetList(props: {
  targets: ITarget[];
  providers: IProvider[];
  /** e.g. "rule 2" or "new rule". */
  label: string;
  disabled: boolean;
  onChange: (targets: ITarget[]) => void;
}): JSX.Element {
  const groups = groupModels(props.providers);
  return (
    <div className="jp-mux-targets">
      {props.targets.length > 0 && (
        <ol className="jp-mux-target-list" aria-label={`Targets of ${props.label}`}>
          {props.targets.map((t, j) => (
            <li key={targetKey(t)} className="jp-mux-target">
              <span className="jp-mux-target-role">{targetRole(j)}</span>{' '}
              <span className="jp-mux-model-text">{targetText(t)}</span>
              <Button
                small
                minimal
                aria-label={`Remove target ${targetText(t)} from ${props.label}`}
                title="Remove target"
                disabled={props.disabled}
                onClick={() => props.onChange(removeTarget(props.targets, j))}
              >
                ✕
              </Button>
            </li>
          ))}
        </ol>
      )}
      <HTMLSelect
        aria-label={`Add target to ${props.label}`}
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
          {props.targets.length ? 'Add a fallback model…' : 'Add a target model…'}
        </option>
        {groups.map(g => (
          <optgroup
            key={g.provider}
            label={g.status === 'ok' ? g.provider : `${g.provider} (error)`}
          >
            {g.models.map(m => {
              const t = { provider: g.provider, model: m };
              return (
                <option key={m} value={targetKey(t)}>
                  {m}
                </option>
              );
            })}
          </optgroup>
        ))}
      </HTMLSelect>
    </div>
  );
}

type NewKind = Exclude<RuleKind, 'catch_all'>;

const PATTERN_PLACEHOLDER: Record<NewKind, string> = {
  request_type: 'chat or fim',
  filename: 'e.g. *.py or src/*',
  model: 'e.g. fast*'
};

function NewRuleForm(props: {
  workspace: string;
  providers: IProvider[];
  disabled: boolean;
  onAdd: (rule: IRule) => void;
}): JSX.Element {
  const [kind, setKind] = React.useState<NewKind>('model');
  const [pattern, setPattern] = React.useState('');
  const [targets, setTargets] = React.useState<ITarget[]>([]);
  const draft: IRule = { kind, pattern: pattern.trim(), targets };
  const hints = pattern || targets.length ? ruleHints(draft) : [];

  const add = (event: React.FormEvent) => {
    event.preventDefault();
    props.onAdd(draft);
    setPattern(kind === 'request_type' ? REQUEST_TYPES[0] : '');
    setTargets([]);
  };

  return (
    <form
      className="jp-mux-form jp-mux-new-rule"
      aria-label={`New rule for workspace ${props.workspace}`}
      onSubmit={add}
    >
      <label htmlFor={`jp-mux-new-rule-kind-${props.workspace}`}>Kind</label>
      <HTMLSelect
        id={`jp-mux-new-rule-kind-${props.workspace}`}
        aria-label="Rule kind"
        value={kind}
        disabled={props.disabled}
        onChange={e => {
          const next = e.currentTarget.value as NewKind;
          setKind(next);
          if (next === 'request_type') {
            setPattern(REQUEST_TYPES.includes(pattern) ? pattern : REQUEST_TYPES[0]);
          } else if (REQUEST_TYPES.includes(pattern)) {
            setPattern('');
          }
        }}
      >
        {RULE_KINDS.map(k => (
          <option key={k.kind} value={k.kind}>
            {k.label} ({k.kind})
          </option>
        ))}
      </HTMLSelect>
      <label htmlFor={`jp-mux-new-rule-pattern-${props.workspace}`}>Pattern</label>
      {kind === 'request_type' ? (
        <HTMLSelect
          id={`jp-mux-new-rule-pattern-${props.workspace}`}
          aria-label="Rule pattern"
          value={pattern}
          disabled={props.disabled}
          onChange={e => setPattern(e.currentTarget.value)}
        >
          <option value="chat">chat</option>
          <option value="fim">fim (fill in the middle)</option>
        </HTMLSelect>
      ) : (
        <InputGroup
          id={`jp-mux-new-rule-pattern-${props.workspace}`}
          aria-label="Rule pattern"
          placeholder={PATTERN_PLACEHOLDER[kind]}
          value={pattern}
          disabled={props.disabled}
          onChange={e => setPattern(e.currentTarget.value)}
        />
      )}
      <label>Targets (first serves, others are fallbacks)</label>
      <TargetList
        targets={targets}
        providers={props.providers}
        label="new rule"
        disabled={props.disabled}
        onChange={setTargets}
      />
      {hints.map(h => (
        <div key={h} className="jp-mux-hint jp-mux-rule-hint">
          {h}
        </div>
      ))}
      <div className="jp-mux-actions">
        <Button type="submit" small aria-label="Add rule" disabled={props.disabled}>
          Add rule
        </Button>
      </div>
    </form>
  );
}
