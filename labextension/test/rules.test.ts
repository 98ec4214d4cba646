import { describe, expect, it } from 'vitest';

import type { IRule, IUsageRow } from '../src/types';
import {
  addTarget,
  canMoveRule,
  formatCost,
  formatCount,
  insertRule,
  moveRule,
  removeRule,
  removeTarget,
  replaceRule,
  ruleHints,
  ruleKindLabel,
  rulePatternText,
  rulesListHints,
  targetRole,
  usageBars
} from '../src/utils';

const t = (model: string, provider = 'p') => ({ provider, model });
const rule = (kind: IRule['kind'], pattern: string | null, ...models: string[]): IRule => ({
  kind,
  pattern,
  targets: models.map(m => t(m))
});
const catchAll = rule('catch_all', null, 'm0');
const a = rule('model', 'fast*', 'm1');
const b = rule('filename', '*.py', 'm2');
const c = rule('request_type', 'fim', 'm3');
const list = [a, b, c, catchAll];

describe('moveRule', () => {
  it('moves a rule up and down', () => {
    expect(moveRule(list, 0, 1)).toEqual([b, a, c, catchAll]);
    expect(moveRule(list, 2, 0)).toEqual([c, a, b, catchAll]);
  });

  it('keeps the catch_all last', () => {
    expect(moveRule(list, 0, 3)).toEqual([b, c, a, catchAll]);
    expect(moveRule(list, 0, 99)).toEqual([b, c, a, catchAll]);
    expect(moveRule(list, 3, 0)).toBe(list);
  });

  it('ignores bad indexes and does not mutate', () => {
    const copy = list.slice();
    expect(moveRule(list, -1, 0)).toBe(list);
    expect(moveRule(list, 1, 1)).toBe(list);
    expect(moveRule(list, 0, -5)).toBe(list);
    moveRule(list, 0, 2);
    expect(list).toEqual(copy);
  });

  it('works without a catch_all', () => {
    expect(moveRule([a, b], 0, 1)).toEqual([b, a]);
  });
});

describe('canMoveRule', () => {
  it('allows moves within the ordinary rules only', () => {
    expect(canMoveRule(list, 0, -1)).toBe(false);
    expect(canMoveRule(list, 0, 1)).toBe(true);
    expect(canMoveRule(list, 2, 1)).toBe(false);
    expect(canMoveRule(list, 3, -1)).toBe(false);
    expect(canMoveRule([catchAll], 0, 1)).toBe(false);
  });
});

describe('insertRule / removeRule / replaceRule', () => {
  it('inserts before the catch_all', () => {
    expect(insertRule([catchAll], a)).toEqual([a, catchAll]);
    expect(insertRule([a, catchAll], b)).toEqual([a, b, catchAll]);
    expect(insertRule([], a)).toEqual([a]);
  });

  it('never removes the catch_all', () => {
    expect(removeRule(list, 1)).toEqual([a, c, catchAll]);
    expect(removeRule(list, 3)).toBe(list);
    expect(removeRule(list, 9)).toBe(list);
  });

  it('replaces one rule', () => {
    expect(replaceRule(list, 1, c)).toEqual([a, c, c, catchAll]);
  });
});

describe('targets', () => {
  it('adds fallbacks once and removes by index', () => {
    expect(addTarget([t('x')], t('y'))).toEqual([t('x'), t('y')]);
    expect(addTarget([t('x')], t('x'))).toEqual([t('x')]);
    expect(addTarget([t('x')], t('x', 'q'))).toEqual([t('x'), t('x', 'q')]);
    expect(removeTarget([t('x'), t('y')], 0)).toEqual([t('y')]);
  });

  it('names primary and fallbacks', () => {
    expect(targetRole(0)).toBe('primary');
    expect(targetRole(2)).toBe('fallback 2');
  });
});

describe('hints', () => {
  it('accepts good rules', () => {
    expect(ruleHints(a)).toEqual([]);
    expect(ruleHints(c)).toEqual([]);
    expect(ruleHints(catchAll)).toEqual([]);
  });

  it('flags missing patterns, bad request types and missing targets', () => {
    expect(ruleHints(rule('model', '', 'm'))).toEqual(['A pattern is required.']);
    expect(ruleHints(rule('request_type', 'embeddings', 'm'))).toEqual([
      'A request type is "chat" or "fim".'
    ]);
    expect(ruleHints(rule('filename', '*.py'))).toEqual(['Choose at least one target model.']);
    expect(ruleHints(rule('catch_all', null))).toHaveLength(1);
    expect(ruleHints(rule('model', 'x', 'a', 'b', 'c', 'd', 'e', 'f'))).toEqual([
      'At most 5 targets.'
    ]);
  });

  it('checks the catch_all of the list', () => {
    expect(rulesListHints(list)).toEqual([]);
    expect(rulesListHints([a])).toEqual(['The catch-all rule is missing.']);
    expect(rulesListHints([catchAll, a])).toEqual(['The catch-all rule must be last.']);
    expect(rulesListHints([catchAll, catchAll])).toEqual([
      'Only one catch-all rule is allowed.'
    ]);
  });

  it('labels kinds and patterns', () => {
    expect(ruleKindLabel('catch_all')).toBe('catch-all');
    expect(ruleKindLabel('model')).toBe('model name');
    expect(rulePatternText(catchAll)).toBe('everything else');
    expect(rulePatternText(a)).toBe('fast*');
  });
});

describe('usage', () => {
  const row = (key: string, p: number, c: number, cost: number | null = 0): IUsageRow => ({
    key,
    requests: 1,
    errors: 0,
    prompt_tokens: p,
    completion_tokens: c,
    cost
  });

  it('formats cost, unknown when null', () => {
    expect(formatCost(null)).toBe('unknown');
    expect(formatCost(0)).toBe('$0');
    expect(formatCost(0.00123)).toBe('$0.0012');
    expect(formatCost(1.5)).toBe('$1.50');
    expect(formatCount(1234567)).toBe('1,234,567');
  });

  it('scales bars to the largest row', () => {
    const bars = usageBars([row('a', 30, 10), row('b', 10, 10), row('c', 0, 0)]);
    expect(bars.map(b => b.total)).toEqual([40, 20, 0]);
    expect(bars[0].promptShare + bars[0].completionShare).toBe(1);
    expect(bars[1].promptShare).toBe(0.25);
    expect(bars[2].promptShare).toBe(0);
    expect(usageBars([])).toEqual([]);
    expect(usageBars([row('z', 0, 0)])[0].completionShare).toBe(0);
  });
});
