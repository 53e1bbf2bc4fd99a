/* /: the preview host's index of every page, per role. */
import React from 'react';
import { Link } from 'react-router-dom';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';
import { currentRole, includePath, previewBoot, roleAtLeast } from '../boot';

export function HomePage() {
  const styles = useStyles2(getStyles);
  const boot = previewBoot();
  const role = currentRole();
  const pages = (boot.plugin.includes ?? []).filter((inc) => inc.type === 'page');
  return (
    <div className={styles.page}>
      <h1 className={styles.title}>{boot.plugin.name} in the preview host</h1>
      <p className={styles.text}>
        This page is served by <code>meshwatch preview</code>, a preview host, not Grafana. It loads the built plugin (
        <code>dist/module.js</code>) the way Grafana does and runs its real backend; pick a role and a theme above.
      </p>
      <ul className={styles.list}>
        {pages.map((inc) => (
          <li key={inc.name}>
            <Link to={includePath(inc, boot.pluginId)}>{inc.name}</Link>
            {!roleAtLeast(role, inc.role) && (
              <span className={styles.muted}>
                {' '}
                (needs {inc.role}; not in the nav for {role})
              </span>
            )}
          </li>
        ))}
        <li>
          <Link to="/preview/panel">Dashboard panel menu (stand-in)</Link>
        </li>
      </ul>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({ padding: theme.spacing(2, 3), maxWidth: 900 }),
  title: css({ fontSize: theme.typography.h2.fontSize }),
  text: css({ color: theme.colors.text.primary }),
  list: css({ lineHeight: 2 }),
  muted: css({ color: theme.colors.text.secondary }),
});
