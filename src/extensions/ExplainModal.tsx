import React, { useEffect, useMemo, useState } from 'react';
import { css, cx } from '@emotion/css';
import {
  type GrafanaTheme2,
  LoadingState,
  dateTimeFormat,
  formattedValueToString,
  getValueFormat,
} from '@grafana/data';
import type { TimeZone } from '@grafana/schema';
import { Alert, Badge, Button, LinkButton, LoadingPlaceholder, Stack, Tooltip, useStyles2 } from '@grafana/ui';
import { errorMessage } from '../api/client';
import {
  DirectionFalling,
  DirectionRising,
  StatusDone,
  StatusFailed,
  StatusQueued,
  StatusStreaming,
  StatusUnavailable,
  type Accepted,
  type NextQuery,
  type Point,
  type Query,
  type Request,
  type Series,
  type State,
  type TargetError,
  type TimeRange,
} from '../api/wire/explain';
import { useLiveFrame } from '../live/useLiveFrame';
import { explainApi, previewAnswer, readExplainPacket } from './explainApi';
import { explainIds } from './ids';
import {
  type PanelContext,
  datasourceFor,
  exploreUrl,
  labelsText,
  panelDescription,
  panelLegends,
  panelQueries,
  panelRange,
  panelTitle,
  seriesFromFrames,
  seriesFromWire,
  wireRange,
} from './panel';
import { type PanelSummary, summarizePanel } from './summarize';

/** Summary rows shown before "show all" (the most changed come first). */
export const SUMMARY_ROWS = 8;

/** Points per series asked of explain/data when the panel had no data. */
export const MAX_DATA_POINTS = 300;

/** What the modal knows of the panel's series. */
type SummaryState =
  | { phase: 'loading' }
  | { phase: 'ready'; summary: PanelSummary; rerun: boolean; errors: TargetError[] }
  | { phase: 'empty'; rerun: boolean; errors: TargetError[] }
  | { phase: 'error'; message: string };

/** The panel's data as the context holds it, when it was loaded and holds numbers over time. */
function loadedSeries(ctx: PanelContext) {
  const d = ctx.data;
  if (!d || (d.state !== LoadingState.Done && d.state !== LoadingState.Streaming)) {
    return undefined;
  }
  const series = seriesFromFrames(d.series ?? []);
  return series.length ? series : undefined;
}

function useSummary(ctx: PanelContext, queries: Query[], range: TimeRange): SummaryState {
  const r = useMemo(() => ({ from: Date.parse(range.from), to: Date.parse(range.to) }), [range]);
  // The panel's own data, summarized at once (undefined: there is none, run the queries).
  const loaded = useMemo((): SummaryState | undefined => {
    const series = loadedSeries(ctx);
    if (!series) {
      // Nothing to run either: the panel holds no Prometheus or Loki expression.
      return queries.length ? undefined : { phase: 'empty', rerun: false, errors: [] };
    }
    const summary = summarizePanel(series, { range: r });
    return summary.series.some((x) => x.points > 0)
      ? { phase: 'ready', summary, rerun: false, errors: [] }
      : { phase: 'empty', rerun: false, errors: [] };
  }, [ctx, queries, r]);
  const [rerun, setRerun] = useState<SummaryState>({ phase: 'loading' });
  useEffect(() => {
    if (loaded) {
      return;
    }
    // Grafana had not run the panel's queries (or they failed): run them through the backend.
    let live = true;
    explainApi.data({ queries, timeRange: range, maxDataPoints: MAX_DATA_POINTS }).then(
      (res) => {
        if (!live) {
          return;
        }
        const errors = res.errors ?? [];
        const summary = summarizePanel(seriesFromWire(res.frames ?? [], panelLegends(ctx)), { range: r });
        setRerun(
          summary.series.some((s) => s.points > 0)
            ? { phase: 'ready', summary, rerun: true, errors }
            : { phase: 'empty', rerun: true, errors }
        );
      },
      (e) => live && setRerun({ phase: 'error', message: errorMessage(e) })
    );
    return () => {
      live = false;
    };
  }, [ctx, loaded, queries, range, r]);
  return loaded ?? rerun;
}

/** The panel's description (undefined while it is being read). */
function useDescription(ctx: PanelContext): string | undefined {
  const [description, setDescription] = useState<string>();
  useEffect(() => {
    let live = true;
    panelDescription(ctx).then((d) => live && setDescription(d));
    return () => {
      live = false;
    };
  }, [ctx]);
  return description;
}

