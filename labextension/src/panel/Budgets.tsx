import * as React from 'react';

import { budgetAmount, budgetLabel, budgetShare } from '../helpers/budgets';
import type { IBudget } from '../types';
import { useTrans } from './common';

const RESETS_FORMAT: Intl.DateTimeFormatOptions = {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit'
};

/**
 * A Hub user's budgets (JupyterHub service only): each one's spend of its limit, a bar,
 * and when it resets. Spend held for requests in flight counts in the bar.
 */
export function Budgets(props: { budgets: IBudget[] }): JSX.Element | null {
  const trans = useTrans();
  if (!props.budgets.length) {
    return null;
  }
  return (
    <ul className="jp-mux-budgets" aria-label={trans.__('Budgets')}>
      {props.budgets.map(b => {
        const label = budgetLabel(b.budget, trans);
        const share = budgetShare(b);
        const level = share >= 1 ? 'spent' : share >= 0.8 ? 'low' : 'ok';
        const resets = new Date(b.resets_at);
        return (
          <li key={b.budget} data-budget={b.budget}>
            <div className="jp-mux-budget-head">
              <span className="jp-mux-budget-label">{label}</span>
              <span className="jp-mux-budget-amount">{budgetAmount(b, trans)}</span>
            </div>
            <div
              className={`jp-mux-budget-bar jp-mux-budget-${level}`}
              role="meter"
              aria-label={label}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={Math.round(share * 100)}
            >
              <div style={{ width: `${share * 100}%` }} />
            </div>
            <div className="jp-mux-hint">
              {trans.__('resets %1', resets.toLocaleString(undefined, RESETS_FORMAT))}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
