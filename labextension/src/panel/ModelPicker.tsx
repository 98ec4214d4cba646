import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import * as React from 'react';

import { modelAllowed } from '../helpers/policy';
import {
  groupLabel,
  groupModels,
  parseTargetKey,
  targetKey,
  targetText
} from '../helpers/targets';
import { modelDeniedText } from '../helpers/texts';
import type { IProvider, ITarget } from '../types';
import { MeContext, useTrans } from './common';

/**
 * The options of a model select, grouped by provider; every option reads
 * "provider/model", so two providers serving the same model id are told apart. Models a
 * Hub admin's policy does not allow this user are listed, disabled, saying so.
 */
export function ModelOptions(props: { providers: IProvider[]; filter?: string }): JSX.Element {
  const trans = useTrans();
  const me = React.useContext(MeContext);
  return (
    <>
      {groupModels(props.providers, props.filter).map(g => (
        <optgroup key={g.provider} label={groupLabel(g, trans)}>
          {g.models.map(m => {
            const target = { provider: g.provider, model: m };
            const allowed = modelAllowed(me, target);
            return (
              <option key={m} value={targetKey(target)} disabled={!allowed}>
                {allowed
                  ? targetText(target, trans)
                  : `${targetText(target, trans)} (${modelDeniedText(trans)})`}
              </option>
            );
          })}
        </optgroup>
      ))}
    </>
  );
}

export interface IModelPickerProps {
  providers: IProvider[];
  value: ITarget | null;
  /** Accessible label of the select, e.g. "Model for workspace demo". */
  label: string;
  disabled?: boolean;
  onPick: (target: ITarget) => void;
}

/**
 * A searchable model picker: a filter input above a select. The current value stays
 * selectable even if filtered out or gone.
 */
export function ModelPicker(props: IModelPickerProps): JSX.Element {
  const trans = useTrans();
  const [filter, setFilter] = React.useState('');
  const groups = groupModels(props.providers, filter);
  const current = props.value ? targetKey(props.value) : '';
  const listed = groups.some(
    g => props.value && g.provider === props.value.provider && g.models.includes(props.value.model)
  );
  const total = groups.reduce((n, g) => n + g.models.length, 0);
  let hint = '';
  if (!total) {
    hint = filter
      ? trans.__('No model matches the filter.')
      : trans.__('No models yet: add a provider first.');
  } else if (filter) {
    hint = trans._n('%1 matching model', '%1 matching models', total);
  }
  return (
    <div className="jp-mux-picker">
      <InputGroup
        type="search"
        aria-label={trans.__('Filter models (%1)', props.label)}
        placeholder={trans.__('Filter models…')}
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
        {!props.value && <option value="">{trans.__('Choose a model…')}</option>}
        {props.value && !listed && (
          <option value={current}>
            {trans.__('%1 (not available)', targetText(props.value, trans))}
          </option>
        )}
        <ModelOptions providers={props.providers} filter={filter} />
      </HTMLSelect>
      {hint && (
        <div className="jp-mux-hint" aria-live="polite">
          {hint}
        </div>
      )}
    </div>
  );
}
