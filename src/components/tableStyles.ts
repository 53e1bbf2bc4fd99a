import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';

/** The plain, theme-aware table the Incidents page's lists share. */
export const tableStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({ overflowX: 'auto' }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    'th, td': {
      textAlign: 'left',
      verticalAlign: 'top',
      padding: theme.spacing(1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: {
      color: theme.colors.text.secondary,
      fontWeight: theme.typography.fontWeightMedium,
      whiteSpace: 'nowrap',
    },
  }),
});
