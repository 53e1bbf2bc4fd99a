/* Grafana's alert toasts (appEvents alert-success / alert-error / alert-warning). */
import React, { useEffect, useState } from 'react';
import { css } from '@emotion/css';
import { AppEvents, type BusEvent, type BusEventType, type GrafanaTheme2 } from '@grafana/data';
import { getAppEvents } from '@grafana/runtime';
import { Alert, useStyles2 } from '@grafana/ui';

interface Toast {
  id: number;
  severity: 'success' | 'error' | 'warning';
  title: string;
  text?: string;
}

let nextId = 1;

export function Toasts() {
  const styles = useStyles2(getStyles);
  const [toasts, setToasts] = useState<Toast[]>([]);
  useEffect(() => {
    const kinds: Array<[string, Toast['severity']]> = [
      [AppEvents.alertSuccess.name, 'success'],
      [AppEvents.alertError.name, 'error'],
      [AppEvents.alertWarning.name, 'warning'],
    ];
    const subs = kinds.map(([type, severity]) =>
      getAppEvents()
        .getStream({ type } as unknown as BusEventType<BusEvent>)
        .subscribe((ev) => {
          const [title, text] = (ev.payload ?? []) as unknown[];
          const toast = { id: nextId++, severity, title: String(title ?? ''), text: text ? String(text) : undefined };
          setToasts((t) => [...t, toast]);
          setTimeout(() => setToasts((t) => t.filter((x) => x.id !== toast.id)), 6000);
        })
    );
    return () => subs.forEach((s) => s.unsubscribe());
  }, []);
  if (toasts.length === 0) {
    return null;
  }
  return (
    <div className={styles.list} role="status">
      {toasts.map((t) => (
        <Alert
          key={t.id}
          severity={t.severity}
          title={t.title}
          onRemove={() => setToasts((x) => x.filter((y) => y.id !== t.id))}
        >
          {t.text}
        </Alert>
      ))}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  list: css({
    position: 'fixed',
    top: theme.spacing(8),
    right: theme.spacing(2),
    width: 400,
    zIndex: theme.zIndex.portal,
  }),
});
