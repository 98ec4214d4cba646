import { HTMLSelect } from '@jupyterlab/ui-components';
import * as React from 'react';

import { sameData } from '../helpers/data';
import {
  ADMIN_USAGE_BREAKDOWNS,
  formatCost,
  knownSpend,
  formatCount,
  USAGE_BREAKDOWNS,
  USAGE_RANGES,
  UsageBreakdown,
  usageBreakdownLabel,
  UsageRange,
  usageRangeLabel
} from '../helpers/usage';
import type { Trans } from '../helpers/trans';
import type { IUsageQuery, MuxModel } from '../model';
import type { AdminUsageGroupBy, IUsageRow } from '../types';
import { Budgets } from './Budgets';
import { ErrorText, MuxButton, useModel, useTrans } from './common';
import { UsageChart } from './UsageChart';

/** The total spend: the known part, and whether some requests have no price. */
function spendText(rows: IUsageRow[], trans: Trans): string {
  const { sum, unknown } = knownSpend(rows);
  if (!unknown) {
    return formatCost(sum, trans);
  }
  return sum > 0 ? trans.__('%1 + unpriced', formatCost(sum, trans)) : trans.__('unknown');
}

/**
 * Usage of the mux over time: totals, spend and tokens per workspace or model, and a
 * table of the whole range. Fetched through the model while this view is shown. Under a
 * JupyterHub service it also shows the user's budgets and, to a Hub admin, all users'
 * usage ("All users"), by user, group, provider, model, day or workspace.
 */
