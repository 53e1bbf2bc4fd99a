import React, { useMemo } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2, usePluginContext } from '@grafana/data';
import { Alert, Badge, BadgeColor, Stack, TextLink, useStyles2 } from '@grafana/ui';
import type { AppSettings } from '../../api/types';
import { PLUGIN_BASE_URL, ROUTES } from '../../constants';
import {
  CanaryCheck,
  canaryText,
  Evidence,
  EvidenceCanary,
  EvidenceItem,
  EvidenceLog,
  EvidenceMetric,
  EvidenceTrace,
  EvidenceWindow,
  Finding,
  formatValue,
  indexEvidence,
  metricName,
  metricText,
} from './evidence';
import { EvidenceLinks, evidenceLinks } from './evidenceLinks';
import { EvidenceCharts } from './EvidenceCharts';
import { exactTime, formatDuration } from './format';

/** How many of the pack's metrics the table shows. */
const TOP_METRICS = 12;

const CAUSE_COLORS: Record<string, BadgeColor> = {
  'sidecar-memory-leak': 'orange',
  'app-memory-oom': 'orange',
  crashloop: 'red',
  'error-regression': 'red',
  'latency-regression': 'orange',
  'upstream-dependency': 'blue',
  'timeout-cascade': 'purple',
  'plaintext-under-strict': 'purple',
  'control-plane-rejects': 'purple',
  'circuit-open': 'orange',
  'retry-storm': 'orange',
};

function windowText(w: EvidenceWindow): string {
  if (w.from === undefined || w.to === undefined) {
    return 'unknown window';
  }
  return `${exactTime(w.from)} – ${exactTime(w.to)} (${formatDuration(w.to - w.from)})`;
}

/**
 * The incident's ranked findings, then the evidence the capture holds — charts of the cited
 * series (with the incident's id), the metrics, log patterns and traces — with Explore and
 * dashboard links.
 */
export function EvidenceView({
  evidence,
  incidentId,
  afterFindings,
}: {
  evidence: Evidence;
  incidentId?: number;
  /** What the page shows right beneath the findings (the LLM write-up). */
  afterFindings?: React.ReactNode;
}) {
  const s = useStyles2(getStyles);
  const jsonData = usePluginContext<AppSettings>()?.meta.jsonData;
  const { pack, findings } = evidence;
  const index = useMemo(() => indexEvidence(pack), [pack]);
  const links = evidenceLinks(jsonData, pack.subject, pack.window);
  return (
    <div data-testid="data-testid incidents-evidence">
      <section aria-label="Findings">
        <h4 className={s.heading}>Findings ({findings.length})</h4>
        {evidence.partial.length ? (
          <Alert severity="warning" title={`partial: ${evidence.partial.join(', ')}`}>
            The capture could not read every source: findings may miss what those sources would show.
          </Alert>
        ) : null}
        {findings.length === 0 ? (
          <p className={s.muted} data-testid="data-testid incidents-no-finding">
            No finding stands out in {windowText(pack.window)}.
          </p>
        ) : (
          <ol className={s.findings}>
            {findings.map((f, i) => (
              <FindingCard
                key={`${f.cause}-${f.namespace}-${f.workload}-${i}`}
                f={f}
                rank={i + 1}
                index={index}
                links={links}
              />
            ))}
          </ol>
        )}
      </section>
      {afterFindings}
      <section aria-label="Evidence">
        <h4 className={s.heading}>Evidence</h4>
        <dl className={s.facts}>
          <dt>Window</dt>
          <dd>{windowText(pack.window)}</dd>
          {pack.subject ? (
            <>
              <dt>Subject</dt>
              <dd>
                {pack.subject.namespace}/{pack.subject.workload}
              </dd>
            </>
          ) : null}
          {pack.scope.length ? (
            <>
              <dt>Scope</dt>
              <dd>
                {pack.scope
                  .map((n) => `${n.workload} (${n.role ?? 'neighbour'}${n.via ? ` via ${n.via}` : ''})`)
                  .join(', ')}
              </dd>
            </>
          ) : null}
          {evidence.capturedAt !== undefined ? (
            <>
              <dt>Captured</dt>
              <dd>{exactTime(evidence.capturedAt)}</dd>
            </>
          ) : null}
        </dl>
        <Stack gap={2} wrap="wrap">
          {pack.subject ? (
            <TextLink href={links.dashboard(pack.subject.namespace, pack.subject.workload)} inline={false} icon="apps">
              Workload dashboard
            </TextLink>
          ) : null}
          {links.logs ? (
            <TextLink href={links.logs} inline={false} icon="compass">
              Error lines in Explore (Loki)
            </TextLink>
          ) : null}
        </Stack>
        {incidentId !== undefined ? (
          <EvidenceCharts incidentId={incidentId} pack={pack} findings={findings} capturedAt={evidence.capturedAt} />
        ) : null}
        {pack.canary ? <CanaryCard canary={pack.canary} /> : null}
        <MetricsTable metrics={pack.metrics.slice(0, TOP_METRICS)} total={pack.metrics.length} links={links} />
        <LogsList logs={pack.logs} />
        <TracesList traces={pack.traces} links={links} />
      </section>
    </div>
  );
}

