import React from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { Alert, Icon, IconName, useStyles2 } from '@grafana/ui';
import { HealthReport as Report, HealthStatus } from '../../api/types';
import { testIds } from '../testIds';

const icon: Record<HealthStatus, { name: IconName; label: string }> = {
  ok: { name: 'check-circle', label: 'OK' },
  warning: { name: 'exclamation-triangle', label: 'Warning' },
  error: { name: 'times-circle', label: 'Failing' },
  disabled: { name: 'minus-circle', label: 'Disabled' },
};

const severity = { ok: 'success', warning: 'warning', error: 'error', disabled: 'info' } as const;

/** The health check's summary and one line per dependency. */
export function HealthReport({ report }: { report: Report }) {
  const s = useStyles2(getStyles);
  return (
    <Alert title={report.summary} severity={severity[report.status]} data-testid={testIds.appConfig.healthReport}>
      <ul className={s.list}>
        {report.results.map((r, i) => (
          <li key={`${r.name}-${i}`} className={s.line} data-testid={testIds.appConfig.healthLine}>
            <Icon name={icon[r.status].name} className={s[r.status]} aria-label={icon[r.status].label} />
            <span>
              <strong>{r.name}</strong>
              {r.version ? ` ${r.version}` : ''}
              {r.probed ? <span className={s.weak}> ({r.latencyMs} ms)</span> : null}: {r.message}
            </span>
          </li>
        ))}
      </ul>
    </Alert>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  list: css({ listStyle: 'none', margin: 0, padding: 0 }),
  line: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'baseline', padding: theme.spacing(0.25, 0) }),
  weak: css({ color: theme.colors.text.secondary }),
  ok: css({ color: theme.colors.success.text, flexShrink: 0 }),
  warning: css({ color: theme.colors.warning.text, flexShrink: 0 }),
  error: css({ color: theme.colors.error.text, flexShrink: 0 }),
  disabled: css({ color: theme.colors.text.secondary, flexShrink: 0 }),
});