export function UsageView(props: { model: MuxModel }): JSX.Element {
  const trans = useTrans();
  const { model } = props;
  useModel(model);
  const last = model.usageQuery;
  const [range, setRange] = React.useState<UsageRange>(last.range);
  const [scope, setScope] = React.useState(last.scope ?? 'mine');
  const [mineBy, setMineBy] = React.useState<UsageBreakdown>(
    last.scope === 'all' ? 'workspace' : last.by
  );
  const [allBy, setAllBy] = React.useState<AdminUsageGroupBy>(
    last.scope === 'all' ? last.by : 'user'
  );
  const me = model.me;
  const all = !!me?.admin && scope === 'all';
  const query = React.useMemo<IUsageQuery>(
    () => (all ? { range, by: allBy, scope: 'all' } : { range, by: mineBy, scope: 'mine' }),
    [all, range, allBy, mineBy]
  );
  const by = query.by;

  React.useEffect(() => model.watchUsage(query), [model]);
  React.useEffect(() => model.setUsageQuery(query), [query]);

  const usage = model.usage;
  const shown = usage && sameData(model.usageQuery, query);
  const totals = usage?.totals;
  const byLabel = usageBreakdownLabel(by, trans);
  const costUnknown = !!usage?.lines.some(l => l.costUnknown);
  const costKnown = !!usage?.lines.some(l => l.cost.some(c => c > 0));

  return (
    <section className="jp-mux-section" aria-labelledby="jp-mux-usage-title">
      <div className="jp-mux-section-head">
        <h2 id="jp-mux-usage-title">{trans.__('Usage')}</h2>
      </div>
      {me && <Budgets budgets={me.budgets} />}
      <div className="jp-mux-inline-form" role="group" aria-label={trans.__('Usage options')}>
        {me?.admin && (
          <div className="jp-mux-scope" role="group" aria-label={trans.__('Whose usage')}>
            <MuxButton
              kind={all ? 'reject' : 'accept'}
              aria-pressed={!all}
              onClick={() => setScope('mine')}
            >
              {trans.__('Mine')}
            </MuxButton>
            <MuxButton
              kind={all ? 'accept' : 'reject'}
              aria-pressed={all}
              onClick={() => setScope('all')}
            >
              {trans.__('All users')}
            </MuxButton>
          </div>
        )}
        <label htmlFor="jp-mux-usage-range">{trans.__('Period')}</label>
        <HTMLSelect
          id="jp-mux-usage-range"
          value={range}
          onChange={e => setRange(e.currentTarget.value as UsageRange)}
        >
          {USAGE_RANGES.map(r => (
            <option key={r} value={r}>
              {usageRangeLabel(r, trans)}
            </option>
          ))}
        </HTMLSelect>
        <label htmlFor="jp-mux-usage-by">{trans.__('By')}</label>
        <HTMLSelect
          id="jp-mux-usage-by"
          value={by}
          onChange={e =>
            all
              ? setAllBy(e.currentTarget.value as AdminUsageGroupBy)
              : setMineBy(e.currentTarget.value as UsageBreakdown)
          }
        >
          {(all ? ADMIN_USAGE_BREAKDOWNS : USAGE_BREAKDOWNS).map(b => (
            <option key={b} value={b}>
              {usageBreakdownLabel(b, trans)}
            </option>
          ))}
        </HTMLSelect>
        <MuxButton onClick={() => void model.refreshUsage()}>{trans.__('Refresh')}</MuxButton>
      </div>
      <ErrorText>{model.usageError}</ErrorText>
      {!shown && !model.usageError && <div className="jp-mux-hint">{trans.__('Loading…')}</div>}
      {shown && totals && (
        <>
          <dl className="jp-mux-totals" aria-label={trans.__('Totals')}>
            <div>
              <dt>{trans.__('Requests')}</dt>
              <dd>{formatCount(totals.requests)}</dd>
            </div>
            <div>
              <dt>{trans.__('Errors')}</dt>
              <dd>{formatCount(totals.errors)}</dd>
            </div>
            <div>
              <dt>{trans.__('Tokens')}</dt>
              <dd>{formatCount(totals.prompt_tokens + totals.completion_tokens)}</dd>
            </div>
            <div>
              <dt>{trans.__('Spend')}</dt>
              <dd>{spendText(usage.rows, trans)}</dd>
            </div>
          </dl>
          {!usage.lines.length ? (
            <p className="jp-mux-hint">{trans.__('No requests in this period yet.')}</p>
          ) : (
            <div className="jp-mux-charts">
              <figure>
                <figcaption>{trans.__('Spend (USD) by %1', byLabel.toLowerCase())}</figcaption>
                {costKnown || !costUnknown ? (
                  <UsageChart
                    labels={usage.labels}
                    lines={usage.lines.map(l => ({ label: l.key, values: l.cost }))}
                    label={trans.__('Spend over time by %1', byLabel.toLowerCase())}
                    formatValue={v => formatCost(v, trans)}
                  />
                ) : (
                  <div className="jp-mux-chart jp-mux-chart-empty">
                    {trans.__(
                      'No price is known for these models: hosted providers publish theirs, and a price can be set per model through the management API.'
                    )}
                  </div>
                )}
                {costKnown && costUnknown && (
                  <div className="jp-mux-hint">
                    {trans.__('Some models have no known price: their spend counts as $0.')}
                  </div>
                )}
              </figure>
              <figure>
                <figcaption>{trans.__('Tokens by %1', byLabel.toLowerCase())}</figcaption>
                <UsageChart
                  labels={usage.labels}
                  lines={usage.lines.map(l => ({ label: l.key, values: l.tokens }))}
                  label={trans.__('Tokens over time by %1', byLabel.toLowerCase())}
                  formatValue={formatCount}
                />
              </figure>
            </div>
          )}
          {usage.rows.length > 0 && (
            <div className="jp-mux-table-wrap">
              <table
                className="jp-mux-usage-table"
                aria-label={trans.__('Usage by %1', byLabel.toLowerCase())}
              >
                <thead>
                  <tr>
                    <th scope="col">{byLabel}</th>
                    <th scope="col">{trans.__('Requests')}</th>
                    <th scope="col">{trans.__('Errors')}</th>
                    <th scope="col">{trans.__('Prompt tokens')}</th>
                    <th scope="col">{trans.__('Completion tokens')}</th>
                    <th scope="col">{trans.__('Spend')}</th>
                  </tr>
                </thead>
                <tbody>
                  {usage.rows.map(r => (
                    <tr key={r.key} data-usage-key={r.key}>
                      <th scope="row" className="jp-mux-model-text">
                        {r.key}
                      </th>
                      <td>{formatCount(r.requests)}</td>
                      <td>{formatCount(r.errors)}</td>
                      <td>{formatCount(r.prompt_tokens)}</td>
                      <td>{formatCount(r.completion_tokens)}</td>
                      <td>{formatCost(r.cost, trans)}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row">{trans.__('Total')}</th>
                    <td>{formatCount(totals.requests)}</td>
                    <td>{formatCount(totals.errors)}</td>
                    <td>{formatCount(totals.prompt_tokens)}</td>
                    <td>{formatCount(totals.completion_tokens)}</td>
                    <td>{formatCost(totals.cost, trans)}</td>
                  </tr>
                </tfoot>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
