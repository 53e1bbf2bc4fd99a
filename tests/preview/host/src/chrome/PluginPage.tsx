/*
 * The PluginPage the preview host gives @grafana/runtime (setPluginPage), a
 * stand-in for Grafana's page chrome: breadcrumbs from plugin.json's
 * includes, the page title (pageNav or the include's name), subtitle, info
 * and actions, then the page. Grafana's real chrome differs in layout.
 */
import React from 'react';
import { Link, useLocation } from 'react-router-dom';
import { css } from '@emotion/css';
import { type GrafanaTheme2, PageLayoutType } from '@grafana/data';
import type { PluginPageProps } from '@grafana/runtime';
import { useStyles2 } from '@grafana/ui';
import { includePath, previewBoot } from '../boot';

export function PreviewPluginPage({
  children,
  pageNav,
  subTitle,
  actions,
  info,
  renderTitle,
  layout,
}: PluginPageProps) {
  const styles = useStyles2(getStyles);
  const { pathname } = useLocation();
  const boot = previewBoot();
  if (layout === PageLayoutType.Custom) {
    return <>{children}</>;
  }
  const include = (boot.plugin.includes ?? [])
    .filter((inc) => inc.type === 'page' && includePath(inc, boot.pluginId))
    .sort((a, b) => includePath(b, boot.pluginId).length - includePath(a, boot.pluginId).length)
    .find(
      (inc) =>
        pathname === includePath(inc, boot.pluginId) || pathname.startsWith(includePath(inc, boot.pluginId) + '/')
    );
  const title = pageNav?.text ?? include?.name ?? boot.plugin.name;
  const crumbs: Array<{ text: string; url?: string }> = [{ text: boot.plugin.name, url: `/a/${boot.pluginId}` }];
  if (include) {
    crumbs.push({ text: include.name, url: includePath(include, boot.pluginId) });
  }
  if (pageNav && pageNav.text !== include?.name) {
    crumbs.push({ text: pageNav.text, url: pageNav.url });
  }
  return (
    <div className={styles.page} data-testid="preview plugin-page">
      <nav aria-label="Breadcrumbs" className={styles.crumbs}>
        {crumbs.map((c, i) => (
          <span key={i}>
            {i > 0 && <span aria-hidden> › </span>}
            {c.url && i < crumbs.length - 1 ? (
              <Link to={c.url}>{c.text}</Link>
            ) : (
              <span aria-current={i === crumbs.length - 1 ? 'page' : undefined}>{c.text}</span>
            )}
          </span>
        ))}
      </nav>
      <div className={styles.header}>
        <div className={styles.titles}>
          {renderTitle ? renderTitle(title) : <h1 className={styles.title}>{title}</h1>}
          {pageNav?.subTitle && !subTitle && <div className={styles.subTitle}>{pageNav.subTitle}</div>}
          {subTitle && <div className={styles.subTitle}>{subTitle}</div>}
          {info && info.length > 0 && (
            <dl className={styles.info}>
              {info.map((item, i) => (
                <div key={i} className={styles.infoItem}>
                  <dt>{item.label}</dt>
                  <dd>{item.value}</dd>
                </div>
              ))}
            </dl>
          )}
        </div>
        {actions && <div className={styles.actions}>{actions}</div>}
      </div>
      <div className={styles.content}>{children}</div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  page: css({
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(2),
    padding: theme.spacing(2, 3),
    minWidth: 0,
  }),
  crumbs: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    a: { color: theme.colors.text.link, textDecoration: 'underline' },
  }),
  header: css({
    display: 'flex',
    flexWrap: 'wrap',
    justifyContent: 'space-between',
    gap: theme.spacing(2),
    alignItems: 'flex-start',
  }),
  titles: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1) }),
  title: css({ margin: 0, fontSize: theme.typography.h2.fontSize }),
  subTitle: css({ color: theme.colors.text.secondary }),
  info: css({
    display: 'flex',
    gap: theme.spacing(3),
    margin: 0,
    dt: { color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize },
    dd: { margin: 0 },
  }),
  infoItem: css({ display: 'flex', flexDirection: 'column' }),
  actions: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'center' }),
  content: css({ minWidth: 0 }),
});
