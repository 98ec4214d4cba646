import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import {
  formatCost,
  formatCount,
  knownSpend,
  USAGE_RANGES,
  usageBuckets,
  usageSeries
} from '../src/helpers/usage';
import type { IUsage, IUsageRow } from '../src/types';

const trans = nullTranslator.load('jupyter_mux');

const row = (key: string, p: number, c: number, cost: number | null = 0): IUsageRow => ({
  key,
  requests: 1,
  errors: 0,
  prompt_tokens: p,
  completion_tokens: c,
  cost
});

const usage = (...rows: IUsageRow[]): IUsage => ({
  rows,
  totals: row('total', 0, 0)
});

describe('usageBuckets', () => {
  const now = new Date(2026, 11, 1, 16, 42, 30);

  it('cuts each range into back-to-back buckets, the last one holding now', () => {
    const counts = USAGE_RANGES.map(r => usageBuckets(r, now).length);
    expect(counts).toEqual([12, 24, 7, 30]);
    for (const range of USAGE_RANGES) {
      const buckets = usageBuckets(range, now);
      for (let i = 1; i < buckets.length; i++) {
        expect(buckets[i].since.getTime()).toBe(buckets[i - 1].until.getTime());
      }
      const last = buckets[buckets.length - 1];
      expect(last.since.getTime()).toBeLessThanOrEqual(now.getTime());
      expect(last.until.getTime()).toBeGreaterThan(now.getTime());
    }
  });

  it('aligns to the clock and to local midnight', () => {
    const hour = usageBuckets('hour', now);
    expect(hour[11].since.getMinutes()).toBe(40);
    expect(hour[11].until.getMinutes()).toBe(45);
    const week = usageBuckets('week', now);
    expect(week[6].since).toEqual(new Date(2026, 11, 1));
    expect(week[0].since).toEqual(new Date(2026, 10, 25));
  });
});

describe('usageSeries', () => {
  it('gives every group a value per bucket, largest first, and keeps the whole range', () => {
    const whole = { rows: [row('a', 5, 5), row('b', 30, 10)], totals: row('', 35, 15) };
    const series = usageSeries(
      ['t0', 't1', 't2'],
      [usage(row('a', 3, 2, 0.5)), usage(), usage(row('b', 30, 10, 1), row('a', 2, 3, 0.25))],
      whole
    );
    expect(series.labels).toEqual(['t0', 't1', 't2']);
    expect(series.lines.map(l => l.key)).toEqual(['b', 'a']);
    expect(series.lines[1].tokens).toEqual([5, 0, 5]);
    expect(series.lines[1].cost).toEqual([0.5, 0, 0.25]);
    expect(series.lines[0].tokens).toEqual([0, 0, 40]);
    expect(series.rows).toBe(whole.rows);
    expect(series.totals).toBe(whole.totals);
  });

  it('counts an unknown price as 0 and says so', () => {
    const series = usageSeries(['t0'], [usage(row('a', 1, 1, null))], usage());
    expect(series.lines[0].cost).toEqual([0]);
    expect(series.lines[0].costUnknown).toBe(true);
  });
});

describe('formatting', () => {
  it('formats cost, unknown when null', () => {
    expect(formatCost(null, trans)).toBe('unknown');
    expect(formatCost(0, trans)).toBe('$0');
    expect(formatCost(0.00123, trans)).toBe('$0.0012');
    expect(formatCost(1.5, trans)).toBe('$1.50');
    expect(formatCount(1234567)).toBe('1,234,567');
  });

  it('adds up the spend whose price is known', () => {
    expect(knownSpend([row('a', 1, 1, 0.5), row('b', 1, 1, 0.25)])).toEqual({
      sum: 0.75,
      unknown: false
    });
    expect(knownSpend([row('a', 1, 1, 0.5), row('b', 1, 1, null)])).toEqual({
      sum: 0.5,
      unknown: true
    });
  });
});
