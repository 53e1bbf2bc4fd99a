/*
 * The preview host's frame around every page: a banner that says what this
 * is (not Grafana), the role and theme switches, and a nav built from
 * plugin.json's includes.
 */
import React from 'react';
import { NavLink } from 'react-router-dom';
import { css, cx } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { config } from '@grafana/runtime';
import { Icon, type IconName, RadioButtonGroup, useStyles2 } from '@grafana/ui';
import {
  type OrgRole,
  ROLES,
  ROLE_COOKIE,
  currentRole,
  includePath,
  previewBoot,
  roleAtLeast,
  setCookie,
} from '../boot';

export interface LayoutProps {
  mode: 'light' | 'dark';
  onModeChange: (mode: 'light' | 'dark') => void;
  children: React.ReactNode;
}

export function Layout({ mode, onModeChange, children }: LayoutProps) {
  const styles = useStyles2(getStyles);
  const boot = previewBoot();
  const role = currentRole();
  const user = config.bootData.user;
  const navItems = (boot.plugin.includes ?? [])
    .filter((inc) => inc.type === 'page' && inc.addToNav && roleAtLeast(role, inc.role))
    .map((inc) => ({
      text: inc.name,
      url: includePath(inc, boot.pluginId),
      icon: (inc.icon as IconName) || undefined,
    }));

  const changeRole = (next: OrgRole) => {
    // The server signs every request in as this role (a cookie, in place of
    // Grafana's session), so the page reloads to get the new boot data.
    setCookie(ROLE_COOKIE, next);
    window.location.reload();
  };

  return (
    <div className={styles.frame}>
      <header className={styles.banner} data-testid="preview banner">
        <div className={styles.brand}>
          <Icon name="exclamation-triangle" aria-hidden />
          <strong>MeshWatch preview host — not Grafana</strong>
          <span className={styles.muted}>
            plugin {boot.plugin.info?.version} · @grafana packages {boot.grafanaVersion}
          </span>
        </div>
        <div className={styles.controls}>
          <div role="group" aria-label="Signed-in role" className={styles.control}>
            <span className={styles.muted} aria-hidden>
              {user.name} as
            </span>
            <RadioButtonGroup
              size="sm"
              options={ROLES.map((r) => ({ label: r, value: r, description: `Sign in as a ${r}` }))}
              value={role}
              onChange={(v) => changeRole(v as OrgRole)}
            />
          </div>
          <div role="group" aria-label="Theme" className={styles.control}>
            <RadioButtonGroup
              size="sm"
              options={[
                { label: 'Light', value: 'light', icon: 'sun' },
                { label: 'Dark', value: 'dark', icon: 'moon' },
              ]}
              value={mode}
              onChange={(v) => onModeChange(v as 'light' | 'dark')}
            />
          </div>
        </div>
      </header>
      <div className={styles.body}>
        <nav aria-label="MeshWatch" className={styles.nav}>
          <div className={styles.navTitle}>{boot.plugin.name}</div>
          <ul className={styles.navList}>
            {navItems.map((item) => (
              <li key={item.url}>
                <NavLink to={item.url} className={({ isActive }) => cx(styles.navLink, isActive && styles.navActive)}>
                  {item.icon && <Icon name={item.icon} aria-hidden />}
                  {item.text}
                </NavLink>
              </li>
            ))}
          </ul>
          <div className={styles.navTitle}>Preview host</div>
          <ul className={styles.navList}>
            <li>
              <NavLink
                to="/preview/panel"
                className={({ isActive }) => cx(styles.navLink, isActive && styles.navActive)}
              >
                <Icon name="apps" aria-hidden />
                Panel menu stand-in
              </NavLink>
            </li>
            <li>
              <NavLink to="/" end className={({ isActive }) => cx(styles.navLink, isActive && styles.navActive)}>
                <Icon name="list-ul" aria-hidden />
                All pages
              </NavLink>
            </li>
          </ul>
        </nav>
        <main className={styles.main} id="preview-main">
          {children}
        </main>
      </div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  frame: css({
    display: 'flex',
    flexDirection: 'column',
    minHeight: '100vh',
    background: theme.colors.background.canvas,
  }),
  banner: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(2),
    alignItems: 'center',
    justifyContent: 'space-between',
    padding: theme.spacing(1, 2),
    background: theme.colors.warning.transparent,
    borderBottom: `2px solid ${theme.colors.warning.border}`,
    color: theme.colors.text.primary,
  }),
  brand: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'center', flexWrap: 'wrap' }),
  muted: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
  controls: css({ display: 'flex', gap: theme.spacing(2), alignItems: 'center', flexWrap: 'wrap' }),
  control: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'center' }),
  body: css({ display: 'flex', flex: 1, minHeight: 0 }),
  nav: css({
    width: 220,
    flexShrink: 0,
    padding: theme.spacing(2, 1),
    background: theme.colors.background.primary,
    borderRight: `1px solid ${theme.colors.border.weak}`,
  }),
  navTitle: css({
    padding: theme.spacing(1, 1, 0.5),
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    textTransform: 'uppercase',
  }),
  navList: css({ listStyle: 'none', margin: theme.spacing(0, 0, 2), padding: 0 }),
  navLink: css({
    display: 'flex',
    gap: theme.spacing(1),
    alignItems: 'center',
    padding: theme.spacing(0.75, 1),
    borderRadius: theme.shape.radius.default,
    color: theme.colors.text.primary,
    '&:hover': { background: theme.colors.action.hover },
  }),
  navActive: css({ background: theme.colors.action.selected, fontWeight: theme.typography.fontWeightMedium }),
  main: css({ flex: 1, minWidth: 0 }),
});
