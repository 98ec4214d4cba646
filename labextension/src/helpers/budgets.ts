/**
 * A Hub user's budgets (GET /mux/api/me): what each one is called in the panel, and how
 * much of it is used. The service names a budget as its errors do, "user alice usd_per_day"
 * or "group staff usd_per_month" (a group's budget is its members' spend together).
 */
import type { IBudget } from '../types';
import type { Trans } from './trans';

/** "Your spend today", "Group staff together, this month"; else the service's own name. */
export function budgetLabel(budget: string, trans: Trans): string {
  const words = budget.split(' ');
  const [scope, field] = [words[0], words[words.length - 1]];
  const name = words.slice(1, -1).join(' ');
  if (words.length < 3 || !['user', 'group'].includes(scope)) {
    return budget;
  }
  const day = field === 'usd_per_day';
  if (!day && field !== 'usd_per_month') {
    return budget;
  }
  if (scope === 'user') {
    return day ? trans.__('Your spend today') : trans.__('Your spend this month');
  }
  return day
    ? trans.__('Group %1 together, today', name)
    : trans.__('Group %1 together, this month', name);
}

/** The share of the budget spent or held for requests in flight, from 0 to 1. */
export function budgetShare(budget: IBudget): number {
  if (budget.limit_usd <= 0) {
    return 1;
  }
  return Math.min(1, Math.max(0, (budget.spent_usd + budget.held_usd) / budget.limit_usd));
}

/** "$0.42 of $1.00": two decimals, as a budget is set (a fraction of a cent shows as such). */
export function budgetAmount(budget: IBudget, trans: Trans): string {
  const usd = (v: number) => (v > 0 && v < 0.01 ? `$${v.toPrecision(2)}` : `$${v.toFixed(2)}`);
  return trans.__('%1 of %2', usd(budget.spent_usd), usd(budget.limit_usd));
}
