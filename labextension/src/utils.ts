/** Pure helpers: no JupyterLab imports, so they are unit-tested in plain Node. */
import type {
  IProvider,
  IRule,
  ITarget,
  IUsageRow,
  IWorkspace,
  RuleKind,
  UsageGroupBy
} from './types';

/** Names of providers and workspaces, as the server validates them. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why `name` is not a valid provider/workspace name, or null when it is. */
export function nameProblem(name: string): string | null {
  if (!name) {
    return 'A name is required.';
  }
  if (name.length > 64) {
    return 'At most 64 characters.';
  }
  if (!NAME_PATTERN.test(name)) {
    return 'Use letters, digits, ".", "_" or "-", starting with a letter or digit.';
  }
  return null;
}

/** The mux's OpenAI-compatible URL for a server base URL (absolute or not). */
export function muxUrl(baseUrl: string, workspace?: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  if (workspace) {
    return `${base}mux/w/${encodeURIComponent(workspace)}/v1`;
  }
  return `${base}mux/v1`;
}

/** A provider's models, as shown in the grouped model picker. */
export interface IModelGroup {
  provider: string;
  status: IProvider['status'];
  models: string[];
}

/**
 * The providers' models grouped by provider, keeping those that match `filter`
 * (case-insensitive; every whitespace-separated word must appear in "provider/model").
 * Providers without a matching model are left out; order is kept.
 */
export function groupModels(providers: IProvider[], filter = ''): IModelGroup[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const groups: IModelGroup[] = [];
  for (const p of providers) {
    const models = p.models.filter(m => {
      const hay = `${p.name}/${m}`.toLowerCase();
      return words.every(w => hay.includes(w));
    });
    if (models.length) {
      groups.push({ provider: p.name, status: p.status, models });
    }
  }
  return groups;
}

/** The value of a <option> for a target, and back. */
export function targetKey(target: ITarget): string {
  return JSON.stringify([target.provider, target.model]);
}

export function parseTargetKey(key: string): ITarget | null {
  try {
    const value = JSON.parse(key);
    if (Array.isArray(value) && value.length === 2 && value.every(v => typeof v === 'string')) {
      return { provider: value[0], model: value[1] };
    }
  } catch {
    // not a target
  }
  return null;
}

