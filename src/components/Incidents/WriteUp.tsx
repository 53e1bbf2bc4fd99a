import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { config } from '@grafana/runtime';
import { Alert, Badge, BadgeColor, Button, Stack, Tooltip, useStyles2 } from '@grafana/ui';
import { api, errorMessage } from '../../api/client';
import {
  StateDone,
  StateFailed,
  StateNone,
  StateQueued,
  StateUnavailable,
  StateWriting,
} from '../../api/wire/analyses';
import { ActionKubectlRead, type Claim, type StepCheck } from '../../api/wire/analysis';
import { useLiveFrame } from '../../live/useLiveFrame';
import { SignOffPanel } from '../SignOff';
import { testIds } from '../testIds';
import { canaryText, EvidenceItem, metricText } from './evidence';
import { exactTime } from './format';
import { WriteUp, WriteUpState, decodeWriteUp, readWriteUpPacket, writeUpChannel } from './writeUp';

/** The write-up's live state: the analysis/<id> channel, as the backend streams it. */
export function useWriteUp(id: number): { state?: WriteUpState; streamError?: string } {
  // Only this incident's packets count (a channel carries one incident; a stray packet is ignored).
  const source = useMemo(
    () => ({
      path: writeUpChannel(id),
      read: (msg: unknown) => {
        const snap = readWriteUpPacket(msg);
        return snap?.rows[0]?.incidentId === id ? snap : undefined;
      },
      what: 'write-up',
    }),
    [id]
  );
  const live = useLiveFrame(source);
  return { state: live.rows?.[0], streamError: live.streamError };
}

const RISK: Record<string, BadgeColor> = { low: 'green', medium: 'orange', high: 'red' };
const CONFIDENCE: Record<string, BadgeColor> = { low: 'orange', medium: 'blue', high: 'green' };

interface Props {
  incidentId: number;
  /** The capture's evidence by id, for citations (empty before the first capture). */
  index: Map<string, EvidenceItem>;
}

/**
 * The LLM's root-cause write-up of an incident, beneath the deterministic findings: the
 * queue position while it waits for the model, the summary as the model writes it, then
 * the answer with its citations (which jump to the evidence they cite), the guard's marks
 * (unsupported claims, workloads the evidence does not hold, commands that stay text), or
 * why there is no write-up. Every suggestion is advice until a person signs it off.
 */
export function WriteUpView({ incidentId, index }: Props) {
  const s = useStyles2(getStyles);
  const { state, streamError } = useWriteUp(incidentId);
  const stored = useMemo(() => decodeWriteUp(state?.analysis), [state?.analysis]);
  const busy = state?.state === StateQueued || state?.state === StateWriting;
  return (
    <section aria-label="Root-cause write-up" data-testid={testIds.incidents.writeUp}>
      <Stack gap={1} alignItems="center" justifyContent="space-between" wrap="wrap">
        <h4 className={s.heading}>Root-cause write-up</h4>
        <Stack gap={1} alignItems="center">
          {stored?.result.status === 'done' ? (
            // Only a written answer is an AI suggestion to sign off (not a fallback, nor no write-up at all).
            <Badge text="AI suggestion: pending sign-off" color="purple" icon="exclamation-triangle" />
          ) : null}
          <AnalyseAgain incidentId={incidentId} disabled={busy || state?.state === StateUnavailable} />
        </Stack>
      </Stack>
      {streamError ? <p className={s.muted}>{streamError}</p> : null}
      {!state ? <p className={s.muted}>Connecting to the write-up…</p> : null}
      {state?.state === StateNone ? (
        <p className={s.muted} data-testid={testIds.incidents.writeUpNone}>
          The write-up starts once the incident’s evidence has been captured.
        </p>
      ) : null}
      {state?.state === StateUnavailable ? (
        <Alert
          severity="info"
          title="No LLM writes root-cause analyses"
          data-testid={testIds.incidents.writeUpFallback}
        >
          {state.unavailable} The findings above are MeshWatch’s own and need no model.
        </Alert>
      ) : null}
      {state?.state === StateQueued ? (
        <p data-testid={testIds.incidents.writeUpQueue}>
          Waiting for the model: {state.position === 1 ? 'next in line' : `${state.position} analyses ahead`}.
        </p>
      ) : null}
      {state?.state === StateWriting ? <Writing text={state.text} summary={state.summary} /> : null}
      {stored && (state?.state === StateDone || state?.state === StateFailed || busy) ? (
        <StoredWriteUp w={stored} index={index} superseded={busy} />
      ) : null}
      {stored?.result.status === 'done' && state?.state === StateDone ? (
        // Each suggestion of this write-up, pending until a person decides (keyed by the analysis: a new write-up's
        // suggestions load afresh).
        <SignOffPanel key={stored.analysis.id} incidentId={incidentId} analysisId={String(stored.analysis.id)} />
      ) : null}
    </section>
  );
}

function Writing({ text, summary }: { text?: string; summary?: string }) {
  const s = useStyles2(getStyles);
  return (
    <div data-testid={testIds.incidents.writeUpStreaming} aria-live="polite">
      <p className={s.muted}>The model is writing{text ? ` (${text.length} characters so far)` : ''}…</p>
      {summary ? <p>{summary}</p> : text ? <pre className={s.code}>{text.slice(-600)}</pre> : null}
    </div>
  );
}

