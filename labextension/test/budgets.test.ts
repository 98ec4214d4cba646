import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import { budgetAmount, budgetLabel, budgetShare } from '../src/helpers/budgets';
import type { IBudget } from '../src/types';

const trans = nullTranslator.load('jupyter_mux');

const budget = (spent: number, held: number, limit: number): IBudget => ({
  budget: 'user bob usd_per_day',
  limit_usd: limit,
  spent_usd: spent,
  held_usd: held,
  resets_at: '2030-01-02T00:00:00Z'
});

describe('budgets', () => {
  it("names a user's and a group's budgets, and keeps a name it does not know", () => {
    expect(budgetLabel('user bob usd_per_day', trans)).toBe('Your spend today');
    expect(budgetLabel('user bob usd_per_month', trans)).toBe('Your spend this month');
    expect(budgetLabel('group staff usd_per_month', trans)).toBe(
      'Group staff together, this month'
    );
    expect(budgetLabel('group data team usd_per_day', trans)).toBe(
      'Group data team together, today'
    );
    expect(budgetLabel('key k1 usd_per_week', trans)).toBe('key k1 usd_per_week');
  });

  it('counts held spend in the share, from 0 to 1', () => {
    expect(budgetShare(budget(0.25, 0.25, 1))).toBe(0.5);
    expect(budgetShare(budget(2, 0, 1))).toBe(1);
    expect(budgetShare(budget(0, 0, 0))).toBe(1);
  });

  it('says the spend of the limit', () => {
    expect(budgetAmount(budget(0.42, 0, 1), trans)).toBe('$0.42 of $1.00');
    expect(budgetAmount(budget(0.001, 0, 0.01), trans)).toBe('$0.0010 of $0.01');
  });
});