interface Props {
  context: PanelContext;
}

/**
 * The "Explain this panel" modal: MeshWatch's own summary of each series at
 * once (what changed, when, by how much), then the local model's write-up
 * as it streams: what the panel shows, what is notable (each point with the
 * series it cites, or marked when it cites none), likely causes, and
 * queries to run next (links to Explore only when they parse). Without a
 * model the summary stands alone, with the reason.
 */
export function ExplainModal({ context }: Props) {
  const s = useStyles2(getStyles);
  const grafanaRange = useMemo(() => panelRange(context), [context]);
  const range = useMemo(() => wireRange(grafanaRange), [grafanaRange]);
  const queries = useMemo(() => panelQueries(context, grafanaRange), [context, grafanaRange]);
  const summary = useSummary(context, queries, range);
  const description = useDescription(context);
  const tz = context.timeZone;

  const request = useMemo((): Request | undefined => {
    if (summary.phase !== 'ready' || description === undefined) {
      return undefined;
    }
    return {
      panel: { title: panelTitle(context), description, type: context.pluginId },
      dashboard: { uid: context.dashboard?.uid ?? '', title: context.dashboard?.title ?? '' },
      queries,
      timeRange: range,
      series: summary.summary.series,
      omittedSeries: summary.summary.omittedSeries,
    };
  }, [summary, description, context, queries, range]);

  return (
    <div className={s.body} data-testid={explainIds.modal}>
      <p className={s.muted}>
        {formatTime(Date.parse(range.from), tz)} to {formatTime(Date.parse(range.to), tz)} ·{' '}
        {queries.length === 1 ? '1 query' : `${queries.length} queries`}
        {queries.length ? (
          <>
            : <code className={s.inlineCode}>{queries.map((q) => q.expr).join('; ')}</code>
          </>
        ) : null}
      </p>
      <SummaryView state={summary} tz={tz} />
      {request ? <WriteUp request={request} series={request.series} queries={queries} range={range} /> : null}
    </div>
  );
}