export function targetText(target: ITarget | null | undefined): string {
  return target ? `${target.provider}/${target.model}` : 'no model';
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "ok · 3 models" or "error: <message>". */
export function providerStatusText(p: IProvider): string {
  if (p.status === 'error') {
    return `error: ${p.error || 'unknown error'}`;
  }
  return `ok · ${plural(p.models.length, 'model')}`;
}

/** The status bar's text: "workspace -> provider/model". */
export function statusBarText(active: IWorkspace | null | undefined): string {
  if (!active) {
    return 'mux: no workspace';
  }
  return `${active.name} -> ${targetText(active.preferred)}`;
}

/** The status bar's tooltip: adds the problem, if any. */
export function statusBarTitle(active: IWorkspace | null | undefined): string {
  if (!active) {
    return 'Model mux: no active workspace';
  }
  const base = `Model mux: workspace "${active.name}" uses ${targetText(active.preferred)}`;
  return active.problem ? `${base}. ${active.problem}` : `${base}. Click to switch.`;
}

/** The confirmation text before deleting a provider. */
export function deleteProviderMessage(p: IProvider): string {
  if (!p.used_by.length) {
    return `Delete provider "${p.name}"? No workspace uses it.`;
  }
  const list = p.used_by.map(w => `"${w}"`).join(', ');
  return (
    `Delete provider "${p.name}"? ${p.used_by.length === 1 ? 'Workspace' : 'Workspaces'} ` +
    `${list} use${p.used_by.length === 1 ? 's' : ''} it and will have no working model ` +
    'until you pick another one (or re-create a provider with this name).'
  );
}

/** Why a workspace cannot be deleted, or null if it can. */
export function deleteWorkspaceBlocker(ws: IWorkspace): string | null {
  return ws.is_active
    ? 'The active workspace cannot be deleted: activate another one first.'
    : null;
}

/** Ready-to-paste client snippets for a mux URL. */
export interface ISnippet {
  id: string;
  title: string;
  language: string;
  code: string;
}

export function snippets(url: string): ISnippet[] {
  return [
    {
      id: 'notebook',
      title: 'From a notebook on this server',
      language: 'python',
      code: [
        'import jupyter_mux',
        '',
        'client = jupyter_mux.openai_client()',
        'client.chat.completions.create(',
        '    model="mux", messages=[{"role": "user", "content": "Hi"}]',
        ')'
      ].join('\n')
    },
    {
      id: 'openai',
      title: 'openai SDK',
      language: 'python',
      code: [
        'from openai import OpenAI',
        '',
        '# api_key: your Jupyter token',
        `client = OpenAI(base_url="${url}", api_key=TOKEN)`,
        'client.chat.completions.create(',
        '    model="mux", messages=[{"role": "user", "content": "Hi"}]',
        ')'
      ].join('\n')
    },
    {
      id: 'langchain',
      title: 'LangChain',
      language: 'python',
      code: [
        'from langchain_openai import ChatOpenAI',
        '',
        `llm = ChatOpenAI(base_url="${url}", api_key=TOKEN, model="mux")`
      ].join('\n')
    },
    {
      id: 'jupyter-ai',
      title: 'jupyter-ai',
      language: 'text',
      code: [
        'Chat model: OpenAI (general interface)',
        `Base API URL: ${url}`,
        'Model name: mux (any name works)',
        'OpenAI API key: your Jupyter token'
      ].join('\n')
    }
  ];
}

/** Stable JSON for change detection (the poller only signals real changes). */
export function sameData(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// --- routing rules -----------------------------------------------------------------------

/** The kinds a user can add (the catch_all exists once, pinned last). */
export const RULE_KINDS: { kind: Exclude<RuleKind, 'catch_all'>; label: string }[] = [
  { kind: 'request_type', label: 'request type' },
  { kind: 'filename', label: 'file name' },
  { kind: 'model', label: 'model name' }
];

/** The patterns a request_type rule accepts. */
export const REQUEST_TYPES = ['chat', 'fim'];

export function ruleKindLabel(kind: RuleKind): string {
  if (kind === 'catch_all') {
    return 'catch-all';
  }
  return RULE_KINDS.find(k => k.kind === kind)?.label ?? kind;
}

export function isCatchAll(rule: IRule): boolean {
  return rule.kind === 'catch_all';
}

/** "fast*", or "everything else" for the catch_all. */
export function rulePatternText(rule: IRule): string {
  return isCatchAll(rule) ? 'everything else' : rule.pattern || '(no pattern)';
}

/** Index of the pinned catch_all when it is last, else rules.length (nothing pinned). */
function pinnedIndex(rules: IRule[]): number {
  const last = rules.length - 1;
  return last >= 0 && isCatchAll(rules[last]) ? last : rules.length;
}

/** Whether the rule at `index` may move by `delta` (the catch_all stays last). */
export function canMoveRule(rules: IRule[], index: number, delta: number): boolean {
  const limit = pinnedIndex(rules);
  const to = index + delta;
  return index >= 0 && index < limit && to >= 0 && to < limit && delta !== 0;
}

/**
 * The list with the rule at `from` moved to position `to` (clamped so that it stays in
 * front of the catch_all). The catch_all itself never moves; a bad index changes nothing.
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

/** The list with `rule` added at the end of the ordinary rules, before the catch_all. */
export function insertRule(rules: IRule[], rule: IRule): IRule[] {
  const copy = rules.slice();
  copy.splice(pinnedIndex(rules), 0, rule);
  return copy;
}

/** The list without the rule at `index`; the catch_all cannot be removed. */
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

export function sameTarget(a: ITarget, b: ITarget): boolean {
  return a.provider === b.provider && a.model === b.model;
}

/** Targets with `target` appended (as a fallback), unless it is already listed. */
export function addTarget(targets: ITarget[], target: ITarget): ITarget[] {
  return targets.some(t => sameTarget(t, target)) ? targets : [...targets, target];
}

export function removeTarget(targets: ITarget[], index: number): ITarget[] {
  return targets.filter((_, i) => i !== index);
}

/** Why a rule would be refused or not work, as short hints (empty when it looks fine). */
export function ruleHints(rule: IRule): string[] {
  const hints: string[] = [];
  if (isCatchAll(rule)) {
    if (!rule.targets.length) {
      hints.push('No model: requests that match no other rule will fail.');
    }
    return hints;
  }
  const pattern = rule.pattern ?? '';
  if (!pattern.trim()) {
    hints.push('A pattern is required.');
  } else if (rule.kind === 'request_type' && !REQUEST_TYPES.includes(pattern)) {
    hints.push('A request type is "chat" or "fim".');
  } else if (pattern.length > 256) {
    hints.push('At most 256 characters.');
  }
  if (!rule.targets.length) {
    hints.push('Choose at least one target model.');
  }
  if (rule.targets.length > 5) {
    hints.push('At most 5 targets.');
  }
  return hints;
}

/** Problems of the whole list (the catch_all must exist once and be last). */
export function rulesListHints(rules: IRule[]): string[] {
  const count = rules.filter(isCatchAll).length;
  if (count === 0) {
    return ['The catch-all rule is missing.'];
  }
  if (count > 1) {
    return ['Only one catch-all rule is allowed.'];
  }
  if (!isCatchAll(rules[rules.length - 1])) {
    return ['The catch-all rule must be last.'];
  }
  return [];
}

/** "primary" for the first target, "fallback 1", "fallback 2"… for the others. */
export function targetRole(index: number): string {
  return index === 0 ? 'primary' : `fallback ${index}`;
}

// --- usage ---------------------------------------------------------------------------------

export const USAGE_GROUPS: UsageGroupBy[] = ['workspace', 'model', 'provider', 'day'];

/** "$0.0012", "$1.50", or "unknown" when a price is unknown (null). */
export function formatCost(cost: number | null | undefined): string {
  if (cost === null || cost === undefined) {
    return 'unknown';
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

export interface IUsageBar {
  key: string;
  prompt: number;
  completion: number;
  total: number;
  /** Shares of the widest row (0..1), for bars drawn side by side. */
  promptShare: number;
  completionShare: number;
}

/** One bar per row: prompt + completion tokens, scaled to the largest total. */
export function usageBars(rows: IUsageRow[]): IUsageBar[] {
  const max = Math.max(0, ...rows.map(r => r.prompt_tokens + r.completion_tokens));
  return rows.map(r => {
    const total = r.prompt_tokens + r.completion_tokens;
    return {
      key: r.key,
      prompt: r.prompt_tokens,
      completion: r.completion_tokens,
      total,
      promptShare: max ? r.prompt_tokens / max : 0,
      completionShare: max ? r.completion_tokens / max : 0
    };
  });
}
