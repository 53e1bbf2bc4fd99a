import type { AppSettings } from '../../api/types';
import { withDatasourceVars } from '../../dashboardLinks';
import type { EvidenceMetric, EvidenceWindow } from './evidence';

/** A Grafana-relative Explore link: one pane on the datasource `uid` with one query, over the window. */
export function exploreLink(uid: string, query: Record<string, unknown>, window?: EvidenceWindow): string {
  const pane: Record<string, unknown> = {
    datasource: uid,
    queries: [{ refId: 'A', datasource: { uid }, ...query }],
    range:
      window?.from !== undefined && window?.to !== undefined
        ? { from: String(window.from), to: String(window.to) }
        : { from: 'now-1h', to: 'now' },
  };
  return `/explore?schemaVersion=1&orgId=1&panes=${encodeURIComponent(JSON.stringify({ a: pane }))}`;
}

/** A PromQL/LogQL double-quoted string. */
function q(s: string): string {
  return JSON.stringify(s);
}

function escapeRE(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The pods of a workload, as a regular expression (the Deployment/StatefulSet pod names). */
function podsOf(workload: string): string {
  return `${escapeRE(workload)}-[a-z0-9]+(-[a-z0-9]+)?`;
}

/** The error-line filter of pkg/evidence (ErrorLineFilter's words). */
const ERROR_LINES = 'error|Error|ERROR|warn|Warn|WARN|fatal|Fatal|FATAL|panic|Panic|exception|Exception';

/** The LogQL of a workload's error lines, as the evidence capture selects them. */
export function errorLinesQuery(namespace: string, workload: string): string {
  return `{namespace=${q(namespace)}, pod=~${q(podsOf(workload))}} |~ ${q(ERROR_LINES)}`;
}

/**
 * The PromQL of a pack's metric, rebuilt from its kind and labels as pkg/evidence queries it;
 * undefined for a kind whose query cannot be rebuilt from the pack (then no link is shown).
 */
export function metricQuery(m: EvidenceMetric): string | undefined {
  const ns = m.namespace;
  const wl = m.workload;
  if (!ns || !wl) {
    return undefined;
  }
  const code = m.detail?.code;
  const flags = m.detail?.flags;
  const codeSel = code ? `, response_code=${q(code)}` : `, response_code=~"5.."`;
  const flagSel = flags ? `, response_flags=${q(flags)}` : '';
  const server = `reporter="destination", destination_workload_namespace=${q(ns)}, destination_workload=${q(wl)}`;
  let edge = '';
  if (m.peer) {
    const [pns, pwl] = m.peer.includes('/') ? m.peer.split('/', 2) : [ns, m.peer];
    edge = `reporter="source", source_workload_namespace=${q(ns)}, source_workload=${q(wl)}, destination_workload_namespace=${q(pns)}, destination_workload=${q(pwl)}`;
  }
  const pods = `namespace=${q(ns)}, pod=~${q(podsOf(wl))}${m.container ? `, container=${q(m.container)}` : ''}`;
  const rate = (sel: string) => `sum(rate(istio_requests_total{${sel}}[5m]))`;
  const p99 = (sel: string) =>
    `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${sel}}[5m])))`;
  switch (m.kind) {
    case 'request-rate':
      return rate(server);
    case 'error-ratio':
      return `${rate(server + codeSel + flagSel)} / ${rate(server)}`;
    case 'latency-p99':
      return p99(server);
    case 'edge-rate':
      return edge ? rate(edge) : undefined;
    case 'edge-error-ratio':
      return edge ? `${rate(edge + codeSel + flagSel)} / ${rate(edge)}` : undefined;
    case 'edge-latency-p99':
      return edge ? p99(edge) : undefined;
    case 'sidecar-memory':
    case 'app-memory':
      return m.container ? `max(container_memory_working_set_bytes{${pods}})` : undefined;
    case 'cpu':
      return m.container ? `max(rate(container_cpu_usage_seconds_total{${pods}}[5m]))` : undefined;
    case 'restarts':
      return `sum(increase(kube_pod_container_status_restarts_total{${pods}}[5m]))`;
    default:
      return undefined;
  }
}

export interface EvidenceLinks {
  /** Loki Explore of the subject's error lines. */
  logs?: string;
  /** Prometheus Explore of a metric, by its evidence id. */
  metric: (m: EvidenceMetric) => string | undefined;
  /** Tempo Explore of a trace id. */
  trace: (traceId: string) => string | undefined;
  /** The workload dashboard of a workload. */
  dashboard: (namespace: string, workload: string) => string;
}

/** The links of an incident's evidence, with the datasources the app's settings name (jsonData.<section>.datasourceUid). */
export function evidenceLinks(
  jsonData: AppSettings | undefined,
  subject: { namespace: string; workload: string } | undefined,
  window: EvidenceWindow | undefined
): EvidenceLinks {
  const prom = jsonData?.prometheus?.datasourceUid;
  const loki = jsonData?.loki?.datasourceUid;
  const tempo = jsonData?.tempo?.datasourceUid;
  return {
    logs:
      loki && subject
        ? exploreLink(loki, { expr: errorLinesQuery(subject.namespace, subject.workload), queryType: 'range' }, window)
        : undefined,
    metric: (m) => {
      const expr = prom ? metricQuery(m) : undefined;
      return prom && expr ? exploreLink(prom, { expr }, window) : undefined;
    },
    trace: (traceId) =>
      tempo && traceId ? exploreLink(tempo, { queryType: 'traceql', query: traceId }, window) : undefined,
    dashboard: (namespace, workload) => {
      const params = new URLSearchParams({ 'var-namespace': namespace, 'var-workload': workload });
      return withDatasourceVars(`/d/meshwatch-workload?${params.toString()}`, jsonData);
    },
  };
}
