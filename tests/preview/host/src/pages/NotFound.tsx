import React from 'react';
import { Link } from 'react-router-dom';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';

export function NotFound() {
  const styles = useStyles2(getStyles);
  return (
    <div className={styles.page}>
      <h1>Page not found</h1>
      <p>
        The preview host serves the plugin&apos;s pages only. <Link to="/">See all pages</Link>.
      </p>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({ page: css({ padding: theme.spacing(2, 3) }) });
