import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import {
  canMoveRule,
  editableRules,
  insertRule,
  moveRule,
  removeRule,
  replaceRule,
  requestTypeLabel,
  ruleHints,
  ruleKindLabel,
  rulesListHints,
  ruleSummary,
  RULE_KINDS
} from '../src/helpers/rules';
import { addTarget, removeTarget, targetRole } from '../src/helpers/targets';
import type { IRule } from '../src/types';

const trans = nullTranslator.load('jupyter_mux');
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
    expect(targetRole(0, trans)).toBe('primary');
    expect(targetRole(2, trans)).toBe('fallback 2');
  });
});

describe('hints', () => {
  it('accepts good rules', () => {
    expect(ruleHints(a, trans)).toEqual([]);
    expect(ruleHints(c, trans)).toEqual([]);
    expect(ruleHints(catchAll, trans)).toEqual([]);
  });

  it('flags missing patterns, bad request types and missing targets', () => {
    expect(ruleHints(rule('model', '', 'm'), trans)).toEqual(['A pattern is required.']);
    expect(ruleHints(rule('request_type', 'images', 'm'), trans)).toEqual([
      'Choose chat, code completion or embeddings.'
    ]);
    expect(ruleHints(rule('filename', '*.py'), trans)).toEqual(['Choose at least one model.']);
    expect(ruleHints(rule('catch_all', null), trans)).toHaveLength(1);
    expect(ruleHints(rule('model', 'x', 'a', 'b', 'c', 'd', 'e', 'f'), trans)).toEqual([
      'At most 5 models.'
    ]);
  });

  it('checks the catch-all of the list', () => {
    expect(rulesListHints(list, trans)).toEqual([]);
    expect(rulesListHints([a], trans)).toEqual(['The "everything else" rule is missing.']);
    expect(rulesListHints([catchAll, a], trans)).toEqual([
      'The "everything else" rule must be last.'
    ]);
    expect(rulesListHints([catchAll, catchAll], trans)).toEqual([
      'Only one "everything else" rule is allowed.'
    ]);
  });
});

describe('rules in words', () => {
  it('reads every rule as a sentence, with no identifier in it', () => {
    expect(ruleSummary(a, trans)).toBe('When the requested model matches fast*');
    expect(ruleSummary(b, trans)).toBe('When a file name matches *.py');
    expect(ruleSummary(c, trans)).toBe('Code completion (fill in the middle) requests');
    expect(ruleSummary(rule('request_type', 'chat'), trans)).toBe('Chat requests');
    expect(ruleSummary(catchAll, trans)).toBe('Everything else');
  });

  it('labels every kind a user can add, and the request types, in words', () => {
    const labels = RULE_KINDS.map(k => ruleKindLabel(k, trans));
    expect(labels).toEqual(['Requested model name', 'File name', 'Request type']);
    for (const text of [...labels, requestTypeLabel('fim', trans), ruleKindLabel('catch_all', trans)]) {
      expect(text).not.toMatch(/_|⊥/);
    }
  });

  it('keeps only what is sent when comparing and saving', () => {
    const read = { ...a, ok: false, problem: 'gone' };
    expect(editableRules([read])).toEqual([{ kind: 'model', pattern: 'fast*', targets: a.targets }]);
    expect(editableRules([{ kind: 'catch_all', targets: [] }])[0].pattern).toBeNull();
  });
});
