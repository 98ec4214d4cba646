import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { IProvider, ITarget } from '../types';
import { groupModels, parseTargetKey, targetKey, targetText } from '../utils';

export interface IModelPickerProps {
  providers: IProvider[];
  value: ITarget | null;
  /** Accessible label of the select, e.g. "Model for workspace demo". */
  label: string;
  disabled?: boolean;
  onPick: (target: ITarget) => void;
}

/**
 * A searchable model picker: a filter input above a select whose options are grouped by
 * provider. The current value stays selectable even if filtered out or gone.
 */
export function ModelPicker(props: IModelPickerProps): JSX.Element {
  const [filter, setFilter] = React.useState('');
  const groups = groupModels(props.providers, filter);
  const current = props.value ? targetKey(props.value) : '';
  const listed = groups.some(
    g => props.value && g.provider === props.value.provider && g.models.includes(props.value.model)
  );
  const total = groups.reduce((n, g) => n + g.models.length, 0);
  return (
    <div className="jp-mux-picker">
      <InputGroup
        type="search"
        aria-label={`Filter models (${props.label})`}
        placeholder="Filter models…"
        value={filter}
        disabled={props.disabled}
        onChange={e => setFilter(e.currentTarget.value)}
      />
      <HTMLSelect
        aria-label={props.label}
        value={current}
        disabled={props.disabled}
        onChange={e => {
          const target = parseTargetKey(e.currentTarget.value);
          if (target) {
            props.onPick(target);
          }
        }}
      >
        {!props.value && <option value="">Choose a model…</option>}
        {props.value && !listed && (
          <option value={current}>{targetText(props.value)} (unavailable)</option>
        )}
        {groups.map(g => (
          <optgroup
            key={g.provider}
            label={g.status === 'ok' ? g.provider : `${g.provider} (error)`}
          >
            {g.models.map(m => (
              <option key={m} value={targetKey({ provider: g.provider, model: m })}>
                {m}
              </option>
            ))}
          </optgroup>
        ))}
      </HTMLSelect>
      <div className="jp-mux-hint" aria-live="polite">
        {total
          ? filter
            ? `${total} matching model${total === 1 ? '' : 's'}`
            : ''
          : filter
            ? 'No model matches the filter.'
            : 'No models yet: add a provider below.'}
      </div>
    </div>
  );
}
