/**
 * Usage over time. The usage API totals requests per group for a time window, so a series
 * is one window per bucket (the same query with `since`/`until`) plus one for the whole
 * range; these pure functions cut the range into buckets and assemble the answers.
 */
import type { AdminUsageGroupBy, IUsage, IUsageRow } from '../types';
import type { Trans } from './trans';

export type UsageRange = 'hour' | 'day' | 'week' | 'month';
/** How the charts break usage down (the table too). */
export type UsageBreakdown = 'workspace' | 'model';

export const USAGE_RANGES: UsageRange[] = ['hour', 'day', 'week', 'month'];
export const USAGE_BREAKDOWNS: UsageBreakdown[] = ['workspace', 'model'];
/** How all users' usage breaks down (Hub admins): every grouping of the admin usage API. */
export const ADMIN_USAGE_BREAKDOWNS: AdminUsageGroupBy[] = [
  'user',
  'group',
  'provider',
  'model',
  'day',
  'workspace'
];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Bucket count and width per range: 12 × 5 min, 24 × 1 h, 7 × 1 day, 30 × 1 day. */
const SHAPES: Record<UsageRange, { count: number; step: number }> = {
  hour: { count: 12, step: 5 * MINUTE },
  day: { count: 24, step: HOUR },
  week: { count: 7, step: DAY },
  month: { count: 30, step: DAY }
};

export function usageRangeLabel(range: UsageRange, trans: Trans): string {
  switch (range) {
    case 'hour':
      return trans.__('Last hour');
    case 'day':
      return trans.__('Last 24 hours');
    case 'week':
      return trans.__('Last 7 days');
    case 'month':
      return trans.__('Last 30 days');
  }
}

export function usageBreakdownLabel(
  by: UsageBreakdown | AdminUsageGroupBy,
  trans: Trans
): string {
  switch (by) {
    case 'workspace':
      return trans.__('Workspace');
    case 'model':
      return trans.__('Model');
    case 'user':
      return trans.__('User');
    case 'group':
      return trans.__('Group');
    case 'provider':
      return trans.__('Provider');
    case 'day':
      return trans.__('Day');
  }
}

export interface IBucket {
  since: Date;
  until: Date;
}

/**
 * The range's buckets, oldest first; the last one contains `now`. Minute and hour buckets
 * align to the clock, day buckets to local midnight.
 */
export function usageBuckets(range: UsageRange, now: Date): IBucket[] {
  const { count, step } = SHAPES[range];
  let end: Date;
  if (step >= DAY) {
    end = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  } else {
    end = new Date(Math.floor(now.getTime() / step) * step + step);
  }
  const buckets: IBucket[] = [];
  for (let i = count; i > 0; i--) {
    const since =
      step >= DAY
        ? new Date(end.getFullYear(), end.getMonth(), end.getDate() - i)
        : new Date(end.getTime() - i * step);
    const until =
      step >= DAY
        ? new Date(end.getFullYear(), end.getMonth(), end.getDate() - i + 1)
        : new Date(end.getTime() - (i - 1) * step);
    buckets.push({ since, until });
  }
  return buckets;
}

/** A bucket's axis label: clock time for short ranges, the date for days. */
export function bucketLabel(range: UsageRange, bucket: IBucket, locale?: string): string {
  if (SHAPES[range].step >= DAY) {
    return bucket.since.toLocaleDateString(locale, { month: 'short', day: 'numeric' });
  }
  return bucket.since.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}

export interface IUsageSeriesLine {
  key: string;
  /** Prompt + completion tokens per bucket. */
  tokens: number[];
  /** USD per bucket; a bucket whose price is unknown counts 0 and sets `costUnknown`. */
  cost: number[];
  costUnknown: boolean;
}

export interface IUsageSeries {
  labels: string[];
  lines: IUsageSeriesLine[];
  /** The whole range, grouped (the table). */
  rows: IUsageRow[];
  totals: IUsageRow;
}

/**
 * Lines for the charts: one per group key found in any bucket, ordered by total tokens
 * (largest first), each with a value per bucket (0 where the group had no request).
 */
export function usageSeries(labels: string[], perBucket: IUsage[], whole: IUsage): IUsageSeries {
  const lines = new Map<string, IUsageSeriesLine>();
  perBucket.forEach((usage, i) => {
    for (const row of usage.rows) {
      let line = lines.get(row.key);
      if (!line) {
        line = {
          key: row.key,
          tokens: labels.map(() => 0),
          cost: labels.map(() => 0),
          costUnknown: false
        };
        lines.set(row.key, line);
      }
      line.tokens[i] += row.prompt_tokens + row.completion_tokens;
      if (row.cost === null) {
        line.costUnknown = true;
      } else {
        line.cost[i] += row.cost;
      }
    }
  });
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const ordered = [...lines.values()].sort(
    (a, b) => sum(b.tokens) - sum(a.tokens) || a.key.localeCompare(b.key)
  );
  return { labels, lines: ordered, rows: whole.rows, totals: whole.totals };
}

/** The spend of the rows whose price is known, and whether any row's is not. */
export function knownSpend(rows: IUsageRow[]): { sum: number; unknown: boolean } {
  let sum = 0;
  let unknown = false;
  for (const row of rows) {
    if (row.cost === null) {
      unknown = true;
    } else {
      sum += row.cost;
    }
  }
  return { sum, unknown };
}

/** "$0.0012", "$1.50", or "unknown" when a price is unknown (null). */
export function formatCost(cost: number | null | undefined, trans: Trans): string {
  if (cost === null || cost === undefined) {
    return trans.__('unknown');
  }
  if (cost === 0) {
    return '$0';
  }
  return cost < 0.01 ? `$${cost.toPrecision(2)}` : `$${cost.toFixed(2)}`;
}

/** 1234567 → "1,234,567". */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
