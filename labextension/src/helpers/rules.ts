/** Routing rules: list edits (the catch-all stays last) and how a rule reads in words. */
import type { IRule, RuleKind } from '../types';
import type { Trans } from './trans';

export type NewRuleKind = Exclude<RuleKind, 'catch_all'>;

/** The kinds a user can add (the catch-all exists once, pinned last). */
export const RULE_KINDS: NewRuleKind[] = ['model', 'filename', 'request_type'];

/** The patterns a request-type rule accepts. */
export const REQUEST_TYPES = ['chat', 'fim', 'embeddings'];

/** What a kind matches, as a picker's label. */
export function ruleKindLabel(kind: RuleKind, trans: Trans): string {
  switch (kind) {
    case 'catch_all':
      return trans.__('Everything else');
    case 'request_type':
      return trans.__('Request type');
    case 'filename':
      return trans.__('File name');
    case 'model':
      return trans.__('Requested model name');
  }
}

/** A request type in words. */
export function requestTypeLabel(type: string, trans: Trans): string {
  if (type === 'chat') {
    return trans.__('Chat');
  }
  if (type === 'fim') {
    return trans.__('Code completion (fill in the middle)');
  }
  if (type === 'embeddings') {
    return trans.__('Embeddings');
  }
  return type;
}

/** The pattern field's hint per kind. */
export function patternPlaceholder(kind: NewRuleKind, trans: Trans): string {
  switch (kind) {
    case 'model':
      return trans.__('e.g. fast* (what the client sends as the model)');
    case 'filename':
      return trans.__('e.g. *.py or src/*');
    case 'request_type':
      return '';
  }
}

/** The rule as a sentence: "When the requested model matches fast*", "Everything else". */
export function ruleSummary(rule: IRule, trans: Trans): string {
  const pattern = rule.pattern ?? '';
  switch (rule.kind) {
    case 'catch_all':
      return trans.__('Everything else');
    case 'request_type':
      return trans.__('%1 requests', requestTypeLabel(pattern, trans));
    case 'filename':
      return trans.__('When a file name matches %1', pattern || '…');
    case 'model':
      return trans.__('When the requested model matches %1', pattern || '…');
  }
}

export function isCatchAll(rule: IRule): boolean {
  return rule.kind === 'catch_all';
}

/** Index of the pinned catch-all when it is last, else rules.length (nothing pinned). */
function pinnedIndex(rules: IRule[]): number {
  const last = rules.length - 1;
  return last >= 0 && isCatchAll(rules[last]) ? last : rules.length;
}

/** Whether the rule at `index` may move by `delta` (the catch-all stays last). */
export function canMoveRule(rules: IRule[], index: number, delta: number): boolean {
  const limit = pinnedIndex(rules);
  const to = index + delta;
  return index >= 0 && index < limit && to >= 0 && to < limit && delta !== 0;
}

/**
 * The list with the rule at `from` moved to position `to` (clamped so that it stays in
 * front of the catch-all). The catch-all itself never moves; a bad index changes nothing.
 */
export function moveRule(rules: IRule[], from: number, to: number): IRule[] {
  const limit = pinnedIndex(rules);
  if (from < 0 || from >= limit || !Number.isInteger(from) || !Number.isInteger(to)) {
    return rules;
  }
  const target = Math.max(0, Math.min(to, limit - 1));
  if (target === from) {
    return rules;
  }
  const copy = rules.slice();
  const [rule] = copy.splice(from, 1);
  copy.splice(target, 0, rule);
  return copy;
}

/** The list with `rule` added at the end of the ordinary rules, before the catch-all. */
export function insertRule(rules: IRule[], rule: IRule): IRule[] {
  const copy = rules.slice();
  copy.splice(pinnedIndex(rules), 0, rule);
  return copy;
}

/** The list without the rule at `index`; the catch-all cannot be removed. */
export function removeRule(rules: IRule[], index: number): IRule[] {
  if (index < 0 || index >= rules.length || isCatchAll(rules[index])) {
    return rules;
  }
  return rules.filter((_, i) => i !== index);
}

/** The list with the rule at `index` replaced by `rule`. */
export function replaceRule(rules: IRule[], index: number, rule: IRule): IRule[] {
  return rules.map((r, i) => (i === index ? rule : r));
}

/** The editable part of rules (what Save sends), for change detection and saving. */
export function editableRules(rules: IRule[]): IRule[] {
  return rules.map(r => ({ kind: r.kind, pattern: r.pattern ?? null, targets: r.targets }));
}

/** Why a rule would be refused or not work, as short hints (empty when it looks fine). */
export function ruleHints(rule: IRule, trans: Trans): string[] {
  const hints: string[] = [];
  if (isCatchAll(rule)) {
    if (!rule.targets.length) {
      hints.push(trans.__('No model: requests that match no other rule will fail.'));
    }
    return hints;
  }
  const pattern = rule.pattern ?? '';
  if (!pattern.trim()) {
    hints.push(trans.__('A pattern is required.'));
  } else if (rule.kind === 'request_type' && !REQUEST_TYPES.includes(pattern)) {
    hints.push(trans.__('Choose chat, code completion or embeddings.'));
  } else if (pattern.length > 256) {
    hints.push(trans.__('At most 256 characters.'));
  }
  if (!rule.targets.length) {
    hints.push(trans.__('Choose at least one model.'));
  }
  if (rule.targets.length > 5) {
    hints.push(trans.__('At most 5 models.'));
  }
  return hints;
}

/** Problems of the whole list (the catch-all must exist once and be last). */
export function rulesListHints(rules: IRule[], trans: Trans): string[] {
  const count = rules.filter(isCatchAll).length;
  if (count === 0) {
    return [trans.__('The "everything else" rule is missing.')];
  }
  if (count > 1) {
    return [trans.__('Only one "everything else" rule is allowed.')];
  }
  if (!isCatchAll(rules[rules.length - 1])) {
    return [trans.__('The "everything else" rule must be last.')];
  }
  return [];
}
