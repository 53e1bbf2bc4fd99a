import React, { useCallback } from 'react';
import { usePluginContext } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import type { AppSettings } from '../api/types';
import type { Canary } from '../api/wire/canaries';
import { testIds } from '../components/testIds';
import { CanariesView, decide, useCanariesStream } from '../components/Canaries';
import { useSignOffRole } from '../components/SignOff';

/** Canaries: Flagger's canaries live, with promotion and rollback gated on a recorded sign-off. */
export default function Canaries() {
  const stream = useCanariesStream();
  const { canDecide, role } = useSignOffRole();
  const jsonData = usePluginContext()?.meta?.jsonData as AppSettings | undefined;
  const onDecide = useCallback(async (c: Canary, decision: 'promote' | 'rollback', comment: string) => {
    await decide(c.namespace, c.name, decision, comment);
  }, []);
  return (
    <PluginPage>
      <div data-testid={testIds.canaries.container}>
        <CanariesView stream={stream} canDecide={canDecide} role={role} jsonData={jsonData} onDecide={onDecide} />
      </div>
    </PluginPage>
  );
}