function AnalyseAgain({ incidentId, disabled }: { incidentId: number; disabled: boolean }) {
  const [error, setError] = useState<string>();
  const role = config.bootData?.user?.orgRole;
  if (role !== 'Editor' && role !== 'Admin') {
    return null; // the backend refuses Viewers too (POST needs Editor)
  }
  return (
    <>
      <Button
        size="sm"
        variant="secondary"
        icon="sync"
        disabled={disabled}
        onClick={() =>
          api.analyseAgain(incidentId).then(
            () => setError(undefined),
            (e) => setError(errorMessage(e))
          )
        }
      >
        Analyse again
      </Button>
      {error ? <span role="alert">{error}</span> : null}
    </>
  );
}

function StoredWriteUp({
  w,
  index,
  superseded,
}: {
  w: WriteUp;
  index: Map<string, EvidenceItem>;
  superseded: boolean;
}) {
  const s = useStyles2(getStyles);
  const { result: r, analysis: a } = w;
  const when = Date.parse(a.finishedAt);
  const footer = (
    <p className={s.muted} data-testid={testIds.incidents.writeUpMeta}>
      {r.model || a.model}
      {Number.isFinite(when) ? `, ${exactTime(when)}` : ''}
      {r.tokens.estimate ? `; prompt ≈${r.tokens.estimate} tokens estimated` : ''}
      {r.tokens.prompt ? `, ${r.tokens.prompt} counted by Ollama` : ''}
      {r.tokens.output ? `, ${r.tokens.output} written` : ''}
      {r.timings.totalMs ? `; ${(r.timings.totalMs / 1000).toFixed(1)} s in the model` : ''}
      {r.timings.queueMs > 500 ? `, ${(r.timings.queueMs / 1000).toFixed(1)} s queued` : ''}
      {r.shrunk?.length ? `; to fit the context: ${r.shrunk.map((x) => x.step).join(', ')}` : ''}
      {superseded ? '; a new write-up is on its way' : ''}
    </p>
  );
  if (r.status !== 'done' || !r.answer) {
    return (
      <>
        <Alert
          severity="warning"
          title="No write-up: the findings above stand"
          data-testid={testIds.incidents.writeUpFallback}
        >
          {fallbackText(r)}
        </Alert>
        {footer}
      </>
    );
  }
  const ans = r.answer;
  const g = r.guard;
  const rc = ans.rootCause;
  const who = rc.workload ? `${rc.namespace ? `${rc.namespace}/` : ''}${rc.workload}` : '';
  return (
    <div data-testid={testIds.incidents.writeUpAnswer} className={superseded ? s.superseded : undefined}>
      <p>{ans.summary}</p>
      <div className={s.card} aria-label="Root cause">
        <Stack gap={1} alignItems="center" wrap="wrap">
          <strong>Root cause</strong>
          <Badge text={rc.cause} color={rc.cause === 'none' ? 'darkgrey' : 'red'} />
          {who ? <strong>{who}</strong> : null}
          {ans.confidence ? (
            <Badge text={`confidence ${ans.confidence}`} color={CONFIDENCE[ans.confidence] ?? 'darkgrey'} />
          ) : null}
          {g ? <Marks claim={g.rootCause} /> : null}
        </Stack>
        {rc.explanation ? <p className={s.explanation}>{rc.explanation}</p> : null}
        <Citations ids={rc.evidence} index={index} />
      </div>
      {ans.remediation.length ? (
        <>
          <h5 className={s.subheading}>Remediation ({ans.remediation.length})</h5>
          <ol className={s.steps}>
            {ans.remediation.map((step, i) => {
              const check: StepCheck | undefined = g?.steps[i];
              return (
                <li key={i} className={s.card} data-testid={testIds.incidents.writeUpStep}>
                  <Stack gap={1} alignItems="center" wrap="wrap">
                    <strong>{step.action}</strong>
                    {step.risk ? <Badge text={`risk ${step.risk}`} color={RISK[step.risk] ?? 'darkgrey'} /> : null}
                    {check ? <Marks claim={check} /> : null}
                  </Stack>
                  {step.why ? <p className={s.explanation}>{step.why}</p> : null}
                  {step.command ? (
                    <div>
                      <pre className={s.code}>{step.command}</pre>
                      <span className={s.muted}>{commandNote(check)}</span>
                    </div>
                  ) : null}
                  <Citations ids={step.evidence} index={index} />
                </li>
              );
            })}
          </ol>
        </>
      ) : null}
      {r.warnings?.length ? (
        <Alert severity="info" title="Notes on this write-up">
          {r.warnings.join(' ')}
        </Alert>
      ) : null}
      {footer}
    </div>
  );
}

/** Why there is no write-up: the error as the backend classified it, or the fallback's reason. */
function fallbackText(r: WriteUp['result']): string {
  const msg = r.error?.message;
  if (msg && r.fallback && !r.fallback.includes(msg)) {
    return `${msg} ${r.fallback}`;
  }
  return r.fallback || msg || 'The model gave no usable answer.';
}