function FindingCard({
  f,
  rank,
  index,
  links,
}: {
  f: Finding;
  rank: number;
  index: Map<string, EvidenceItem>;
  links: EvidenceLinks;
}) {
  const s = useStyles2(getStyles);
  const who = f.workload ? `${f.namespace ? `${f.namespace}/` : ''}${f.workload}` : 'unknown workload';
  return (
    <li
      className={s.card}
      aria-label={`Finding ${rank}: ${f.cause} in ${who}`}
      data-testid="data-testid incidents-finding"
    >
      <Stack gap={1} alignItems="center" wrap="wrap">
        <strong>#{rank}</strong>
        <Badge text={f.cause} color={CAUSE_COLORS[f.cause] ?? 'darkgrey'} />
        <strong>{who}</strong>
        {f.score !== undefined ? <span className={s.muted}>score {f.score.toFixed(2)}</span> : null}
        {f.workload && f.namespace ? (
          <TextLink href={links.dashboard(f.namespace, f.workload)} inline={false} icon="apps">
            Dashboard
          </TextLink>
        ) : null}
      </Stack>
      {f.explanation ? <p className={s.explanation}>{f.explanation}</p> : null}
      {f.evidence.length ? (
        <ul className={s.cited} aria-label={`Evidence of finding ${rank}`}>
          {f.evidence.map((id) => (
            <CitedItem key={id} id={id} item={index.get(id)} links={links} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

function CitedItem({ id, item, links }: { id: string; item?: EvidenceItem; links: EvidenceLinks }) {
  const s = useStyles2(getStyles);
  if (!item) {
    return (
      <li className={s.unknown} data-testid="data-testid incidents-unknown-evidence">
        <Badge text="unknown evidence" color="darkgrey" /> <code>{id}</code>
      </li>
    );
  }
  switch (item.type) {
    case 'metric': {
      const href = links.metric(item.item);
      return (
        <li>
          {metricText(item.item)}
          {href ? (
            <>
              {' '}
              <TextLink href={href} icon="compass" inline>
                Explore
              </TextLink>
            </>
          ) : null}
        </li>
      );
    }
    case 'log':
      return (
        <li>
          {item.item.count ?? '?'} error lines of {item.item.workload ?? 'unknown'}: <code>{item.item.pattern}</code>
          {item.item.example ? <pre className={s.code}>{item.item.example}</pre> : null}
        </li>
      );
    case 'trace':
      return <li>{traceText(item.item)}</li>;
    case 'canary':
      return <li>{canaryText(item.item)}</li>;
  }
}

function checkRange(c: CanaryCheck): string {
  if (c.min !== undefined && c.max !== undefined) {
    return `${c.min} – ${c.max}`;
  }
  return c.min !== undefined ? `≥ ${c.min}` : c.max !== undefined ? `≤ ${c.max}` : 'any';
}

/** The subject's Flagger canary at the capture: phase, checks and its last events, linked to the Canaries page. */
function CanaryCard({ canary: c }: { canary: EvidenceCanary }) {
  const s = useStyles2(getStyles);
  const failed = c.phase === 'Failed';
  return (
    <div
      className={s.card}
      aria-label={`Canary ${c.namespace}/${c.name}`}
      data-evidence-id={c.id}
      data-testid="data-testid incidents-canary"
    >
      <h5 className={s.subheading}>
        Flagger canary {c.namespace}/{c.name}{' '}
        <Badge
          text={c.phase || 'not initialised'}
          color={failed ? 'red' : c.phase === 'Succeeded' ? 'green' : 'blue'}
        />
      </h5>
      <div className={s.muted}>
        target {c.target ?? c.name}, weight {c.weight ?? 0} %
        {c.threshold ? `, ${c.failedChecks ?? 0} of ${c.threshold} failed checks` : ''}
      </div>
      {c.checks.length ? (
        <table className={s.table} aria-label="Canary checks">
          <thead>
            <tr>
              <th>Check</th>
              <th>Threshold</th>
              <th>Last value</th>
            </tr>
          </thead>
          <tbody>
            {c.checks.map((ch) => (
              <tr key={ch.name}>
                <td>{ch.name}</td>
                <td>{checkRange(ch)}</td>
                <td>
                  {ch.value !== undefined ? sig(ch.value) : '—'}
                  {ch.passing === false ? (
                    <>
                      {' '}
                      <Badge text="failing" color="red" />
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {c.events.length ? (
        <ul className={s.cited} aria-label="Canary events">
          {c.events.map((e, i) => (
            <li key={i}>
              <span className={s.muted}>{e.at !== undefined ? exactTime(e.at) : '—'}</span>{' '}
              {e.warning ? <Badge text="warning" color="orange" /> : null} {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      <TextLink href={`${PLUGIN_BASE_URL}/${ROUTES.Canaries}`} inline={false} icon="arrow-right">
        Canaries page
      </TextLink>
    </div>
  );
}

function sig(v: number): string {
  return String(Number(v.toPrecision(4)));
}

function traceText(t: EvidenceTrace): string {
  const what = [t.service ?? t.workload, t.root].filter(Boolean).join(' ');
  const ms = t.durationMs !== undefined ? formatValue(t.durationMs, 'ms') : 'unknown duration';
  return `${t.error ? 'error trace' : 'slow trace'} ${what ? `${what} ` : ''}${ms}${t.traceId ? ` (${t.traceId})` : ''}`;
}

function MetricsTable({ metrics, total, links }: { metrics: EvidenceMetric[]; total: number; links: EvidenceLinks }) {
  const s = useStyles2(getStyles);
  if (!metrics.length) {
    return <p className={s.muted}>The capture holds no metric.</p>;
  }
  return (
    <>
      <h5 className={s.subheading}>
        Metrics{total > metrics.length ? ` (top ${metrics.length} of ${total})` : ` (${total})`}
      </h5>
      <table className={s.table} aria-label="Evidence metrics">
        <thead>
          <tr>
            <th>Series</th>
            <th>Baseline</th>
            <th>Window</th>
            <th>Last</th>
            <th>Change</th>
          </tr>
        </thead>
        <tbody>
          {metrics.map((m) => {
            const href = links.metric(m);
            return (
              <tr key={m.id} data-evidence-id={m.id}>
                <td>
                  {href ? (
                    <TextLink href={href} inline>
                      {metricName(m)}
                    </TextLink>
                  ) : (
                    metricName(m)
                  )}
                </td>
                <td>{formatValue(m.summary.baseline, m.unit)}</td>
                <td>{formatValue(m.summary.window, m.unit)}</td>
                <td>{formatValue(m.summary.last, m.unit)}</td>
                <td>{m.summary.changeAt !== undefined ? exactTime(m.summary.changeAt) : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function LogsList({ logs }: { logs: EvidenceLog[] }) {
  const s = useStyles2(getStyles);
  if (!logs.length) {
    return null;
  }
  return (
    <>
      <h5 className={s.subheading}>Error-log patterns ({logs.length})</h5>
      {logs.map((l) => (
        <div key={l.id} className={s.card} aria-label={`Log pattern ${l.pattern}`} data-evidence-id={l.id}>
          <div>
            <strong>{l.count ?? '?'}×</strong> {l.workload}
            {l.container ? ` (${l.container})` : ''}: <code>{l.pattern}</code>
          </div>
          <div className={s.muted}>
            first {l.first !== undefined ? exactTime(l.first) : '—'}, last{' '}
            {l.last !== undefined ? exactTime(l.last) : '—'}
          </div>
          {l.example ? <pre className={s.code}>{l.example}</pre> : null}
        </div>
      ))}
    </>
  );
}

function TracesList({ traces, links }: { traces: EvidenceTrace[]; links: EvidenceLinks }) {
  const s = useStyles2(getStyles);
  if (!traces.length) {
    return null;
  }
  return (
    <>
      <h5 className={s.subheading}>Traces ({traces.length})</h5>
      <ul className={s.cited}>
        {traces.map((t) => {
          const href = t.traceId ? links.trace(t.traceId) : undefined;
          return (
            <li key={t.id} data-evidence-id={t.id}>
              {traceText(t)}
              {href ? (
                <>
                  {' '}
                  <TextLink href={href} icon="compass" inline>
                    Explore (Tempo)
                  </TextLink>
                </>
              ) : null}
            </li>
          );
        })}
      </ul>
    </>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  heading: css({ margin: theme.spacing(2, 0, 1) }),
  subheading: css({ margin: theme.spacing(2, 0, 0.5) }),
  muted: css({ color: theme.colors.text.secondary }),
  findings: css({ listStyle: 'none', padding: 0, margin: 0 }),
  explanation: css({ margin: theme.spacing(1, 0) }),
  cited: css({
    margin: theme.spacing(0.5, 0),
    paddingLeft: theme.spacing(2.5),
    li: { marginBottom: theme.spacing(0.5) },
  }),
  unknown: css({ color: theme.colors.text.secondary, fontStyle: 'italic' }),
  facts: css({
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    gap: theme.spacing(0.5, 2),
    margin: theme.spacing(1, 0),
    dt: { color: theme.colors.text.secondary },
    dd: { margin: 0, overflowWrap: 'anywhere' },
  }),
  card: css({
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(1.5),
    marginBottom: theme.spacing(1.5),
  }),
  code: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'pre-wrap',
    overflowWrap: 'anywhere',
    margin: theme.spacing(0.5, 0, 0),
    padding: theme.spacing(1),
  }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    fontSize: theme.typography.bodySmall.fontSize,
    'th, td': { textAlign: 'left', padding: theme.spacing(0.5), borderBottom: `1px solid ${theme.colors.border.weak}` },
  }),
});
