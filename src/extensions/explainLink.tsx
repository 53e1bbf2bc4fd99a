/**
 * "Explain this panel": a link in every dashboard panel's menu (Extensions ▸)
 * that explains the panel with the local model. Grafana offers a link only
 * when plugin.json's extensions.addedLinks declares it with the same title
 * and target, so EXPLAIN_TITLE must match that entry (a test checks it).
 */
import React, { Suspense, lazy } from 'react';
import { type PluginExtensionAddedLinkConfig, PluginExtensionPoints } from '@grafana/data';
import { LoadingPlaceholder } from '@grafana/ui';
import { type PanelContext, canExplain, panelTitle } from './panel';

export const EXPLAIN_TITLE = 'Explain this panel';
export const EXPLAIN_DESCRIPTION =
  'Summarize what changed in this panel’s series and explain it with your local LLM (the points never leave your network)';

// The modal (and its summary code) loads when the link is first clicked.
const ExplainModal = lazy(() => import('./ExplainModal').then((m) => ({ default: m.ExplainModal })));

export const explainLink: PluginExtensionAddedLinkConfig<PanelContext> = {
  title: EXPLAIN_TITLE,
  description: EXPLAIN_DESCRIPTION,
  targets: [PluginExtensionPoints.DashboardPanelMenu],
  icon: 'ai-sparkle',
  // Hidden on panels it cannot explain (UNEXPLAINED_PANEL_TYPES) and on
  // panels without a Prometheus or Loki query.
  configure: (context) => (canExplain(context) ? {} : undefined),
  onClick: (_event, { context, openModal }) => {
    if (!context) {
      return;
    }
    openModal({
      title: `Explain: ${panelTitle(context) || 'panel'}`,
      width: '75%',
      body: () => (
        <Suspense fallback={<LoadingPlaceholder text="Loading…" />}>
          <ExplainModal context={context} />
        </Suspense>
      ),
    });
  },
};