/** What may happen with a step's command: run from the page after sign-off, run by a person (reads), or nothing. */
function commandNote(check?: StepCheck): string {
  if (!check?.runnable) {
    return `Advice only, never a button${check?.commandReason ? `: ${check.commandReason}` : ''}.`;
  }
  if (check.action?.kind === ActionKubectlRead) {
    return 'A read-only command on the allowlist: safe to run yourself.';
  }
  return 'On the allowlist: it can run from here once a person approves it.';
}

/** The guard's marks on a claim: unsupported (no or unknown citations), or workloads the evidence does not hold. */
function Marks({ claim: c }: { claim: Claim }) {
  const flagged = c.unknownWorkloads ?? [];
  return (
    <>
      {!c.supported ? (
        <Tooltip content={(c.reasons ?? []).join('; ') || 'It cites no evidence MeshWatch holds.'}>
          <span data-testid={testIds.incidents.writeUpUnsupported}>
            <Badge text="unsupported" color="orange" icon="exclamation-triangle" />
          </span>
        </Tooltip>
      ) : null}
      {flagged.length ? (
        <Tooltip content={`The evidence holds no ${flagged.join(', ')}`}>
          <span data-testid={testIds.incidents.writeUpFlagged}>
            <Badge text={`names ${flagged.join(', ')}`} color="orange" icon="question-circle" />
          </span>
        </Tooltip>
      ) : null}
    </>
  );
}

function itemText(item: EvidenceItem): string {
  switch (item.type) {
    case 'metric':
      return metricText(item.item);
    case 'log':
      return `${item.item.count ?? '?'} error lines of ${item.item.workload ?? 'unknown'}: ${item.item.pattern}`;
    case 'trace':
      return `${item.item.error ? 'error' : 'slow'} trace ${item.item.traceId ?? ''}`;
    case 'canary':
      return canaryText(item.item);
  }
}

/** Citations: each id jumps to the evidence it cites (or unfolds it here when the page does not show it). */
function Citations({ ids, index }: { ids: string[]; index: Map<string, EvidenceItem> }) {
  const s = useStyles2(getStyles);
  const [open, setOpen] = useState<string>();
  if (!ids.length) {
    return null;
  }
  const jump = (id: string) => {
    const el = document.querySelector(`[data-evidence-id="${CSS.escape(id)}"]`);
    if (el) {
      el.scrollIntoView({ behavior: 'smooth', block: 'center' });
      el.classList.add(s.flash);
      setTimeout(() => el.classList.remove(s.flash), 1600);
      setOpen(undefined);
    } else {
      setOpen((cur) => (cur === id ? undefined : id));
    }
  };
  const openItem = open ? index.get(open) : undefined;
  return (
    <div className={s.citations}>
      <span className={s.muted}>Cites </span>
      {ids.map((id) => {
        const item = index.get(id);
        return (
          <Tooltip key={id} content={item ? itemText(item) : 'not in the captured evidence'}>
            <button
              type="button"
              className={item ? s.cite : s.citeUnknown}
              onClick={() => jump(id)}
              data-testid={testIds.incidents.writeUpCitation}
            >
              {id}
            </button>
          </Tooltip>
        );
      })}
      {open ? (
        <div className={s.unfolded}>{openItem ? itemText(openItem) : `${open}: not in the captured evidence`}</div>
      ) : null}
    </div>
  );
}

/** A citation chip's shape; known and unknown citations differ only in colour and border. */
const chip = (theme: GrafanaTheme2) => ({
  fontFamily: theme.typography.fontFamilyMonospace,
  fontSize: theme.typography.bodySmall.fontSize,
  borderRadius: theme.shape.radius.pill,
  padding: theme.spacing(0, 1),
  marginRight: theme.spacing(0.5),
  cursor: 'pointer',
});

const getStyles = (theme: GrafanaTheme2) => ({
  heading: css({ margin: theme.spacing(2, 0, 1) }),
  subheading: css({ margin: theme.spacing(2, 0, 0.5) }),
  muted: css({ color: theme.colors.text.secondary }),
  explanation: css({ margin: theme.spacing(1, 0) }),
  steps: css({ listStyle: 'none', padding: 0, margin: 0 }),
  superseded: css({ opacity: 0.7 }),
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
    margin: theme.spacing(0.5, 0),
    padding: theme.spacing(1),
    background: theme.colors.background.secondary,
  }),
  citations: css({ marginTop: theme.spacing(0.5) }),
  cite: css({
    ...chip(theme),
    border: `1px solid ${theme.colors.border.medium}`,
    background: theme.colors.background.secondary,
    color: theme.colors.text.link,
  }),
  citeUnknown: css({
    ...chip(theme),
    border: `1px dashed ${theme.colors.warning.border}`,
    background: 'transparent',
    color: theme.colors.warning.text,
  }),
  unfolded: css({ marginTop: theme.spacing(0.5), color: theme.colors.text.secondary }),
  flash: css({ outline: `2px solid ${theme.colors.primary.border}`, transition: 'outline 0.3s' }),
});