function SummaryView({ state, tz }: { state: SummaryState; tz: TimeZone }) {
  const s = useStyles2(getStyles);
  const [all, setAll] = useState(false);
  if (state.phase === 'loading') {
    return <LoadingPlaceholder text="The panel had no data loaded: running its queries…" />;
  }
  if (state.phase === 'error') {
    return (
      <Alert severity="error" title="The panel’s queries could not be run" data-testid={explainIds.noData}>
        {state.message}
      </Alert>
    );
  }
  const errors = state.errors.length ? (
    <Alert severity="warning" title="Some of the panel’s queries failed" data-testid={explainIds.queryErrors}>
      {state.errors.map((e) => (
        <div key={e.refId}>
          {e.refId}: {e.error}
        </div>
      ))}
    </Alert>
  ) : null;
  if (state.phase === 'empty') {
    return (
      <>
        {errors}
        <Alert severity="info" title="No data to explain" data-testid={explainIds.noData}>
          The panel’s queries returned no values for this time range, so there is nothing to summarize and nothing is
          sent to the model. Widen the time range or check the queries.
        </Alert>
      </>
    );
  }
  const { series, omittedSeries } = state.summary;
  return (
    <section aria-label="Summary" data-testid={explainIds.summary}>
      {errors}
      <h4 className={s.heading}>
        What changed{' '}
        <span className={s.muted}>
          (MeshWatch’s own figures{state.rerun ? ', from the queries re-run just now' : ''})
        </span>
      </h4>
      <table className={s.table}>
        <thead>
          <tr>
            <th>Series</th>
            <th>Last</th>
            <th>Min – max (mean)</th>
            <th>Trend</th>
            <th>Changes and gaps</th>
          </tr>
        </thead>
        <tbody>
          {(all ? series : series.slice(0, SUMMARY_ROWS)).map((x) => (
            <tr key={x.id} data-testid={explainIds.summaryRow} data-series-id={x.id}>
              <td>
                <span className={s.chip}>{x.id}</span> {x.name}
              </td>
              {x.points ? (
                <>
                  <td>{fmt(x.last, x.unit)}</td>
                  <td>
                    {fmt(x.min, x.unit)} – {fmt(x.max, x.unit)} ({fmt(x.mean, x.unit)})
                  </td>
                  <td>
                    <TrendText s={x} />
                  </td>
                  <td>
                    <Changes s={x} tz={tz} />
                  </td>
                </>
              ) : (
                <td colSpan={4} className={s.muted}>
                  no values in this range
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {!all && series.length > SUMMARY_ROWS ? (
        <Button size="sm" variant="secondary" fill="text" icon="angle-down" onClick={() => setAll(true)}>
          Show all {series.length} summarized series
        </Button>
      ) : null}
      {omittedSeries > 0 ? (
        <p className={s.muted} data-testid={explainIds.omitted}>
          {omittedSeries} more {omittedSeries === 1 ? 'series changed' : 'series changed'} less and{' '}
          {omittedSeries === 1 ? 'is' : 'are'} left out (at most {series.length} are summarized and sent).
        </p>
      ) : null}
    </section>
  );
}

function TrendText({ s: x }: { s: Series }) {
  const d = x.trend.direction;
  const arrow = d === DirectionRising ? '↗' : d === DirectionFalling ? '↘' : '→';
  return (
    <span>
      {arrow} {d}
      {d !== 'flat' ? ` (${x.trend.slopePerHour > 0 ? '+' : ''}${fmt(x.trend.slopePerHour, x.unit)}/h)` : ''}
    </span>
  );
}

function Changes({ s: x, tz }: { s: Series; tz: TimeZone }) {
  const st = useStyles2(getStyles);
  const items = [
    ...(x.changePoints ?? []).map((c) => ({
      at: Date.parse(c.at),
      text: `${formatTime(Date.parse(c.at), tz)}: ${fmt(c.before, x.unit)} → ${fmt(c.after, x.unit)} (${pct(c.before, c.after)})`,
    })),
    ...(x.gaps ?? []).map((g) => ({
      at: Date.parse(g.from),
      text: `no data ${formatTime(Date.parse(g.from), tz)} – ${formatTime(Date.parse(g.to), tz)}`,
    })),
  ].sort((a, b) => a.at - b.at);
  if (!items.length) {
    return <span className={st.muted}>none</span>;
  }
  return (
    <ul className={st.list}>
      {items.map((i) => (
        <li key={i.text}>{i.text}</li>
      ))}
    </ul>
  );
}

/** The write-up: POST explain, then the Live stream of its state. */
function WriteUp({
  request,
  series,
  queries,
  range,
}: {
  request: Request;
  series: Series[];
  queries: Query[];
  range: TimeRange;
}) {
  const s = useStyles2(getStyles);
  const [accepted, setAccepted] = useState<Accepted>();
  const [error, setError] = useState<string>();
  // Asking again restarts a failed or unavailable explanation (the backend reuses a running or finished one).
  const [attempt, setAttempt] = useState(0);
  const again = () => {
    setAccepted(undefined);
    setError(undefined);
    setAttempt((a) => a + 1);
  };
  useEffect(() => {
    let live = true;
    explainApi.explain(request).then(
      (a) => live && setAccepted(a),
      (e) => live && setError(errorMessage(e))
    );
    return () => {
      live = false;
    };
  }, [request, attempt]);

  return (
    <section aria-label="Write-up" data-testid={explainIds.writeUp}>
      <Stack gap={1} alignItems="center" wrap="wrap">
        <h4 className={s.heading}>The local model’s explanation</h4>
        <Badge text="AI: check it against the figures above" color="purple" icon="exclamation-triangle" />
      </Stack>
      {error ? (
        <Alert severity="error" title="The explanation could not be asked for" data-testid={explainIds.unavailable}>
          {sentence(error)} The summary above is MeshWatch’s own and needs no model.
          <AskAgain onClick={again} />
        </Alert>
      ) : null}
      {!accepted && !error ? <LoadingPlaceholder text="Asking the model…" /> : null}
      {accepted?.unavailable ? <Unavailable reason={accepted.unavailable} onAgain={again} /> : null}
      {accepted && !accepted.unavailable ? (
        <Stream
          key={`${accepted.channel}#${attempt}`}
          channel={accepted.channel}
          series={series}
          queries={queries}
          range={range}
          onAgain={again}
        />
      ) : null}
    </section>
  );
}

/** A reason as a sentence of its own. */
const sentence = (s: string) => (/[.!?…)]$/.test(s.trim()) ? s.trim() : `${s.trim()}.`);

function AskAgain({ onClick }: { onClick: () => void }) {
  const s = useStyles2(getStyles);
  return (
    <div className={s.again}>
      <Button size="sm" variant="secondary" icon="sync" onClick={onClick}>
        Ask again
      </Button>
    </div>
  );
}

function Unavailable({ reason, onAgain }: { reason: string; onAgain: () => void }) {
  return (
    <Alert severity="info" title="No write-up: no model answered" data-testid={explainIds.unavailable}>
      {sentence(reason)} The summary above is MeshWatch’s own and needs no model.
      <AskAgain onClick={onAgain} />
    </Alert>
  );
}

function Stream({
  channel,
  series,
  queries,
  range,
  onAgain,
}: {
  channel: string;
  series: Series[];
  queries: Query[];
  range: TimeRange;
  onAgain: () => void;
}) {
  const s = useStyles2(getStyles);
  const source = useMemo(() => ({ path: channel, read: readExplainPacket, what: 'explanation' }), [channel]);
  const live = useLiveFrame(source);
  const state: State | undefined = live.rows?.[0];
  const byId = useMemo(() => new Map(series.map((x) => [x.id, x])), [series]);
  return (
    <div aria-live="polite">
      {live.streamError ? <p className={s.muted}>{live.streamError}</p> : null}
      {!state ? <LoadingPlaceholder text="Connecting to the explanation…" /> : null}
      {state?.status === StatusQueued ? (
        <p data-testid={explainIds.queued}>
          Waiting for the model:{' '}
          {state.position <= 1 ? 'next in line' : `${state.position} explanations and analyses ahead`}.
        </p>
      ) : null}
      {state?.status === StatusStreaming ? <Streaming text={state.text} /> : null}
      {state?.status === StatusUnavailable ? <Unavailable reason={state.reason} onAgain={onAgain} /> : null}
      {state?.status === StatusFailed ? (
        <Alert severity="warning" title="No write-up: the model gave no usable answer" data-testid={explainIds.failed}>
          {sentence(state.reason || 'The model’s answer could not be read')} The summary above stands.
          <AskAgain onClick={onAgain} />
        </Alert>
      ) : null}
      {state?.status === StatusDone && state.answer ? (
        <div data-testid={explainIds.answer}>
          <p>{state.answer.shows}</p>
          <Points title="What is notable" items={state.answer.notable} byId={byId} id={explainIds.notable} />
          <Points title="Likely causes" items={state.answer.causes} byId={byId} id={explainIds.cause} />
          <NextQueries items={state.answer.nextQueries} queries={queries} range={range} />
          {state.model ? <p className={s.muted}>Written by {state.model}, on your Ollama.</p> : null}
        </div>
      ) : null}
    </div>
  );
}

function Streaming({ text }: { text: string }) {
  const s = useStyles2(getStyles);
  const partial = useMemo(() => previewAnswer(text), [text]);
  return (
    <div data-testid={explainIds.streaming}>
      <p className={s.muted}>The model is writing{text ? ` (${text.length} characters so far)` : ''}…</p>
      {partial.shows ? <p>{partial.shows}</p> : null}
      {partial.notable.length ? (
        <ul className={s.list}>
          {partial.notable.map((t, i) => (
            <li key={i}>{t}</li>
          ))}
        </ul>
      ) : null}
      {!partial.shows && text ? <pre className={s.code}>{text.slice(-400)}</pre> : null}
    </div>
  );
}

function Points({ title, items, byId, id }: { title: string; items: Point[]; byId: Map<string, Series>; id: string }) {
  const s = useStyles2(getStyles);
  if (!items.length) {
    return null;
  }
  return (
    <>
      <h5 className={s.subheading}>{title}</h5>
      <ul className={s.points}>
        {items.map((p, i) => (
          <li key={i} className={s.card} data-testid={id}>
            <span>{p.text}</span>{' '}
            {p.uncited ? (
              <Tooltip content="It cites no series of this panel: check it before you rely on it.">
                <span data-testid={explainIds.uncited}>
                  <Badge text="uncited" color="orange" icon="exclamation-triangle" />
                </span>
              </Tooltip>
            ) : null}
            {p.series.map((sid) => {
              const x = byId.get(sid);
              return (
                <Tooltip key={sid} content={x ? seriesText(x) : 'not a series of this panel'}>
                  <span className={x ? s.chip : s.chipUnknown} data-testid={explainIds.chip} tabIndex={0}>
                    {sid}
                    {x ? ` ${x.name}` : ''}
                  </span>
                </Tooltip>
              );
            })}
          </li>
        ))}
      </ul>
    </>
  );
}

function NextQueries({ items, queries, range }: { items: NextQuery[]; queries: Query[]; range: TimeRange }) {
  const s = useStyles2(getStyles);
  if (!items.length) {
    return null;
  }
  return (
    <>
      <h5 className={s.subheading}>Queries to run next</h5>
      <ul className={s.points}>
        {items.map((q, i) => {
          const ds = q.valid ? datasourceFor(q.datasource, queries) : undefined;
          return (
            <li key={i} className={s.card} data-testid={explainIds.nextQuery}>
              <pre className={s.code}>{q.expr}</pre>
              {q.why ? <p className={s.why}>{q.why}</p> : null}
              {ds ? (
                <LinkButton
                  size="sm"
                  variant="secondary"
                  icon="compass"
                  href={exploreUrl(ds, q.expr, range)}
                  target="_blank"
                  data-testid={explainIds.explore}
                >
                  Open in Explore
                </LinkButton>
              ) : (
                <span className={s.muted} data-testid={explainIds.invalidQuery}>
                  {q.valid
                    ? `No ${q.datasource} datasource to open it in.`
                    : `Not a link: it does not parse as ${q.datasource === 'loki' ? 'LogQL' : 'PromQL'}${q.error ? ` (${q.error})` : ''}.`}
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </>
  );
}

function seriesText(x: Series): string {
  const labels = labelsText(x.labels);
  return `${x.name}${labels && labels !== x.name ? ` ${labels}` : ''}: last ${fmt(x.last, x.unit)}, ${fmt(x.min, x.unit)} – ${fmt(x.max, x.unit)}, ${x.trend.direction}`;
}

/** A value in the series' unit, as Grafana formats it. */
export function fmt(v: number, unit?: string): string {
  try {
    return formattedValueToString(getValueFormat(unit || 'none')(v, Math.abs(v) >= 100 || v === 0 ? 0 : undefined));
  } catch {
    return String(v);
  }
}

/** The relative change from a to b, as "+60%" (or "new" from zero). */
export function pct(a: number, b: number): string {
  if (a === 0) {
    return b === 0 ? '±0%' : 'from zero';
  }
  const p = ((b - a) / Math.abs(a)) * 100;
  return `${p > 0 ? '+' : ''}${Math.abs(p) >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

function formatTime(ms: number, tz: TimeZone): string {
  return dateTimeFormat(ms, { timeZone: tz, format: 'YYYY-MM-DD HH:mm' });
}

const chip = (theme: GrafanaTheme2) => ({
  fontFamily: theme.typography.fontFamilyMonospace,
  fontSize: theme.typography.bodySmall.fontSize,
  borderRadius: theme.shape.radius.pill,
  padding: theme.spacing(0, 1),
  marginRight: theme.spacing(0.5),
  whiteSpace: 'nowrap' as const,
});

const getStyles = (theme: GrafanaTheme2) => ({
  body: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1) }),
  heading: css({ margin: theme.spacing(1, 0, 0.5) }),
  subheading: css({ margin: theme.spacing(1.5, 0, 0.5) }),
  muted: css({ color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightRegular }),
  inlineCode: css({ fontSize: theme.typography.bodySmall.fontSize, overflowWrap: 'anywhere' }),
  list: css({ margin: 0, paddingLeft: theme.spacing(2) }),
  points: css({ listStyle: 'none', padding: 0, margin: 0 }),
  why: css({ margin: theme.spacing(0.5, 0) }),
  again: css({ marginTop: theme.spacing(1) }),
  card: css({
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(1),
    marginBottom: theme.spacing(1),
  }),
  code: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'pre-wrap',
    overflowWrap: 'anywhere',
    margin: theme.spacing(0.5, 0),
    padding: theme.spacing(1),
    background: theme.colors.background.secondary,
  }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    fontSize: theme.typography.bodySmall.fontSize,
    'th, td': {
      textAlign: 'left',
      verticalAlign: 'top',
      padding: theme.spacing(0.5, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium, whiteSpace: 'nowrap' },
  }),
  chip: cx(
    css({
      ...chip(theme),
      border: `1px solid ${theme.colors.border.medium}`,
      background: theme.colors.background.secondary,
    })
  ),
  chipUnknown: css({
    ...chip(theme),
    border: `1px dashed ${theme.colors.warning.border}`,
    color: theme.colors.warning.text,
  }),
});
