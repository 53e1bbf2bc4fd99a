/*
 * The MeshWatch preview host page (not Grafana). It sets @grafana/runtime's
 * services, then renders the plugin's pages from the built dist/module.js,
 * inside a frame that says what it is.
 */
import React, { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Route, Router, Routes } from 'react-router-dom';
import { ThemeContext, createTheme } from '@grafana/data';
import { ThemeChangedEvent, config, getAppEvents, locationService } from '@grafana/runtime';
import { GlobalStyles } from '@grafana/ui';
import { THEME_COOKIE, setCookie } from './boot';
import { Layout } from './chrome/Layout';
import { Toasts } from './chrome/Toasts';
import { ExtensionModalHost } from './extensions';
import { AppRootPage } from './pages/AppRootPage';
import { HomePage } from './pages/HomePage';
import { NotFound } from './pages/NotFound';
import { DashboardPlaceholderPage } from './pages/DashboardPlaceholderPage';
import { PanelPreviewPage } from './pages/PanelPreviewPage';
import { PluginDetailsPage } from './pages/PluginDetailsPage';
import { installServices } from './services/install';

installServices();

type Mode = 'light' | 'dark';

function useHistoryLocation() {
  const history = locationService.getHistory();
  const [location, setLocation] = useState(history.location);
  useEffect(() => history.listen((loc: typeof history.location) => setLocation(loc)), [history]);
  return { history, location };
}

function HostApp() {
  const [mode, setMode] = useState<Mode>(config.theme2.isLight ? 'light' : 'dark');
  const theme = useMemo(() => createTheme({ colors: { mode } }), [mode]);
  const { history, location } = useHistoryLocation();

  const changeMode = (next: Mode) => {
    setCookie(THEME_COOKIE, next);
    setMode(next);
  };

  useEffect(() => {
    // What Grafana does when the user switches theme.
    config.theme2 = theme;
    config.theme = theme.v1;
    config.bootData.user.theme = theme.colors.mode;
    config.bootData.user.lightTheme = theme.isLight;
    document.documentElement.classList.toggle('theme-light', theme.isLight);
    document.documentElement.classList.toggle('theme-dark', theme.isDark);
    document.documentElement.style.colorScheme = theme.colors.mode;
    getAppEvents().publish(new ThemeChangedEvent(theme));
  }, [theme]);

  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <Router location={location} navigator={history}>
        <Layout mode={mode} onModeChange={changeMode}>
          <Routes>
            <Route path="/" element={<HomePage />} />
            <Route path="/a/:pluginId/*" element={<AppRootPage />} />
            <Route path="/plugins/:pluginId" element={<PluginDetailsPage />} />
            <Route path="/preview/panel" element={<PanelPreviewPage />} />
            <Route path="/d/:uid/*" element={<DashboardPlaceholderPage />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Layout>
        <ExtensionModalHost />
        <Toasts />
      </Router>
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('preview-root')!).render(<HostApp />);
