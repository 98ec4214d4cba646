import { Button, HTMLSelect } from '@jupyterlab/ui-components';
import * as React from 'react';

import * as api from '../api';
import { POLL_INTERVAL_MS } from '../model';
import type { IUsage, UsageGroupBy } from '../types';
import { formatCost, formatCount, USAGE_GROUPS, usageBars } from '../utils';
import { ErrorText, messageOf } from './common';

/**
 * Usage of the mux grouped by workspace, model, provider or day: a table and a bar chart
 * of tokens per row. Shown on demand; while shown it refreshes itself.
 */
export function UsageView(): JSX.Element {
  const [open, setOpen] = React.useState(false);
  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-usage-title">
      <div className="jp-mux-rules-head">
        <h2 id="jp-mux-usage-title">Usage</h2>
        <Button
          small
          minimal
          aria-label={open ? 'Hide usage' : 'Show usage'}
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? 'Hide' : 'Show…'}
        </Button>
      </div>
      {open ? (
        <UsageBody />
      ) : (
        <p className="jp-mux-hint">Requests, tokens and cost of the requests to the mux.</p>
      )}
    </section>
  );
}

function UsageBody(): JSX.Element {
  const [groupBy, setGroupBy] = React.useState<UsageGroupBy>('workspace');
  const [usage, setUsage] = React.useState<IUsage | null>(null);
  const [error, setError] = React.useState('');
  const [loading, setLoading] = React.useState(false);

  const load = React.useCallback(async () => {
    setLoading(true);
    try {
      const data = await api.getUsage({ group_by: groupBy });
      setUsage(data);
      setError('');
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setLoading(false);
    }
  }, [groupBy]);

  React.useEffect(() => {
    setUsage(null);
    void load();
    const timer = window.setInterval(() => {
      if (!document.hidden) {
        void load();
      }
    }, POLL_INTERVAL_MS);
    return () => window.clearInterval(timer);
  }, [load]);

  const rows = usage?.rows ?? [];
  const bars = usageBars(rows);
  return (
    <div className="jp-mux-usage">
      <div className="jp-mux-inline-form">
        <label htmlFor="jp-mux-usage-group">Group by</label>
        <HTMLSelect
          id="jp-mux-usage-group"
          aria-label="Group usage by"
          value={groupBy}
          onChange={e => setGroupBy(e.currentTarget.value as UsageGroupBy)}
        >
          {USAGE_GROUPS.map(g => (
            <option key={g} value={g}>
              {g}
            </option>
          ))}
        </HTMLSelect>
        <Button small minimal aria-label="Refresh usage" disabled={loading} onClick={load}>
          Refresh
        </Button>
      </div>
      {usage && !rows.length && (
        <div className="jp-mux-hint">No requests recorded yet.</div>
      )}
      {rows.length > 0 && usage && (
        <>
          <div className="jp-mux-table-wrap">
            <table className="jp-mux-usage-table" aria-label={`Usage by ${groupBy}`}>
              <thead>
                <tr>
                  <th scope="col">{groupBy}</th>
                  <th scope="col" abbr="Requests" title="Requests">
                    Req.
                  </th>
                  <th scope="col" abbr="Errors" title="Errors">
                    Err.
                  </th>
                  <th scope="col" abbr="Prompt tokens" title="Prompt tokens">
                    Prompt
                  </th>
                  <th scope="col" abbr="Completion tokens" title="Completion tokens">
                    Compl.
                  </th>
                  <th scope="col" title="Cost in USD">
                    Cost
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map(r => (
                  <tr key={r.key} data-usage-key={r.key}>
                    <th scope="row" className="jp-mux-model-text">
                      {r.key}
                    </th>
                    <td>{formatCount(r.requests)}</td>
                    <td>{formatCount(r.errors)}</td>
                    <td>{formatCount(r.prompt_tokens)}</td>
                    <td>{formatCount(r.completion_tokens)}</td>
                    <td className={r.cost === null ? 'jp-mux-unknown' : undefined}>
                      {formatCost(r.cost)}
                    </td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row">Total</th>
                  <td>{formatCount(usage.totals.requests)}</td>
                  <td>{formatCount(usage.totals.errors)}</td>
                  <td>{formatCount(usage.totals.prompt_tokens)}</td>
                  <td>{formatCount(usage.totals.completion_tokens)}</td>
                  <td className={usage.totals.cost === null ? 'jp-mux-unknown' : undefined}>
                    {formatCost(usage.totals.cost)}
                  </td>
                </tr>
              </tfoot>
            </table>
          </div>
          <figure className="jp-mux-chart" aria-label={`Tokens by ${groupBy}`}>
            <figcaption className="jp-mux-hint">
              Tokens per {groupBy}:{' '}
              <span className="jp-mux-legend jp-mux-bar-prompt" /> prompt{' '}
              <span className="jp-mux-legend jp-mux-bar-completion" /> completion
            </figcaption>
            <ul className="jp-mux-bars">
              {bars.map(b => (
                <li
                  key={b.key}
                  className="jp-mux-bar-row"
                  title={`${b.key}: ${formatCount(b.prompt)} prompt + ${formatCount(
                    b.completion
                  )} completion tokens`}
                >
                  <span className="jp-mux-bar-label">{b.key}</span>
                  <span
                    className="jp-mux-bar"
                    role="img"
                    aria-label={`${b.key}: ${formatCount(b.total)} tokens`}
                  >
                    <span
                      className="jp-mux-bar-prompt"
                      style={{ width: `${(b.promptShare * 100).toFixed(1)}%` }}
                    />
                    <span
                      className="jp-mux-bar-completion"
                      style={{ width: `${(b.completionShare * 100).toFixed(1)}%` }}
                    />
                  </span>
                  <span className="jp-mux-bar-value">{formatCount(b.total)}</span>
                </li>
              ))}
            </ul>
          </figure>
        </>
      )}
      <ErrorText>{error}</ErrorText>
    </div>
  );
}
